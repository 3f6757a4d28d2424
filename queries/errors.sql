-- title: Failed requests
-- description: Requests that returned an error, newest first.
-- param model: Only requests to this model, such as claude-3-5-sonnet-20240620. Empty: every model.
select
    started_at,
    model,
    error_code,
    error_detail,
    client_error,
    model_latency,
    workspace_id,
    api_key_uuid,
    content_hash
from logs
where (error_code is not null or error_detail is not null)
    and (ifnull(:model, '') = '' or model = :model)
order by started_at desc

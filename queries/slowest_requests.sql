-- title: Slowest requests
-- description: Requests ranked by model latency, slowest first. Requests without a latency are left out.
-- param model: Only requests to this model. Empty: every model.
-- param limit: Number of rows to return. Empty: 100.
select
    model_latency,
    started_at,
    model,
    prompt_token_count,
    completion_token_count,
    error_code,
    workspace_id,
    content_hash
from logs
where model_latency is not null
    and (ifnull(:model, '') = '' or model = :model)
order by model_latency desc
limit cast(coalesce(nullif(:limit, ''), 100) as integer)

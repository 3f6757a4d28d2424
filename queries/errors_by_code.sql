-- title: Errors by status code
-- description: How often each error code and detail occurred, most frequent first, with the first and last time it was seen.
-- param model: Only requests to this model. Empty: every model.
select
    error_code,
    error_detail,
    count(*) as count,
    min(started_at) as first_seen,
    max(started_at) as last_seen
from logs
where (error_code is not null or error_detail is not null)
    and (ifnull(:model, '') = '' or model = :model)
group by error_code, error_detail
order by count desc, error_code, error_detail

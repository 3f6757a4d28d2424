-- title: Error rates over time
-- description: Requests, errors and the error rate per day (or hour) and model, newest first, with a JSON object of error counts by status code. A failed request without a status code counts under "none".
-- param bucket: "hour" for one row per hour and model (2024-10-09T05). Anything else: one row per day and model (2024-10-09).
-- param since: Only requests started at or after this UTC time, such as 2024-10-09 or 2024-10-09T05:00. Empty: no lower bound.
-- param until: Only requests started before this UTC time. Empty: no upper bound.
-- Counting per hour first lets SQLite read every request in the order of the index
-- logs_hour_model without sorting them, and the failed ones from the small partial index
-- logs_failed, which the planner would otherwise pass over for the hour index.
with hourly as (
    select substr(started_at, 1, 13) as hour, model, count(*) as requests
    from logs
    where (ifnull(:since, '') = '' or started_at >= replace(:since, ' ', 'T'))
        and (ifnull(:until, '') = '' or started_at < replace(:until, ' ', 'T'))
    group by substr(started_at, 1, 13), model
),
failed as (
    select substr(started_at, 1, 13) as hour, model, ifnull(error_code, 'none') as code, count(*) as errors
    from logs indexed by logs_failed
    where (error_code is not null or error_detail is not null)
        and (ifnull(:since, '') = '' or started_at >= replace(:since, ' ', 'T'))
        and (ifnull(:until, '') = '' or started_at < replace(:until, ' ', 'T'))
    group by hour, model, code
),
buckets as (
    select substr(hour, 1, case ifnull(:bucket, '') when 'hour' then 13 else 10 end) as bucket,
        model, sum(requests) as requests
    from hourly
    group by bucket, model
),
failed_buckets as (
    select bucket, model, sum(errors) as errors, json_group_object(code, errors) as errors_by_code
    from (
        select substr(hour, 1, case ifnull(:bucket, '') when 'hour' then 13 else 10 end) as bucket,
            model, code, sum(errors) as errors
        from failed
        group by bucket, model, code
    )
    group by bucket, model
)
select
    buckets.bucket,
    buckets.model,
    buckets.requests,
    ifnull(failed_buckets.errors, 0) as errors,
    round(1.0 * ifnull(failed_buckets.errors, 0) / buckets.requests, 4) as error_rate,
    ifnull(failed_buckets.errors_by_code, '{}') as errors_by_code
from buckets
left join failed_buckets
    on failed_buckets.bucket = buckets.bucket and failed_buckets.model is buckets.model
order by buckets.bucket desc, buckets.model

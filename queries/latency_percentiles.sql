-- title: Latency percentiles by model
-- description: Nearest-rank percentiles of model latency in seconds per model: the p-th percentile is the smallest latency with at least p% of the model's latencies at or below it. Requests without a latency are left out; n is the number counted.
-- param since: Only requests started at or after this UTC time, such as 2024-10-09 or 2024-10-09T05:00. Empty: no lower bound.
-- param until: Only requests started before this UTC time. Empty: no upper bound.
-- SQLite has no percentile function, and window functions over a million rows take
-- seconds. Instead this walks each model's rows in the order of the index
-- logs_model_latency (model, model_latency, started_at), jumping 10,000, 100 or 1 rows at a
-- time with a constant OFFSET, and stops at each rank it needs. A jump starts after the row
-- the previous one ended on, identified by its (model_latency, started_at, rowid), so rows
-- with equal latencies are neither skipped nor counted twice.
with recursive
counts as materialized (
    select model, count(*) as n, max(model_latency) as max
    from logs
    where model_latency is not null
        and (ifnull(:since, '') = '' or started_at >= replace(:since, ' ', 'T'))
        and (ifnull(:until, '') = '' or started_at < replace(:until, ' ', 'T'))
    group by model
),
-- The nearest rank of the p-th percentile of n values is ceil(p * n / 100).
ranks as materialized (
    select model, 50 as percentile, (50 * n + 99) / 100 as rank from counts
    union all select model, 90, (90 * n + 99) / 100 from counts
    union all select model, 95, (95 * n + 99) / 100 from counts
    union all select model, 99, (99 * n + 99) / 100 from counts
),
-- One row per stop: the row at `rank` in the model's latency order.
walk(model, rank, latency, started_at, id) as (
    select counts.model, 1, logs.model_latency, ifnull(logs.started_at, ''), logs.rowid
    from counts
    join logs on logs.rowid = (
        select rowid from logs
        where model is counts.model
            and model_latency is not null
            and (ifnull(:since, '') = '' or started_at >= replace(:since, ' ', 'T'))
            and (ifnull(:until, '') = '' or started_at < replace(:until, ' ', 'T'))
        order by model_latency, started_at, rowid
        limit 1
    )
    union all
    select walk.model, walk.rank + 10000, logs.model_latency, ifnull(logs.started_at, ''), logs.rowid
    from walk
    join logs on logs.rowid = (
        select rowid from logs
        where model is walk.model
            and model_latency >= walk.latency
            and (model_latency > walk.latency or ifnull(started_at, '') > walk.started_at
                or (ifnull(started_at, '') = walk.started_at and rowid > walk.id))
            and (ifnull(:since, '') = '' or started_at >= replace(:since, ' ', 'T'))
            and (ifnull(:until, '') = '' or started_at < replace(:until, ' ', 'T'))
        order by model_latency, started_at, rowid
        limit 1 offset 9999
    )
    where walk.rank + 10000 <= (
        select min(rank) from ranks where ranks.model is walk.model and ranks.rank > walk.rank
    )
    union all
    select walk.model, walk.rank + 100, logs.model_latency, ifnull(logs.started_at, ''), logs.rowid
    from walk
    join logs on logs.rowid = (
        select rowid from logs
        where model is walk.model
            and model_latency >= walk.latency
            and (model_latency > walk.latency or ifnull(started_at, '') > walk.started_at
                or (ifnull(started_at, '') = walk.started_at and rowid > walk.id))
            and (ifnull(:since, '') = '' or started_at >= replace(:since, ' ', 'T'))
            and (ifnull(:until, '') = '' or started_at < replace(:until, ' ', 'T'))
        order by model_latency, started_at, rowid
        limit 1 offset 99
    )
    where walk.rank + 100 <= (
        select min(rank) from ranks where ranks.model is walk.model and ranks.rank > walk.rank
    )
    and walk.rank + 10000 > (
        select min(rank) from ranks where ranks.model is walk.model and ranks.rank > walk.rank
    )
    union all
    select walk.model, walk.rank + 1, logs.model_latency, ifnull(logs.started_at, ''), logs.rowid
    from walk
    join logs on logs.rowid = (
        select rowid from logs
        where model is walk.model
            and model_latency >= walk.latency
            and (model_latency > walk.latency or ifnull(started_at, '') > walk.started_at
                or (ifnull(started_at, '') = walk.started_at and rowid > walk.id))
            and (ifnull(:since, '') = '' or started_at >= replace(:since, ' ', 'T'))
            and (ifnull(:until, '') = '' or started_at < replace(:until, ' ', 'T'))
        order by model_latency, started_at, rowid
        limit 1
    )
    where walk.rank + 100 > (
        select min(rank) from ranks where ranks.model is walk.model and ranks.rank > walk.rank
    )
)
select
    counts.model,
    counts.n,
    max(case ranks.percentile when 50 then walk.latency end) as p50,
    max(case ranks.percentile when 90 then walk.latency end) as p90,
    max(case ranks.percentile when 95 then walk.latency end) as p95,
    max(case ranks.percentile when 99 then walk.latency end) as p99,
    counts.max
from counts
join ranks on ranks.model is counts.model
join walk on walk.model is ranks.model and walk.rank = ranks.rank
group by counts.model
order by counts.model

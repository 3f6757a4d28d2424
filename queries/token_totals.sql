-- title: Token totals
-- description: Requests and prompt and completion tokens per day, model, workspace and API key, newest day first.
-- param since: Only requests started at or after this UTC time, such as 2024-10-09. Empty: no lower bound.
-- param until: Only requests started before this UTC time. Empty: no upper bound.
select
    substr(started_at, 1, 10) as day,
    model,
    workspace_id,
    api_key_uuid,
    count(*) as requests,
    sum(prompt_token_count) as prompt_tokens,
    sum(completion_token_count) as completion_tokens
from logs
where (ifnull(:since, '') = '' or started_at >= replace(:since, ' ', 'T'))
    and (ifnull(:until, '') = '' or started_at < replace(:until, ' ', 'T'))
-- Grouping by the same expression as the index logs_day_usage lets SQLite read the rows in
-- index order instead of sorting all of them.
group by substr(started_at, 1, 10), model, workspace_id, api_key_uuid
order by day desc, model, workspace_id, api_key_uuid

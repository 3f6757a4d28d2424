-- title: Slowest requests with small prompts
-- description: Requests whose prompt has fewer tokens than a bound, ranked by model latency, slowest first. Their latency is not explained by the prompt's size.
-- param model: Only requests to this model. Empty: every model.
-- param max_prompt_tokens: Keep prompts with fewer tokens than this. Empty: 10.
-- param limit: Number of rows to return. Empty: 100.
select
    model_latency,
    prompt_token_count,
    completion_token_count,
    started_at,
    model,
    error_code,
    workspace_id,
    content_hash
from logs
where model_latency is not null
    and prompt_token_count < cast(coalesce(nullif(:max_prompt_tokens, ''), 10) as integer)
    and (ifnull(:model, '') = '' or model = :model)
order by model_latency desc
limit cast(coalesce(nullif(:limit, ''), 100) as integer)

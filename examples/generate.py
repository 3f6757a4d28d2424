"""Write the bundled synthetic sample in examples/logs/: overlapping Console log pages.

The pages are made up (ids included) and seeded, so running this again writes the same bytes:

    python examples/generate.py examples/logs
"""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

MODELS = {
    "claude-3-5-sonnet-20240620": 2.2,
    "claude-3-5-haiku-20241022": 0.9,
    "claude-3-opus-20240229": 5.5,
}
WORKSPACES = ["default", "wrkspc_01DEMOWORKSPACE00000001", "wrkspc_01DEMOWORKSPACE00000002"]
API_KEYS = [None, "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]
ERRORS = [
    (400, True, "max_tokens: Field required"),
    (429, True, "Number of request tokens has exceeded your per-minute rate limit"),
    (500, False, "Internal server error"),
    (529, False, "Overloaded"),
]
PAGE_SIZE = 100


def make_entry(rng: random.Random, moment: datetime) -> dict:
    model = rng.choice(list(MODELS))
    prompt_tokens = rng.choice([rng.randint(1, 9), rng.randint(10, 4000)])
    completion_tokens = rng.randint(1, 1200)
    error = "None"
    latency = round(rng.lognormvariate(0, 0.6) * MODELS[model], 6)
    if rng.random() < 0.06:
        code, client_error, detail = rng.choice(ERRORS)
        error = json.dumps(
            {"client_error": client_error, "code": code, "detail": detail}, separators=(",", ":")
        )
        completion_tokens = 0
    request = {"max_tokens": rng.choice([1, 256, 1024, 8192]), "model": model,
               "temperature": rng.choice([0, 0.7, 1])}
    if rng.random() < 0.5:
        request["metadata"] = {"user_id": f"demo-user-{rng.randint(1, 12):04d}"}
    if rng.random() < 0.3:
        request["stream"] = True
    return {
        "transport_type": "http",
        "model": model,
        "model_latency": None if rng.random() < 0.01 else latency,
        "prompt": None,
        "prompt_length": prompt_tokens * 4,
        "prompt_token_count": prompt_tokens,
        "completion_length": completion_tokens * 4,
        "completion_token_count": completion_tokens,
        "response": None,
        "tags": "{}",
        "error": error,
        # str() of an aware datetime drops the fraction when microseconds are 0, as the Console does.
        "request_start_time": str(moment),
        "request": json.dumps(request, separators=(",", ":")),
        "workspace_id": rng.choice(WORKSPACES),
        "api_key_uuid": rng.choice(API_KEYS),
    }


def main(out: Path, entries: int = 460, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = datetime(2024, 10, 3, tzinfo=timezone.utc)
    moments = sorted(
        start + timedelta(seconds=rng.randint(0, 6 * 86400),
                          microseconds=0 if rng.random() < 0.05 else rng.randint(1, 999999))
        for _ in range(entries)
    )
    log = [make_entry(rng, moment) for moment in moments]
    out.mkdir(parents=True, exist_ok=True)
    # Three downloads of the newest pages on different days: each later download includes the entries
    # that arrived since, so its pages overlap the earlier ones.
    for day, visible in enumerate((entries - 170, entries - 75, entries), start=1):
        newest_first = log[:visible][::-1]
        for index in range(0, min(visible, 3 * PAGE_SIZE), PAGE_SIZE):
            page = newest_first[index:index + PAGE_SIZE]
            path = out / f"day{day}-page_index-{index // PAGE_SIZE}.json"
            path.write_text(json.dumps(page, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "examples/logs"))

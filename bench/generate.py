"""Generate a folder of synthetic Console log pages, seeded and sized by distinct entry count.

The pages imitate what users collect by hand: at each download session they save the newest
pages (100 entries each, newest first) back to where the previous session ended, and some
pages they already had. Entries that arrived in between shift every page, so a page saved
again later overlaps its earlier copy only in part. Entries keep the Console's keys and
value forms: `error` and `request` are JSON encoded as strings, and `request_start_time` is
Python's str() of an aware UTC datetime, which drops the fraction when microseconds are 0.

Usage: python bench/generate.py OUT_DIR --entries N --seed S [--overlap F]

The output has exactly N distinct entries and N + round(N * F) entries over all files.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

PAGE_SIZE = 100

# Weights and lognormal latency parameters (median seconds, sigma) per model.
MODELS = [
    ("claude-3-5-sonnet-20240620", 30, 3.2, 0.55),
    ("claude-3-5-sonnet-20241022", 28, 3.0, 0.55),
    ("claude-3-5-haiku-20241022", 20, 1.4, 0.5),
    ("claude-3-haiku-20240307", 14, 0.9, 0.45),
    ("claude-3-opus-20240229", 8, 7.5, 0.6),
]

# HTTP status, weight among errors, client_error flag, detail.
ERRORS = [
    (400, 15, True, "messages: text content blocks must be non-empty"),
    (429, 35, True, "Number of request tokens has exceeded your per-minute rate limit"),
    (500, 15, False, "Internal server error"),
    (529, 30, False, "Overloaded"),
    (499, 5, True, "Client disconnected"),
]

MAX_TOKENS_CHOICES = [1, 256, 1024, 4096, 8192]
MAX_TOKENS_WEIGHTS = [3, 20, 35, 27, 15]

# Mean seconds between two requests.
MEAN_INTERARRIVAL_S = 6.0
START = datetime(2024, 9, 2, 8, 0, tzinfo=timezone.utc)


@dataclass
class Session:
    """One download session: the log contains `log_size` entries and the user saves `pages` pages."""

    log_size: int
    pages: int


def plan_sessions(entries: int, overlap: float, rng: random.Random) -> list[Session]:
    """Plan sessions whose pages hold exactly entries * (1 + overlap) entries, rounded.

    A session after the first saves its new entries, which costs (-new) mod 100 repeated
    entries because the oldest saved page also reaches into older entries, plus whole extra
    pages saved again. The number of sessions is kept small enough that these partial pages
    never exceed the repeats asked for, and the last session's size settles the remainder.
    """
    if entries < 1:
        raise ValueError("--entries must be at least 1")
    if overlap < 0:
        raise ValueError("--overlap must be 0 or more")
    repeats = round(entries * overlap)
    # About 2,000 new entries a session, so about 20 new pages, as a daily download would be.
    later_sessions = min(repeats // PAGE_SIZE, entries // 2000)
    if repeats and later_sessions == 0:
        later_sessions = 1
    if later_sessions == 0:
        return [Session(entries, math.ceil(entries / PAGE_SIZE))]

    mean_new = entries / (later_sessions + 1)
    new_counts = [max(1, round(mean_new * rng.uniform(0.5, 1.5))) for _ in range(later_sessions)]
    partial = [(-new) % PAGE_SIZE for new in new_counts]
    # The last session's size is adjusted so that the partial-page repeats and whole extra
    # pages add up to the requested repeats exactly.
    before_last = sum(partial[:-1])
    wanted_partial = (repeats - before_last) % PAGE_SIZE
    shift = (partial[-1] - wanted_partial) % PAGE_SIZE
    new_counts[-1] += shift
    partial[-1] = (-new_counts[-1]) % PAGE_SIZE
    extra_pages = (repeats - sum(partial)) // PAGE_SIZE

    first = entries - sum(new_counts)
    if first < PAGE_SIZE:
        raise ValueError(f"--entries {entries} is too few for --overlap {overlap}; "
                         "give more entries or a smaller --overlap")

    extras = [0] * later_sessions
    log_sizes = []
    size = first
    for new in new_counts:
        size += new
        log_sizes.append(size)
    for _ in range(extra_pages):
        # Each session can save again only what its log already contains.
        candidates = [
            i for i, new in enumerate(new_counts)
            if (math.ceil(new / PAGE_SIZE) + extras[i] + 1) * PAGE_SIZE <= log_sizes[i]
        ]
        if not candidates:
            raise ValueError(f"--overlap {overlap} is too large for --entries {entries}; "
                             "give more entries or a smaller --overlap")
        extras[rng.choice(candidates)] += 1

    sessions = [Session(first, math.ceil(first / PAGE_SIZE))]
    for new, extra, log_size in zip(new_counts, extras, log_sizes):
        sessions.append(Session(log_size, math.ceil(new / PAGE_SIZE) + extra))
    return sessions


class EntryMaker:
    """Make entries in time order from one seeded random stream."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.moment = START
        self.error_rate = rng.uniform(0.01, 0.03)
        self.model_names = [model[0] for model in MODELS]
        self.model_weights = [model[1] for model in MODELS]
        self.latency = {name: (math.log(median), sigma) for name, _, median, sigma in MODELS}
        self.workspaces = ["default"] + [
            "wrkspc_01" + "".join(rng.choices("ABCDEFGHJKMNPQRSTVWXYZ0123456789", k=16))
            for _ in range(3)
        ]
        self.keys = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(6)]
        self.users = [f"user-{rng.getrandbits(64):016x}" for _ in range(40)]
        self.error_weights = [error[1] for error in ERRORS]

    def next_moment(self) -> datetime:
        rng = self.rng
        step = timedelta(microseconds=max(1, round(rng.expovariate(1 / MEAN_INTERARRIVAL_S) * 1e6)))
        moment = self.moment + step
        # About one in 200 start times falls on a whole second, so str() prints no fraction.
        if rng.random() < 0.005:
            whole = moment.replace(microsecond=0)
            if whole > self.moment:
                moment = whole
        self.moment = moment
        return moment

    def make(self) -> dict:
        rng = self.rng
        model = rng.choices(self.model_names, self.model_weights)[0]
        moment = self.next_moment()
        max_tokens = rng.choices(MAX_TOKENS_CHOICES, MAX_TOKENS_WEIGHTS)[0]
        stream = rng.random() < 0.3
        if rng.random() < 0.04:
            # Short probes, such as health checks, which the small-prompt question looks at.
            prompt_tokens = rng.randint(4, 9)
        else:
            prompt_tokens = 10 + int(rng.lognormvariate(math.log(600), 1.3))
        completion_tokens = min(max_tokens, 1 + int(rng.lognormvariate(math.log(180), 1.0)))
        mu, sigma = self.latency[model]
        latency = rng.lognormvariate(mu, sigma) * (0.6 + completion_tokens / 1500)

        error = "None"
        if rng.random() < self.error_rate:
            code, _, client_error, detail = rng.choices(ERRORS, self.error_weights)[0]
            error = json.dumps({"client_error": client_error, "code": code, "detail": detail},
                               separators=(",", ":"))
            completion_tokens = 0
            latency = rng.uniform(0.05, 0.6) if code != 499 else rng.uniform(1.0, 30.0)

        request = {"max_tokens": max_tokens, "model": model,
                   "temperature": rng.choice([0, 0, 0.2, 0.7, 1, rng.random()])}
        if rng.random() < 0.8:
            request["metadata"] = {"user_id": rng.choice(self.users)}
        if stream:
            request["stream"] = True
        completion_length = completion_tokens * 4 + rng.randrange(4) if completion_tokens else 0

        return {
            "transport_type": "http",
            "model": model,
            "model_latency": latency,
            "prompt": None,
            "prompt_length": prompt_tokens * 4 + rng.randrange(4),
            "prompt_token_count": prompt_tokens,
            "completion_length": completion_length,
            "completion_token_count": completion_tokens,
            "response": None,
            "tags": "{}",
            "error": error,
            "request_start_time": str(moment),
            "request": json.dumps(request, separators=(",", ":"), sort_keys=True),
            "workspace_id": rng.choice(self.workspaces),
            "api_key_uuid": rng.choice(self.keys) if rng.random() < 0.9 else None,
        }


def generate(out_dir: str | Path, entries: int, seed: int, overlap: float = 0.3) -> dict:
    """Write the pages into out_dir and return counts: files, entries, distinct, repeats.

    Files are named by session time and page index, so their sorted order is the order in
    which they were saved, and their mtime is the session time.
    """
    rng = random.Random(seed)
    sessions = plan_sessions(entries, overlap, rng)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    maker = EntryMaker(rng)

    # Serialised entries by index, oldest first. Entries no later session can reach are
    # dropped, which keeps memory flat whatever the entry count.
    reach = [session.log_size - PAGE_SIZE * session.pages for session in sessions]
    for number in range(len(sessions) - 2, -1, -1):
        reach[number] = min(reach[number], reach[number + 1])
    serialised: dict[int, str] = {}
    made = 0
    files = 0
    saved = 0
    for number, session in enumerate(sessions):
        while made < session.log_size:
            serialised[made] = json.dumps(maker.make(), separators=(",", ":"))
            made += 1
        saved_at = maker.moment + timedelta(minutes=rng.randint(1, 600))
        stamp = saved_at.strftime("%Y-%m-%dT%H%M%S")
        for page_index in range(session.pages):
            newest = session.log_size - 1 - page_index * PAGE_SIZE
            oldest = max(0, newest - PAGE_SIZE + 1)
            text = "[" + ",".join(serialised[i] for i in range(newest, oldest - 1, -1)) + "]"
            path = out / f"{stamp}_page_{page_index:04d}.json"
            path.write_text(text, encoding="utf-8")
            os.utime(path, ns=(int(saved_at.timestamp() * 1e9),) * 2)
            files += 1
            saved += newest - oldest + 1
        if number + 1 < len(sessions):
            for index in [i for i in serialised if i < reach[number + 1]]:
                del serialised[index]
    return {"files": files, "entries": saved, "distinct": entries, "repeats": saved - entries}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder to write the pages into")
    parser.add_argument("--entries", type=int, required=True, help="distinct entries to make")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--overlap", type=float, default=0.3,
                        help="repeated entries as a fraction of --entries (default 0.3)")
    args = parser.parse_args(argv)
    try:
        counts = generate(args.out_dir, args.entries, args.seed, args.overlap)
    except ValueError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    print(f"{counts['files']:,} files, {counts['entries']:,} entries, "
          f"{counts['distinct']:,} distinct, {counts['repeats']:,} repeated")
    return 0


if __name__ == "__main__":
    sys.exit(main())

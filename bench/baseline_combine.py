"""BASELINE, not part of claude-logs: the combine step users run today, for comparison only.

It does what the widely copied approach does, written here from its description: load every
page with the standard json module, drop repeated entries by their json.dumps(sort_keys=True)
text kept in a set, sort by request_start_time newest first, and write the combined list with
json.dump(indent=2). Users then ask jq their questions of that one file (see JQ_QUESTIONS).

Usage: python bench/baseline_combine.py PAGES_DIR OUTPUT_FILE
"""

from __future__ import annotations

import glob
import json
import os
import sys
from datetime import datetime

# The three jq questions users ask of the combined file; {model} is filled in.
JQ_QUESTIONS = {
    "errors for a model":
        '[.[] | select(.model == "{model}" and .error != "None")]',
    "ranked by latency for a model":
        '[.[] | select(.model == "{model}")] | sort_by(.model_latency)',
    "ranked by latency, prompts under 10 tokens":
        '[.[] | select(.model == "{model}" and .prompt_token_count < 10)] | sort_by(.model_latency)',
}


def combine(pages_dir: str, output_file: str) -> int:
    """Write the distinct entries of every page in pages_dir, newest first; return their count."""
    entries = []
    for path in glob.glob(os.path.join(pages_dir, "**", "*.json"), recursive=True):
        with open(path, encoding="utf-8") as file:
            entries.extend(json.load(file))

    seen = set()
    distinct = []
    for entry in entries:
        key = json.dumps(entry, sort_keys=True)
        if key not in seen:
            seen.add(key)
            distinct.append(entry)

    # fromisoformat reads str() of an aware datetime with or without the fraction.
    distinct.sort(key=lambda entry: datetime.fromisoformat(entry["request_start_time"]),
                  reverse=True)
    with open(output_file, "w", encoding="utf-8") as file:
        json.dump(distinct, file, indent=2)
    return len(distinct)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    count = combine(argv[0], argv[1])
    print(f"{count:,} distinct entries written to {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

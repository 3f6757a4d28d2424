"""The benchmark's page generator makes the counts and the overlap it is asked for."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

GENERATE = Path(__file__).resolve().parent.parent / "bench" / "generate.py"
CONSOLE_KEYS = [
    "transport_type", "model", "model_latency", "prompt", "prompt_length",
    "prompt_token_count", "completion_length", "completion_token_count", "response", "tags",
    "error", "request_start_time", "request", "workspace_id", "api_key_uuid",
]
START_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\+00:00")


def run_generate(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(GENERATE), str(out), *args],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, list[dict]]:
    out = tmp_path_factory.mktemp("pages")
    result = run_generate(out, "--entries", "5000", "--seed", "7", "--overlap", "0.3")
    assert result.returncode == 0, result.stderr
    return {path.name: json.loads(path.read_bytes()) for path in sorted(out.glob("*.json"))}


def test_generate_counts_exactly(pages):
    entries = [entry for page in pages.values() for entry in page]
    distinct = {json.dumps(entry, sort_keys=True) for entry in entries}
    assert len(entries) == 6500
    assert len(distinct) == 5000


def test_generate_prints_counts(tmp_path):
    result = run_generate(tmp_path, "--entries", "1000", "--seed", "3", "--overlap", "0.3")
    assert result.returncode == 0
    assert result.stdout == "13 files, 1,300 entries, 1,000 distinct, 300 repeated\n"


def test_generate_without_overlap(tmp_path):
    result = run_generate(tmp_path, "--entries", "250", "--seed", "1", "--overlap", "0")
    sizes = [len(json.loads(path.read_bytes())) for path in sorted(tmp_path.glob("*.json"))]
    assert result.returncode == 0
    assert sizes == [100, 100, 50]


def test_generate_pages_newest_first(pages):
    for name, page in pages.items():
        times = [entry["request_start_time"] for entry in page]
        assert len(page) <= 100, name
        assert times == sorted(times, reverse=True), name


def test_generate_pages_overlap_shifted(pages):
    """A page saved again later shares some entries with an earlier page, not all."""
    keys = {name: {entry["request_start_time"] for entry in page} for name, page in pages.items()}
    names = sorted(keys)
    partial = [
        (a, b) for i, a in enumerate(names) for b in names[i + 1:]
        if a[:17] != b[:17] and 0 < len(keys[a] & keys[b]) < len(keys[a])
    ]
    assert partial


def test_generate_entry_shape(pages):
    entries = [entry for page in pages.values() for entry in page]
    codes = {json.loads(entry["error"])["code"] for entry in entries if entry["error"] != "None"}
    whole_seconds = [e for e in entries if "." not in e["request_start_time"]]
    assert all(list(entry) == CONSOLE_KEYS for entry in entries)
    assert all(START_TIME.fullmatch(entry["request_start_time"]) for entry in entries)
    assert whole_seconds
    assert codes <= {400, 429, 499, 500, 529}
    assert {429, 500, 529} <= codes
    assert all(isinstance(json.loads(entry["request"])["max_tokens"], int) for entry in entries)


def test_generate_rejects_impossible_overlap(tmp_path):
    result = run_generate(tmp_path, "--entries", "150", "--seed", "1", "--overlap", "0.5")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: --entries 150 is too few")

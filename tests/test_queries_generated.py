"""Canned queries on a generated fixture agree with numpy and with plain Python over the entries."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import datetime, timedelta, timezone

import numpy
import pytest

from ingest.canonical import canonical_json, content_hash
from ingest.queries import load_queries, run_query
from query_helpers import ingest, make_entry, write_pages

# One model gets more than 10,000 latencies so that the percentile walk takes its longest
# jumps; None stands for entries without a model.
MODEL_WEIGHTS = {
    "claude-3-5-sonnet-20240620": 14_000,
    "claude-3-haiku-20240307": 4_000,
    "claude-3-opus-20240229": 3_000,
    "claude-3-5-haiku-20241022": 2_990,
    None: 10,
}
ERRORS = [
    {"client_error": False, "code": 500, "detail": "Internal server error"},
    {"client_error": False, "code": 529, "detail": "Overloaded"},
    {"client_error": True, "code": 429, "detail": "Rate limited"},
    {"client_error": True, "code": 499, "detail": "Client disconnected"},
    "upstream connect error",
]
FIRST_START = datetime(2024, 10, 1, tzinfo=timezone.utc)


def generate_entries(seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    entries = []
    for model, count in MODEL_WEIGHTS.items():
        for _ in range(count):
            roll = rng.random()
            if roll < 0.02:
                latency = None
            elif roll < 0.3:
                # Values below one second rounded to 0.1 s, so that many latencies are equal.
                latency = round(rng.uniform(0.1, 0.9), 1)
            else:
                latency = rng.lognormvariate(0.5, 0.8) + 1.0
            start = str(FIRST_START + timedelta(microseconds=rng.randrange(20 * 86_400 * 10**6)))
            error = rng.choice(ERRORS) if rng.random() < 0.05 else None
            if error is None and rng.random() < 0.02:
                # An unreadable start time leaves started_at NULL, which the percentile walk
                # must order like the index does among equal latencies.
                start = "not recorded"
            entries.append(make_entry(
                model, latency, start, error=error,
                prompt_tokens=rng.randint(1, 40), completion_tokens=rng.randint(0, 500),
                workspace=rng.choice(["default", "wrkspc_01"]),
                key=rng.choice([None, "k1", "k2"]),
            ))
    rng.shuffle(entries)
    return entries


def started_at(entry) -> str | None:
    if entry["request_start_time"] == "not recorded":
        return None
    moment = datetime.fromisoformat(entry["request_start_time"])
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def in_range(entry, since: str, until: str) -> bool:
    start = started_at(entry)
    if since and (start is None or start < since):
        return False
    if until and (start is None or start >= until):
        return False
    return True


def error_code(entry):
    error = entry["error"]
    return json.loads(error)["code"] if error.startswith("{") else None


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generated")
    entries = generate_entries()
    write_pages(folder / "pages", entries, per_page=100)
    db = folder / "generated.db"
    ingest(db, folder / "pages")
    conn = sqlite3.connect(db)
    yield conn, entries
    conn.close()


def rows_of(conn, name, params=None):
    columns, rows = run_query(conn, load_queries()[name], params or {})
    return [dict(zip(columns, row)) for row in rows]


def test_fixture_size(generated):
    conn, entries = generated
    assert len(entries) == 24_000
    assert conn.execute("select count(*) from logs").fetchone()[0] == 24_000


def test_fixture_has_hard_cases(generated):
    conn, _ = generated
    tied_without_start = conn.execute(
        "select count(*) from logs where started_at is null and model_latency in "
        "(select model_latency from logs group by model, model_latency having count(*) > 1)"
    ).fetchone()[0]
    largest_model = conn.execute(
        "select max(n) from (select count(model_latency) as n from logs group by model)"
    ).fetchone()[0]
    assert tied_without_start > 50
    assert largest_model > 10_000


@pytest.mark.parametrize("since, until", [("", ""), ("2024-10-05", "2024-10-17T12")])
def test_percentiles_equal_numpy(generated, since, until):
    conn, entries = generated
    rows = {row["model"]: row for row in rows_of(conn, "latency_percentiles",
                                                  {"since": since, "until": until})}
    assert set(rows) == set(MODEL_WEIGHTS)
    for model in MODEL_WEIGHTS:
        latencies = numpy.array([
            entry["model_latency"] for entry in entries
            if entry["model"] == model and entry["model_latency"] is not None
            and in_range(entry, since, until)
        ])
        expected = numpy.percentile(latencies, [50, 90, 95, 99], method="inverted_cdf")
        row = rows[model]
        assert row["n"] == len(latencies), model
        assert row["p50"] == expected[0], model
        assert row["p90"] == expected[1], model
        assert row["p95"] == expected[2], model
        assert row["p99"] == expected[3], model
        assert row["max"] == latencies.max(), model


def test_errors_equal_python(generated):
    conn, entries = generated
    failed = [entry for entry in entries if entry["error"] != "None"]
    failed.sort(key=started_at, reverse=True)
    rows = rows_of(conn, "errors")
    assert len(rows) == len(failed)
    assert [row["content_hash"] for row in rows] == [
        content_hash(canonical_json(entry)) for entry in failed]
    assert [row["error_code"] for row in rows] == [error_code(entry) for entry in failed]


def test_errors_for_one_model_equal_python(generated):
    conn, entries = generated
    model = "claude-3-opus-20240229"
    failed = [entry for entry in entries if entry["error"] != "None" and entry["model"] == model]
    failed.sort(key=started_at, reverse=True)
    rows = rows_of(conn, "errors", {"model": model})
    assert [row["content_hash"] for row in rows] == [
        content_hash(canonical_json(entry)) for entry in failed]


def ranking(entries, model, limit, max_prompt_tokens=None):
    kept = [
        entry for entry in entries
        if entry["model_latency"] is not None
        and (not model or entry["model"] == model)
        and (max_prompt_tokens is None or entry["prompt_token_count"] < max_prompt_tokens)
    ]
    kept.sort(key=lambda entry: entry["model_latency"], reverse=True)
    return [(entry["model_latency"], content_hash(canonical_json(entry))) for entry in kept[:limit]]


@pytest.mark.parametrize("model, limit", [
    ("", ""), ("", "500"), ("claude-3-haiku-20240307", "300"), ("claude-3-opus-20240229", ""),
])
def test_slowest_requests_equal_python(generated, model, limit):
    conn, entries = generated
    rows = rows_of(conn, "slowest_requests", {"model": model, "limit": limit})
    expected = ranking(entries, model, int(limit or 100))
    assert [(row["model_latency"], row["content_hash"]) for row in rows] == expected


@pytest.mark.parametrize("model, bound, limit", [
    ("", "", ""), ("", "3", "400"), ("claude-3-5-haiku-20241022", "20", "250"),
])
def test_slowest_small_prompts_equal_python(generated, model, bound, limit):
    conn, entries = generated
    rows = rows_of(conn, "slowest_small_prompts",
                   {"model": model, "max_prompt_tokens": bound, "limit": limit})
    expected = ranking(entries, model, int(limit or 100), int(bound or 10))
    assert [(row["model_latency"], row["content_hash"]) for row in rows] == expected

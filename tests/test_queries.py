"""Each canned query returns the expected rows, identically through Datasette, the CLI and sqlite3."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest

from ingest.canonical import canonical_json, content_hash
from ingest.queries import (
    QueryError,
    bind_parameters,
    load_queries,
    parse_query,
    sql_parameters,
    view_sql,
)
from query_helpers import (
    QUERY_NAMES,
    ingest,
    make_entry,
    run_cli,
    run_datasette,
    run_datasette_path,
    run_sqlite3_shell,
    write_pages,
)

SONNET = "claude-3-5-sonnet-20240620"
HAIKU = "claude-3-haiku-20240307"
SERVER_ERROR = {"client_error": False, "code": 500, "detail": "Internal server error"}

ENTRIES = {
    1: make_entry(SONNET, 2.5, "2024-10-09 05:09:38.284508+00:00", prompt_tokens=100,
                  completion_tokens=50, key="k1"),
    2: make_entry(SONNET, 7.25, "2024-10-09 06:00:00.500000+00:00", error=SERVER_ERROR,
                  prompt_tokens=5, completion_tokens=0, key="k1"),
    3: make_entry(SONNET, 1.0, "2024-10-10 01:00:00.000001+00:00", prompt_tokens=8,
                  completion_tokens=20, workspace="wrkspc_01", key="k2"),
    4: make_entry(SONNET, None, "2024-10-10 02:00:00.250000+00:00",
                  error={"client_error": False, "code": 529, "detail": "Overloaded"},
                  prompt_tokens=300, completion_tokens=0, workspace="wrkspc_01"),
    5: make_entry(HAIKU, 0.5, "2024-10-09 05:30:00.750000+00:00", prompt_tokens=3,
                  completion_tokens=10, key="k1"),
    6: make_entry(HAIKU, 3.75, "2024-10-09 05:45:00.125000+00:00",
                  error={"client_error": True, "code": 429, "detail": "Rate limited"},
                  prompt_tokens=9, completion_tokens=0, key="k1"),
    7: make_entry(HAIKU, 0.75, "2024-10-10 03:00:00.500000+00:00", prompt_tokens=50,
                  completion_tokens=60, key="k1"),
    8: make_entry(HAIKU, 1.5, "2024-10-10 03:30:00.500000+00:00", error=SERVER_ERROR,
                  prompt_tokens=2, completion_tokens=0, workspace="wrkspc_01", key="k2"),
    9: make_entry(SONNET, 4.0, "2024-10-09 07:15:00.500000+00:00", prompt_tokens=20,
                  completion_tokens=30, workspace="wrkspc_01", key="k2"),
    # An error that is not a JSON object has a detail but no status code.
    10: make_entry(HAIKU, 0.25, "2024-10-10 03:45:00.500000+00:00",
                   error="upstream connect error", prompt_tokens=4, completion_tokens=0,
                   key="k1"),
}


def started(number):
    text = ENTRIES[number]["request_start_time"]
    return f"{text[:10]}T{text[11:26]}Z"


def digest(number):
    return content_hash(canonical_json(ENTRIES[number]))


def error_row(number, code, detail, client_error):
    entry = ENTRIES[number]
    return {
        "started_at": started(number), "model": entry["model"], "error_code": code,
        "error_detail": detail, "client_error": client_error,
        "model_latency": entry["model_latency"], "workspace_id": entry["workspace_id"],
        "api_key_uuid": entry["api_key_uuid"], "content_hash": digest(number),
    }


ERRORS = {
    10: error_row(10, None, "upstream connect error", None),
    8: error_row(8, 500, "Internal server error", 0),
    4: error_row(4, 529, "Overloaded", 0),
    2: error_row(2, 500, "Internal server error", 0),
    6: error_row(6, 429, "Rate limited", 1),
}


def ranked_row(number, columns):
    entry = ENTRIES[number]
    values = {
        "model_latency": entry["model_latency"],
        "prompt_token_count": entry["prompt_token_count"],
        "completion_token_count": entry["completion_token_count"],
        "started_at": started(number),
        "model": entry["model"],
        "error_code": json.loads(entry["error"])["code"] if entry["error"].startswith("{") else None,
        "workspace_id": entry["workspace_id"],
        "content_hash": digest(number),
    }
    return {column: values[column] for column in columns}


SLOWEST_COLUMNS = ["model_latency", "started_at", "model", "prompt_token_count",
                   "completion_token_count", "error_code", "workspace_id", "content_hash"]
SMALL_COLUMNS = ["model_latency", "prompt_token_count", "completion_token_count", "started_at",
                 "model", "error_code", "workspace_id", "content_hash"]


def percentiles(model, n, p50, p90, p95, p99, maximum):
    return {"model": model, "n": n, "p50": p50, "p90": p90, "p95": p95, "p99": p99,
            "max": maximum}


def rate(bucket, model, requests, errors, by_code):
    return {"bucket": bucket, "model": model, "requests": requests, "errors": errors,
            "error_rate": round(errors / requests, 4), "errors_by_code": json.dumps(
                by_code, separators=(",", ":"))}


def tokens(day, model, workspace, key, requests, prompt, completion):
    return {"day": day, "model": model, "workspace_id": workspace, "api_key_uuid": key,
            "requests": requests, "prompt_tokens": prompt, "completion_tokens": completion}


# (query, parameters, expected rows in order)
CASES = [
    ("errors", {}, [ERRORS[n] for n in (10, 8, 4, 2, 6)]),
    ("errors", {"model": SONNET}, [ERRORS[4], ERRORS[2]]),
    ("errors", {"model": ""}, [ERRORS[n] for n in (10, 8, 4, 2, 6)]),
    ("slowest_requests", {},
     [ranked_row(n, SLOWEST_COLUMNS) for n in (2, 9, 6, 1, 8, 3, 7, 5, 10)]),
    ("slowest_requests", {"model": HAIKU, "limit": "2"},
     [ranked_row(n, SLOWEST_COLUMNS) for n in (6, 8)]),
    ("slowest_requests", {"limit": ""},
     [ranked_row(n, SLOWEST_COLUMNS) for n in (2, 9, 6, 1, 8, 3, 7, 5, 10)]),
    ("slowest_small_prompts", {},
     [ranked_row(n, SMALL_COLUMNS) for n in (2, 6, 8, 3, 5, 10)]),
    ("slowest_small_prompts", {"max_prompt_tokens": "5"},
     [ranked_row(n, SMALL_COLUMNS) for n in (8, 5, 10)]),
    ("slowest_small_prompts", {"max_prompt_tokens": "9", "model": HAIKU, "limit": "1"},
     [ranked_row(8, SMALL_COLUMNS)]),
    ("latency_percentiles", {}, [
        percentiles(SONNET, 4, 2.5, 7.25, 7.25, 7.25, 7.25),
        percentiles(HAIKU, 5, 0.75, 3.75, 3.75, 3.75, 3.75),
    ]),
    ("latency_percentiles", {"since": "2024-10-10"}, [
        percentiles(SONNET, 1, 1.0, 1.0, 1.0, 1.0, 1.0),
        percentiles(HAIKU, 3, 0.75, 1.5, 1.5, 1.5, 1.5),
    ]),
    ("latency_percentiles", {"until": "2024-10-09T05:40"}, [
        percentiles(SONNET, 1, 2.5, 2.5, 2.5, 2.5, 2.5),
        percentiles(HAIKU, 1, 0.5, 0.5, 0.5, 0.5, 0.5),
    ]),
    ("errors_by_code", {}, [
        {"error_code": 500, "error_detail": "Internal server error", "count": 2,
         "first_seen": started(2), "last_seen": started(8)},
        {"error_code": None, "error_detail": "upstream connect error", "count": 1,
         "first_seen": started(10), "last_seen": started(10)},
        {"error_code": 429, "error_detail": "Rate limited", "count": 1,
         "first_seen": started(6), "last_seen": started(6)},
        {"error_code": 529, "error_detail": "Overloaded", "count": 1,
         "first_seen": started(4), "last_seen": started(4)},
    ]),
    ("errors_by_code", {"model": SONNET}, [
        {"error_code": 500, "error_detail": "Internal server error", "count": 1,
         "first_seen": started(2), "last_seen": started(2)},
        {"error_code": 529, "error_detail": "Overloaded", "count": 1,
         "first_seen": started(4), "last_seen": started(4)},
    ]),
    ("error_rates", {}, [
        rate("2024-10-10", SONNET, 2, 1, {"529": 1}),
        rate("2024-10-10", HAIKU, 3, 2, {"500": 1, "none": 1}),
        rate("2024-10-09", SONNET, 3, 1, {"500": 1}),
        rate("2024-10-09", HAIKU, 2, 1, {"429": 1}),
    ]),
    ("error_rates", {"bucket": "hour", "since": "2024-10-10T02"}, [
        rate("2024-10-10T03", HAIKU, 3, 2, {"500": 1, "none": 1}),
        rate("2024-10-10T02", SONNET, 1, 1, {"529": 1}),
    ]),
    ("error_rates", {"until": "2024-10-09T06"}, [
        rate("2024-10-09", SONNET, 1, 0, {}),
        rate("2024-10-09", HAIKU, 2, 1, {"429": 1}),
    ]),
    ("token_totals", {}, [
        tokens("2024-10-10", SONNET, "wrkspc_01", None, 1, 300, 0),
        tokens("2024-10-10", SONNET, "wrkspc_01", "k2", 1, 8, 20),
        tokens("2024-10-10", HAIKU, "default", "k1", 2, 54, 60),
        tokens("2024-10-10", HAIKU, "wrkspc_01", "k2", 1, 2, 0),
        tokens("2024-10-09", SONNET, "default", "k1", 2, 105, 50),
        tokens("2024-10-09", SONNET, "wrkspc_01", "k2", 1, 20, 30),
        tokens("2024-10-09", HAIKU, "default", "k1", 2, 12, 10),
    ]),
    ("token_totals", {"since": "2024-10-09T06", "until": "2024-10-10T02"}, [
        tokens("2024-10-10", SONNET, "wrkspc_01", "k2", 1, 8, 20),
        tokens("2024-10-09", SONNET, "default", "k1", 1, 5, 0),
        tokens("2024-10-09", SONNET, "wrkspc_01", "k2", 1, 20, 30),
    ]),
]


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("queries")
    # Two overlapping pages, as users save them: the shared entries are stored once.
    write_pages(folder / "pages", list(ENTRIES.values()), per_page=6)
    (folder / "pages" / "again.json").write_text(json.dumps(list(ENTRIES.values())[3:8]))
    db = folder / "fixture.db"
    ingest(db, folder / "pages")
    return db


def test_every_query_has_cases():
    assert sorted({name for name, _, _ in CASES}) == QUERY_NAMES


def test_query_files_match_names():
    assert sorted(load_queries()) == QUERY_NAMES


@pytest.mark.parametrize(("name", "params", "expected"), CASES,
                         ids=[f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)])
def test_three_runners_agree(fixture_db, name, params, expected):
    through_cli = run_cli(fixture_db, name, params)
    through_shell = run_sqlite3_shell(fixture_db, name, params)
    through_datasette = run_datasette(fixture_db, name, params)
    assert through_cli == expected
    assert through_shell == expected
    assert through_datasette == expected


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_view_equals_query_without_parameters(fixture_db, name):
    query = load_queries()[name]
    with sqlite3.connect(fixture_db) as conn:
        from_view = conn.execute(f"select * from [{name}]").fetchall()
        from_query = conn.execute(query.sql, {key: "" for key in query.parameter_names}).fetchall()
    assert len(from_view) > 0
    assert from_view == from_query


def test_view_page_in_datasette_shows_query(fixture_db):
    # Datasette 0.65 routes /DB/NAME to the canned query, not to the view of the same name.
    rows = run_datasette(fixture_db, "errors", {})
    assert [row["content_hash"] for row in rows] == [digest(n) for n in (10, 8, 4, 2, 6)]


def test_datasette_offers_nothing_for_other_logs_table(tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("create table logs (id integer primary key, line text)")
    listed = run_datasette_path(other, "/other.json")["queries"]
    assert listed == []


def test_datasette_lists_queries_in_order(fixture_db):
    listed = run_datasette_path(fixture_db, "/fixture.json")["queries"]
    assert [query["name"] for query in listed] == QUERY_NAMES
    assert listed[1]["title"] == "Failed requests"
    assert listed[1]["params"] == ["model"]


def test_datasette_indents_json_cells(fixture_db):
    from datasette.app import Datasette

    async def fetch():
        response = await Datasette([str(fixture_db)]).client.get("/fixture/error_rates")
        return response.text

    html = asyncio.run(fetch())
    assert '<td class="col-errors_by_code"><pre style="white-space: pre-wrap">{\n' in html


def test_query_plans_use_indexes(fixture_db):
    expected_index = {
        "errors": "logs_failed",
        "errors_by_code": "logs_failed",
        "slowest_requests": "logs_latency",
        "slowest_small_prompts": "logs_latency",
        "latency_percentiles": "logs_model_latency",
        "error_rates": "logs_hour_model",
        "token_totals": "logs_day_usage",
    }
    queries = load_queries()
    with sqlite3.connect(fixture_db) as conn:
        for name, index in expected_index.items():
            query = queries[name]
            plan = conn.execute("explain query plan " + query.sql,
                                {key: "" for key in query.parameter_names}).fetchall()
            details = [row[3] for row in plan]
            assert any(index in detail for detail in details), (name, details)
            assert not any(detail == "SCAN logs" for detail in details), (name, details)


def test_cli_lists_queries():
    from click.testing import CliRunner

    from ingest.cli import cli

    result = CliRunner().invoke(cli, ["queries"])
    assert result.exit_code == 0
    for name, query in load_queries().items():
        assert f"{name}: {query.title}" in result.output
        for parameter in query.parameter_names:
            assert f"-p {parameter} VALUE" in result.output


def test_cli_csv_and_table(fixture_db):
    csv_text = run_cli(fixture_db, "errors_by_code", {"model": SONNET}, output_format="csv")
    assert csv_text.splitlines() == [
        "error_code,error_detail,count,first_seen,last_seen",
        f"500,Internal server error,1,{started(2)},{started(2)}",
        f"529,Overloaded,1,{started(4)},{started(4)}",
    ]
    table = run_cli(fixture_db, "latency_percentiles", {}, output_format="table")
    lines = table.splitlines()
    assert lines[0].split() == ["model", "n", "p50", "p90", "p95", "p99", "max"]
    assert lines[2].split() == [SONNET, "4", "2.5", "7.25", "7.25", "7.25", "7.25"]
    assert len(lines) == 4


def test_cli_unknown_query(fixture_db):
    from click.testing import CliRunner

    from ingest.cli import cli

    result = CliRunner().invoke(cli, ["query", str(fixture_db), "nope"])
    assert result.exit_code == 1
    assert "no query named 'nope'; the queries are: error_rates, errors" in result.output


def test_cli_unknown_parameter(fixture_db):
    from click.testing import CliRunner

    from ingest.cli import cli

    result = CliRunner().invoke(cli, ["query", str(fixture_db), "errors", "-p", "modle", "x"])
    assert result.exit_code == 1
    assert "query 'errors' has no parameter 'modle'; it takes: model" in result.output


def test_cli_missing_database(tmp_path):
    from click.testing import CliRunner

    from ingest.cli import cli

    missing = tmp_path / "missing.db"
    result = CliRunner().invoke(cli, ["query", str(missing), "errors"])
    assert result.exit_code == 1
    assert f"{missing} not found" in result.output
    assert not missing.exists()


def test_sql_parameters_skip_strings_and_comments():
    sql = "select ':no', [:no], \":no\" -- :no\n/* :no */ from t where a = :yes and b = :also"
    assert sql_parameters(sql) == ["yes", "also"]


def test_view_sql_replaces_parameters():
    query = load_queries()["slowest_requests"]
    text = view_sql(query)
    assert ":model" not in text
    assert ":limit" not in text
    assert "coalesce(nullif(NULL, ''), 100)" in text


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_body_leaves_out_header(name):
    query = load_queries()[name]
    assert query.sql.startswith("-- title: ")
    assert "-- title:" not in query.body
    assert "-- description:" not in query.body
    assert "-- param " not in query.body
    assert query.sql.endswith(query.body)


def test_bind_parameters_fills_blanks():
    query = load_queries()["slowest_small_prompts"]
    assert bind_parameters(query, {"limit": "3"}) == {
        "model": "", "max_prompt_tokens": "", "limit": "3"}


def test_parse_query_rejects_undeclared_parameter(tmp_path):
    path = tmp_path / "bad.sql"
    path.write_text("-- title: T\n-- description: D\nselect :model\n")
    with pytest.raises(QueryError, match=r"bad.sql: the header declares parameters \[\] but"):
        parse_query(path)


def test_parse_query_rejects_missing_title(tmp_path):
    path = tmp_path / "bad.sql"
    path.write_text("-- description: D\nselect 1\n")
    with pytest.raises(QueryError, match=r"bad.sql: the header has no '-- title:' line"):
        parse_query(path)

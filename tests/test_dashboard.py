"""The dashboard that our Datasette plugin adds for every logs database."""

import asyncio
import sqlite3
from collections import Counter, defaultdict
from datetime import datetime, timezone

import pytest
import sqlite_utils
from datasette.app import Datasette
from datasette_dashboards import replace_opts_in_query

from ingest import dashboard
from ingest.database import migrations, open_database
from ingest.loader import ingest as ingest_paths
from ingest.rollup import pending_entries, refresh_rollup
from pictures_support import (
    ARTIFACTS, CAPTURE_VEGA_VIEWS, MARK_VALUES, MODELS, WORKSPACES, build_fixture,
    datasette_server, nearest_rank, offline_page, synthetic_entries, write_pages,
)
from ingest.rows import error_columns, utc_timestamp

CHARTS = ["latency", "error_rate", "errors_by_code", "tokens"]


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    """A database ingested by the real CLI from 900 synthetic entries, and the entries."""
    return build_fixture(tmp_path_factory.mktemp("dashboard"))


def day_of(entry) -> str:
    return utc_timestamp(entry["request_start_time"])[:10]


def code_of(entry):
    """Return the error's status code as text, "none" for an error without one, else None."""
    code, detail, _ = error_columns(entry["error"])
    if code is None and detail is None:
        return None
    return "none" if code is None else str(code)


def run_chart(db, sql, options=None):
    options = options or {}
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    rows = connection.execute(replace_opts_in_query(sql, options), options).fetchall()
    connection.close()
    return [dict(row) for row in rows]


def get(datasette, path):
    async def fetch():
        return await datasette.client.get(path)

    return asyncio.run(fetch())


def test_dashboard_only_for_logs_databases(fixture, tmp_path):
    db, _ = fixture
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE logs_elsewhere (id INTEGER)").connection.commit()
    datasette = Datasette([str(db), str(other)])

    config = datasette.plugin_config("datasette-dashboards")

    assert list(config) == ["fixture"]
    assert list(config["fixture"]["charts"]) == CHARTS
    assert list(config["fixture"]["filters"]) == ["since", "until", "model", "workspace"]


def test_dashboard_page_lists_charts_and_filters(fixture):
    db, _ = fixture
    datasette = Datasette([str(db)])

    response = get(datasette, "/-/dashboards/fixture")

    assert response.status_code == 200
    for chart in dashboard.dashboard_config("fixture")["charts"].values():
        assert chart["title"] in response.text
    for model in MODELS:
        assert f'<option value="{model}"' in response.text
    for workspace in WORKSPACES:
        assert f'<option value="{workspace}"' in response.text


def test_dashboard_for_database_without_rollup(tmp_path):
    path = tmp_path / "old.db"
    db = open_database(path)
    db.execute("DROP TABLE logs_daily")
    db.execute("DROP TABLE logs_daily_position")
    db.conn.close()
    datasette = Datasette([str(path)])

    response = get(datasette, "/-/dashboards/old")

    assert response.status_code == 200
    assert "lacks the <code>logs_daily</code> table" in response.text


def test_latency_chart_is_nearest_rank(fixture):
    db, entries = fixture
    groups = defaultdict(list)
    for entry in entries:
        if entry["model_latency"] is not None:
            groups[(day_of(entry), entry["model"])].append(entry["model_latency"])

    rows = run_chart(db, dashboard.LATENCY_SQL)

    expected = sorted(
        (day, model, len(values), nearest_rank(values, 50), nearest_rank(values, 95))
        for (day, model), values in groups.items()
    )
    assert [tuple(row.values()) for row in rows] == expected


def test_latency_chart_with_every_filter(fixture):
    db, entries = fixture
    options = {"since": "2024-10-08", "until": "2024-10-09",
               "model": "claude-3-opus-20240229", "workspace": WORKSPACES[1]}
    groups = defaultdict(list)
    for entry in entries:
        if (entry["model_latency"] is not None and entry["model"] == options["model"]
                and entry["workspace_id"] == options["workspace"]
                and options["since"] <= day_of(entry) <= options["until"]):
            groups[day_of(entry)].append(entry["model_latency"])

    rows = run_chart(db, dashboard.LATENCY_SQL, options)

    assert [(row["day"], row["model"], row["n"], row["p50"], row["p95"]) for row in rows] == [
        (day, options["model"], len(values), nearest_rank(values, 50), nearest_rank(values, 95))
        for day, values in sorted(groups.items())
    ]


@pytest.mark.parametrize("options", [
    {},
    {"since": "2024-10-08"},
    {"until": "2024-10-08"},
    {"model": "claude-3-5-haiku-20241022"},
    {"workspace": "default"},
    {"since": "2024-10-08", "until": "2024-10-09", "model": "claude-3-5-haiku-20241022",
     "workspace": "default"},
])
def test_latency_chart_walks_index_in_order(fixture, options):
    # json_group_array lists rowids in latency order only while GROUP BY reads the index.
    db, _ = fixture
    connection = sqlite3.connect(db)
    sql = replace_opts_in_query(dashboard.LATENCY_SQL, options)
    plan = [row[3] for row in connection.execute("EXPLAIN QUERY PLAN " + sql, options)]

    assert any("COVERING INDEX logs_model_day_latency" in step for step in plan)
    assert not any("FOR GROUP BY" in step for step in plan)


def test_counting_charts_match_entries(fixture):
    db, entries = fixture
    requests = Counter((day_of(e), e["model"]) for e in entries)
    errors = Counter((day_of(e), e["model"]) for e in entries if code_of(e) is not None)
    by_code = Counter((day_of(e), code_of(e)) for e in entries if code_of(e) is not None)
    tokens = Counter()
    for entry in entries:
        tokens[(day_of(entry), entry["model"])] += (entry["prompt_token_count"]
                                                    + entry["completion_token_count"])

    error_rate = run_chart(db, dashboard.ERROR_RATE_SQL)
    errors_by_code = run_chart(db, dashboard.ERRORS_BY_CODE_SQL)
    tokens_rows = run_chart(db, dashboard.TOKENS_SQL)

    assert {(r["day"], r["model"]): r["requests"] for r in error_rate} == dict(requests)
    assert {(r["day"], r["model"]): r["errors"] for r in error_rate} == {
        key: errors.get(key, 0) for key in requests}
    assert {(r["day"], r["model"]): r["error_rate"] for r in error_rate} == {
        key: round(100 * errors.get(key, 0) / count, 2) for key, count in requests.items()}
    assert {(r["day"], r["code"]): r["errors"] for r in errors_by_code} == dict(by_code)
    assert {(r["day"], r["model"]): r["tokens"] for r in tokens_rows} == dict(tokens)


def test_counting_charts_filter_by_workspace(fixture):
    db, entries = fixture
    workspace = WORKSPACES[1]
    expected = Counter((day_of(e), e["model"]) for e in entries if e["workspace_id"] == workspace)

    rows = run_chart(db, dashboard.ERROR_RATE_SQL, {"workspace": workspace})

    assert {(r["day"], r["model"]): r["requests"] for r in rows} == dict(expected)


def rollup(connection):
    return connection.execute("SELECT * FROM logs_daily ORDER BY 1, 2, 3, 4").fetchall()


def recomputed(connection):
    return connection.execute(
        """
        SELECT coalesce(substr(started_at, 1, 10), ''), coalesce(model, ''),
               coalesce(workspace_id, ''),
               coalesce(error_code, CASE WHEN error_detail IS NULL THEN 0 ELSE -1 END), count(*),
               count(model_latency), coalesce(sum(prompt_token_count), 0),
               coalesce(sum(completion_token_count), 0)
        FROM logs GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        """
    ).fetchall()


def test_rollup_backfills_older_database(tmp_path):
    write_pages(tmp_path / "pages", synthetic_entries(days=2, per_day=20))
    older = sqlite_utils.Database(tmp_path / "old.db")
    migrations.apply(older, stop_before="m004_daily_rollup")
    assert [m.name for m in migrations.pending(older)] == ["m004_daily_rollup"]
    ingest_paths(older, [str(tmp_path / "pages")])
    older.conn.close()

    reopened = open_database(tmp_path / "old.db")

    assert len(rollup(reopened.conn)) > 0
    assert rollup(reopened.conn) == recomputed(reopened.conn)


def test_cli_ingest_refreshes_rollup(fixture):
    db, _ = fixture
    connection = sqlite3.connect(db)

    assert pending_entries(connection) == 0
    assert rollup(connection) == recomputed(connection)
    assert connection.execute("SELECT sum(requests) FROM logs_daily").fetchone()[0] == 900


def test_refresh_adds_only_new_entries(tmp_path):
    write_pages(tmp_path / "first", synthetic_entries(days=2, per_day=20))
    write_pages(tmp_path / "second", synthetic_entries(days=3, per_day=10, seed=9))
    db = open_database(tmp_path / "logs.db")
    ingest_paths(db, [str(tmp_path / "first")])
    connection = db.conn

    first = refresh_rollup(connection)
    ingest_paths(db, [str(tmp_path / "second")])
    waiting = pending_entries(connection)
    stale = rollup(connection)
    second = refresh_rollup(connection)
    again = refresh_rollup(connection)

    assert first == 2 * 20 * 3
    assert waiting == 3 * 10 * 3
    assert stale != recomputed(connection)
    assert second == 3 * 10 * 3
    assert again == 0
    assert rollup(connection) == recomputed(connection)


def test_dashboard_names_entries_missing_from_rollup(fixture, tmp_path):
    db, _ = fixture
    copy = tmp_path / "stale.db"
    source = sqlite3.connect(db)
    source.backup(target := sqlite3.connect(copy))
    source.close()
    target.execute("UPDATE logs_daily_position SET last_rowid = last_rowid - 12")
    target.commit()
    target.close()
    datasette = Datasette([str(copy)])

    response = get(datasette, "/-/dashboards/stale")

    assert response.status_code == 200
    assert ("12 newer entries are not in the error and token charts yet: "
            "the next claude-logs ingest adds them.") in response.text


def test_dashboard_draws_every_chart_offline(fixture):
    db, entries = fixture
    codes = sorted({code_of(e) for e in entries if code_of(e) is not None})

    with datasette_server(db) as base, offline_page() as (page, blocked, errors, allowed):
        page.add_init_script(CAPTURE_VEGA_VIEWS)
        page.goto(f"{base}/-/dashboards/fixture")
        page.wait_for_function(f"Object.keys(window.__views).length === {len(CHARTS)}")
        marks = {
            chart: page.evaluate(MARK_VALUES, [f"chart-{chart}",
                                               "code" if chart == "errors_by_code" else "model"])
            for chart in CHARTS
        }
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    assert blocked == []
    assert errors == []
    # The route handler saw the page's own requests: the vega bundle and each chart's data.
    assert any(url.endswith("/datasette_dashboards/vega.min.js") for url in allowed)
    assert sum("/fixture.json?sql=" in url for url in allowed) == len(CHARTS)
    assert marks["latency"]["values"] == sorted(MODELS)
    assert marks["error_rate"]["values"] == sorted(MODELS)
    assert marks["tokens"]["values"] == sorted(MODELS)
    assert marks["errors_by_code"]["values"] == codes
    # 5 days x 3 models x 2 percentiles, each a vertex of a line and a point drawn on it.
    assert marks["latency"]["items"] == 5 * 3 * 2 * 2
    assert marks["tokens"]["items"] == 5 * 3


def test_dashboard_filters_reach_charts(fixture):
    db, _ = fixture
    model = "claude-3-5-sonnet-20240620"
    query = f"since=2024-10-08&until=2024-10-09&model={model}&workspace=default"

    with datasette_server(db) as base, offline_page() as (page, blocked, errors, _):
        page.add_init_script(CAPTURE_VEGA_VIEWS)
        page.goto(f"{base}/-/dashboards/fixture?{query}")
        page.wait_for_function(f"Object.keys(window.__views).length === {len(CHARTS)}")
        latency = page.evaluate(MARK_VALUES, ["chart-latency", "model"])
        days = page.evaluate(MARK_VALUES, ["chart-tokens", "day"])
        selected = page.eval_on_selector("#model", "element => element.value")

    assert blocked == []
    assert errors == []
    assert latency["values"] == [model]
    # vega-lite parses a temporal field into epoch milliseconds.
    assert sorted(datetime.fromtimestamp(int(ms) / 1000, timezone.utc).date().isoformat()
                  for ms in days["values"]) == ["2024-10-08", "2024-10-09"]
    assert selected == model

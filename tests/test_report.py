"""`claude-logs report`: its numbers are the canned queries' and its HTML needs no network."""

import json
import sqlite3
import subprocess

import pytest

from ingest.queries import load_queries, run_query
from ingest.report import Period, ReportError, build_report, periods, render_markdown
from ingest.rows import error_columns, utc_timestamp
from pictures_support import ARTIFACTS, BIN, MODELS, build_fixture, nearest_rank, offline_page

SINCE, UNTIL = "2024-10-09", "2024-10-12"
PREVIOUS = Period("2024-10-06", "2024-10-09")


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    """A database ingested by the real CLI from 900 synthetic entries (Oct 7 to 11), and the
    entries."""
    return build_fixture(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def report(fixture):
    db, _ = fixture
    connection = sqlite3.connect(db)
    yield build_report(connection, "fixture.db", SINCE, UNTIL)
    connection.close()


def canned(db, name, **values):
    connection = sqlite3.connect(db)
    columns, rows = run_query(connection, load_queries()[name], values)
    connection.close()
    return [dict(zip(columns, row)) for row in rows]


def in_period(entry, period):
    started = utc_timestamp(entry["request_start_time"])
    return period.since <= started < period.until


def failed(entry):
    code, detail, _ = error_columns(entry["error"])
    return code is not None or detail is not None


def test_periods_compare_same_length(report):
    assert report.current.period == Period(SINCE, UNTIL)
    assert report.previous.period == PREVIOUS


@pytest.mark.parametrize("stats_name", ["current", "previous"])
def test_volume_equals_error_rates_query(fixture, report, stats_name):
    db, entries = fixture
    stats = getattr(report, stats_name)
    period = stats.period
    rows = canned(db, "error_rates", since=period.since, until=period.until, bucket="day")
    expected_codes = {}
    for row in rows:
        for code, count in json.loads(row["errors_by_code"]).items():
            expected_codes[code] = expected_codes.get(code, 0) + count

    assert stats.requests == sum(row["requests"] for row in rows)
    assert stats.errors == sum(row["errors"] for row in rows)
    assert stats.errors_by_code == expected_codes
    # The same numbers straight from the synthetic entries.
    assert stats.requests == sum(in_period(e, period) for e in entries)
    assert stats.errors == sum(in_period(e, period) and failed(e) for e in entries)


@pytest.mark.parametrize("stats_name", ["current", "previous"])
def test_latency_equals_percentiles_query(fixture, report, stats_name):
    db, entries = fixture
    stats = getattr(report, stats_name)
    period = stats.period
    rows = canned(db, "latency_percentiles", since=period.since, until=period.until)

    assert stats.latency == {
        row["model"]: {"n": row["n"], "p50": row["p50"], "p95": row["p95"], "p99": row["p99"]}
        for row in rows
    }
    for model in MODELS:
        values = [e["model_latency"] for e in entries
                  if e["model"] == model and e["model_latency"] is not None and in_period(e, period)]
        assert stats.latency[model]["n"] == len(values)
        assert stats.latency[model]["p99"] == nearest_rank(values, 99)


@pytest.mark.parametrize("stats_name", ["current", "previous"])
def test_slowest_equal_slowest_requests_query(fixture, report, stats_name):
    db, entries = fixture
    stats = getattr(report, stats_name)
    period = stats.period
    rows = canned(db, "slowest_requests", limit="1000")
    expected = [row for row in rows
                if row["started_at"] and period.since <= row["started_at"] < period.until][:10]

    assert stats.slowest == expected
    latencies = sorted((e["model_latency"] for e in entries
                        if e["model_latency"] is not None and in_period(e, period)), reverse=True)
    assert [row["model_latency"] for row in stats.slowest] == latencies[:10]


@pytest.mark.parametrize("stats_name", ["current", "previous"])
def test_consumers_equal_token_totals_query(fixture, report, stats_name):
    db, _ = fixture
    stats = getattr(report, stats_name)
    period = stats.period
    expected = {}
    for row in canned(db, "token_totals", since=period.since, until=period.until):
        key = (row["workspace_id"], row["api_key_uuid"])
        totals = expected.setdefault(key, {"requests": 0, "prompt_tokens": 0,
                                           "completion_tokens": 0, "tokens": 0})
        totals["requests"] += row["requests"]
        totals["prompt_tokens"] += row["prompt_tokens"]
        totals["completion_tokens"] += row["completion_tokens"]
        totals["tokens"] += row["prompt_tokens"] + row["completion_tokens"]

    assert stats.consumers == expected
    tokens = [totals["tokens"] for totals in stats.consumers.values()]
    assert tokens == sorted(tokens, reverse=True)


def test_markdown_shows_the_numbers(report):
    text = render_markdown(report)
    now, before = report.current, report.previous

    assert f"| requests | {now.requests:,} | {before.requests:,} |" in text
    assert f"| errors | {now.errors:,} | {before.errors:,} |" in text
    for model, values in now.latency.items():
        earlier = before.latency[model]
        assert (f"| {model} | {values['n']:,} | {earlier['n']:,} | {values['p50']:.3f} | "
                f"{earlier['p50']:.3f} |") in text
    slowest = now.slowest[0]
    assert f"| {slowest['model_latency']:.3f} | {slowest['started_at']} |" in text
    assert text.endswith("|\n")


def test_default_period_ends_after_newest_day(fixture):
    db, _ = fixture
    connection = sqlite3.connect(db)

    current, previous = periods(connection)

    assert current == Period("2024-10-05", "2024-10-12")
    assert previous == Period("2024-09-28", "2024-10-05")


def test_period_with_times(fixture):
    db, _ = fixture
    connection = sqlite3.connect(db)

    current, previous = periods(connection, "2024-10-09T06:00", "2024-10-09T18:00:00+02:00")

    assert current == Period("2024-10-09T06:00:00", "2024-10-09T16:00:00")
    assert previous == Period("2024-10-08T20:00:00", "2024-10-09T06:00:00")


@pytest.mark.parametrize("since, until, message", [
    ("yesterday", None, "--since 'yesterday' is not a valid date or time"),
    ("2024-10-10", "2024-10-09", "--since 2024-10-10 is not before --until 2024-10-09"),
    (None, "2024-13-01", "--until '2024-13-01' is not a valid date or time"),
])
def test_invalid_period_rejected(fixture, since, until, message):
    db, _ = fixture
    connection = sqlite3.connect(db)

    with pytest.raises(ReportError) as error:
        periods(connection, since, until)

    assert message in str(error.value)


def run_report(*args):
    return subprocess.run([str(BIN / "claude-logs"), "report", *map(str, args)],
                          capture_output=True, text=True)


def test_cli_errors_are_one_line(tmp_path, fixture):
    db, _ = fixture

    missing = run_report(tmp_path / "missing.db")
    bad_date = run_report(db, "--since", "soon")
    empty_db = tmp_path / "empty.db"
    subprocess.run([str(BIN / "claude-logs"), "ingest", str(empty_db), str(tmp_path)],
                   capture_output=True)
    empty = run_report(empty_db)

    assert missing.returncode == 1
    assert missing.stderr == (f"Error: {tmp_path / 'missing.db'} not found; give the database "
                              "that 'claude-logs ingest' created\n")
    assert bad_date.returncode == 1
    assert bad_date.stderr.startswith("Error: --since 'soon' is not a valid date or time")
    assert empty.returncode == 1
    assert empty.stderr == ("Error: the database has no entries with a start time; "
                            "run 'claude-logs ingest' first\n")


def test_cli_markdown_to_stdout(fixture):
    db, _ = fixture

    result = run_report(db, "--since", SINCE, "--until", UNTIL)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Claude API requests: fixture.db\n\nFrom 2024-10-09 to "
                                    "2024-10-12 (UTC, end excluded), compared with 2024-10-06 "
                                    "to 2024-10-09.\n")


def test_html_report_draws_charts_offline(fixture, report, tmp_path):
    db, _ = fixture
    output = tmp_path / "report.html"

    result = run_report(db, "--since", SINCE, "--until", UNTIL, "--format", "html",
                        "-o", output)
    html = output.read_text()
    with offline_page() as (page, blocked, errors, allowed):
        page.goto(output.as_uri())
        charts = page.eval_on_selector_all("svg.chart", """charts => charts.map(chart => ({
            title: chart.getAttribute('aria-label'),
            bars: [...chart.querySelectorAll('rect.bar')].filter(
                bar => bar.getBoundingClientRect().height > 0).length,
            categories: [...new Set([...chart.querySelectorAll('rect.bar')].map(
                bar => bar.dataset.category))].sort(),
        }))""")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "<script" not in html
    assert "<link" not in html
    assert "src=" not in html
    assert blocked == []
    assert errors == []
    assert allowed == [output.as_uri()]
    assert [chart["title"] for chart in charts] == [
        "Requests per day", "Latency percentiles by model, this period and previous",
        "Errors by status code, this period and previous", "Tokens per day by model"]
    assert charts[0]["categories"] == ["2024-10-09", "2024-10-10", "2024-10-11"]
    assert charts[1]["categories"] == sorted(MODELS)
    assert charts[2]["categories"] == sorted(set(report.current.errors_by_code)
                                             | set(report.previous.errors_by_code))
    assert charts[3]["categories"] == ["2024-10-09", "2024-10-10", "2024-10-11"]
    # Every day, model and code has at least one bar with a height.
    assert charts[0]["bars"] >= 3
    assert charts[1]["bars"] == 3 * 6
    assert charts[3]["bars"] == 3 * 3

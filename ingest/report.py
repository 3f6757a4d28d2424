"""A report on one period of requests, compared with the period of the same length before it.

Every number comes from a canned query in queries/ run through `run_query`: volume and errors
by status code from error_rates, percentiles from latency_percentiles, the slowest requests
from slowest_requests and token use from token_totals. This module only adds up their rows.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html import escape

from .queries import bind_parameters, get_query, load_queries, run_query
from .svgcharts import STYLE, Series, bar_chart

DEFAULT_DAYS = 7
SLOWEST = 10
TOP_CONSUMERS = 10
PERCENTILES = ("p50", "p95", "p99")


class ReportError(Exception):
    """The report cannot be made: an invalid date, an empty period or an empty database."""


@dataclass(frozen=True)
class Period:
    """Requests started at or after `since` and before `until`, as the canned queries compare
    them with `started_at`: UTC text, a day (2024-10-09) or a time (2024-10-09T05:00:00)."""

    since: str
    until: str


@dataclass
class PeriodStats:
    period: Period
    requests: int = 0
    errors: int = 0
    errors_by_code: dict[str, int] = field(default_factory=dict)
    # day -> (requests, errors)
    daily: dict[str, tuple[int, int]] = field(default_factory=dict)
    # model -> {"n": ..., "p50": ..., "p95": ..., "p99": ...}
    latency: dict[str, dict] = field(default_factory=dict)
    slowest: list[dict] = field(default_factory=list)
    # (workspace_id, api_key_uuid) -> {"requests", "prompt_tokens", "completion_tokens", "tokens"}
    consumers: dict[tuple, dict] = field(default_factory=dict)
    # (day, model) -> tokens
    tokens_by_day: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


@dataclass
class Report:
    database: str
    current: PeriodStats
    previous: PeriodStats


def _parse_moment(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ReportError(
            f"{option} {text!r} is not a valid date or time; use 2024-10-09 or 2024-10-09T05:00"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _bound(moment: datetime) -> str:
    if moment.time() == datetime.min.time():
        return moment.date().isoformat()
    return moment.isoformat(timespec="seconds")


def periods(conn: sqlite3.Connection, since: str | None = None,
            until: str | None = None) -> tuple[Period, Period]:
    """Return the report's period and the one of the same length just before it.

    `until` is exclusive and defaults to the day after the newest entry; `since` defaults to
    seven days before `until`. Raises ReportError for an invalid date, a period that does
    not run forward, or a database without entries when a default is needed.
    """
    if until is None:
        # The one value read without a canned query, through the started_at index.
        newest = conn.execute("SELECT max(started_at) FROM logs").fetchone()[0]
        if newest is None:
            raise ReportError("the database has no entries with a start time; "
                              "run 'claude-logs ingest' first")
        end = datetime.fromisoformat(newest[:10]) + timedelta(days=1)
    else:
        end = _parse_moment(until, "--until")
    start = _parse_moment(since, "--since") if since else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise ReportError(f"--since {_bound(start)} is not before --until {_bound(end)}")
    before = start - (end - start)
    return Period(_bound(start), _bound(end)), Period(_bound(before), _bound(start))


def _rows(conn, queries, name: str, values: dict) -> list[dict]:
    columns, rows = run_query(conn, queries[name], values)
    return [dict(zip(columns, row)) for row in rows]


def _slowest(conn, queries, period: Period) -> list[dict]:
    # slowest_requests takes no period, so its rows stream slowest first (LIMIT -1 means no
    # limit) and the first ten inside the period are kept, compared as the queries compare.
    query = get_query("slowest_requests", queries)
    cursor = conn.execute(query.sql, bind_parameters(query, {"limit": "-1"}))
    columns = [description[0] for description in cursor.description]
    found = []
    for row in cursor:
        entry = dict(zip(columns, row))
        started = entry["started_at"]
        if started is not None and period.since <= started < period.until:
            found.append(entry)
            if len(found) == SLOWEST:
                break
    cursor.close()
    return found


def period_stats(conn: sqlite3.Connection, period: Period, queries=None) -> PeriodStats:
    """Run the canned queries for one period and add up their rows."""
    queries = queries or load_queries()
    values = {"since": period.since, "until": period.until}
    stats = PeriodStats(period)

    codes: dict[str, int] = defaultdict(int)
    daily: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in _rows(conn, queries, "error_rates", {**values, "bucket": "day"}):
        stats.requests += row["requests"]
        stats.errors += row["errors"]
        daily[row["bucket"]][0] += row["requests"]
        daily[row["bucket"]][1] += row["errors"]
        for code, count in json.loads(row["errors_by_code"]).items():
            codes[code] += count
    stats.errors_by_code = dict(sorted(codes.items(), key=lambda item: (-item[1], item[0])))
    stats.daily = {day: tuple(counts) for day, counts in sorted(daily.items())}

    for row in _rows(conn, queries, "latency_percentiles", values):
        stats.latency[row["model"]] = {"n": row["n"], **{p: row[p] for p in PERCENTILES}}

    stats.slowest = _slowest(conn, queries, period)

    consumers: dict[tuple, dict] = defaultdict(
        lambda: {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "tokens": 0})
    tokens_by_day: dict[tuple[str, str], int] = defaultdict(int)
    for row in _rows(conn, queries, "token_totals", values):
        prompt = row["prompt_tokens"] or 0
        completion = row["completion_tokens"] or 0
        totals = consumers[(row["workspace_id"], row["api_key_uuid"])]
        totals["requests"] += row["requests"]
        totals["prompt_tokens"] += prompt
        totals["completion_tokens"] += completion
        totals["tokens"] += prompt + completion
        tokens_by_day[(row["day"], row["model"])] += prompt + completion
    stats.consumers = dict(sorted(consumers.items(),
                                  key=lambda item: (-item[1]["tokens"], str(item[0]))))
    stats.tokens_by_day = dict(sorted(tokens_by_day.items(), key=lambda item: str(item[0])))
    return stats


def build_report(conn: sqlite3.Connection, database: str, since: str | None = None,
                 until: str | None = None) -> Report:
    """Collect the report's numbers for the period and the one before it."""
    current, previous = periods(conn, since, until)
    queries = load_queries()
    return Report(database, period_stats(conn, current, queries),
                  period_stats(conn, previous, queries))


# Formatting shared by both renderers.

def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _change(now: float | None, before: float | None) -> str:
    """Return the relative change from before to now, such as +12.5%."""
    if now is None or before is None:
        return "–"
    if before == 0:
        return "–" if now == 0 else "new"
    return f"{100 * (now - before) / before:+.1f}%"


def _points(now: float | None, before: float | None) -> str:
    """Return the change of a rate in percentage points, such as +0.40 pp."""
    if now is None or before is None:
        return "–"
    return f"{100 * (now - before):+.2f} pp"


def _key_label(key: tuple) -> tuple[str, str]:
    workspace, api_key = key
    return workspace or "(none)", api_key or "(none)"


def sections(report: Report) -> list[tuple[str, list[str], list[list[str]]]]:
    """Return the report's tables as (title, header, rows) of display text."""
    now, before = report.current, report.previous
    result = []

    result.append(("Volume", ["", "this period", "previous period", "change"], [
        ["requests", _count(now.requests), _count(before.requests),
         _change(now.requests, before.requests)],
        ["errors", _count(now.errors), _count(before.errors), _change(now.errors, before.errors)],
        ["error rate", _percent(now.error_rate), _percent(before.error_rate),
         _points(now.error_rate, before.error_rate)],
    ]))

    codes = list(now.errors_by_code) + [c for c in before.errors_by_code
                                        if c not in now.errors_by_code]
    rows = []
    for code in codes:
        count, earlier = now.errors_by_code.get(code, 0), before.errors_by_code.get(code, 0)
        rate = count / now.requests if now.requests else None
        earlier_rate = earlier / before.requests if before.requests else None
        rows.append([code, _count(count), _percent(rate), _count(earlier), _percent(earlier_rate),
                     _points(rate, earlier_rate)])
    result.append(("Error rate by status code",
                   ["code", "errors", "rate", "previous errors", "previous rate", "change"], rows))

    rows = []
    for model in sorted(set(now.latency) | set(before.latency), key=str):
        current, earlier = now.latency.get(model, {}), before.latency.get(model, {})
        row = [model or "(none)", _count(current.get("n")), _count(earlier.get("n"))]
        for p in PERCENTILES:
            row += [_seconds(current.get(p)), _seconds(earlier.get(p)),
                    _change(current.get(p), earlier.get(p))]
        rows.append(row)
    header = ["model", "n", "previous n"]
    for p in PERCENTILES:
        header += [f"{p} (s)", f"previous {p}", f"{p} change"]
    result.append(("Latency percentiles by model (nearest rank, seconds)", header, rows))

    rows = [[_seconds(entry["model_latency"]), entry["started_at"], entry["model"] or "(none)",
             _count(entry["prompt_token_count"]), _count(entry["completion_token_count"]),
             "" if entry["error_code"] is None else str(entry["error_code"]),
             entry["content_hash"][:12]] for entry in now.slowest]
    result.append((f"The {SLOWEST} slowest requests",
                   ["latency (s)", "started at", "model", "prompt tokens", "completion tokens",
                    "error", "content hash"], rows))

    rows = []
    for key, totals in list(now.consumers.items())[:TOP_CONSUMERS]:
        earlier = before.consumers.get(key, {}).get("tokens", 0)
        rows.append([*_key_label(key), _count(totals["requests"]),
                     _count(totals["prompt_tokens"]), _count(totals["completion_tokens"]),
                     _count(totals["tokens"]), _count(earlier), _change(totals["tokens"], earlier)])
    result.append((f"Top {TOP_CONSUMERS} token consumers (workspace and API key)",
                   ["workspace", "API key", "requests", "prompt tokens", "completion tokens",
                    "tokens", "previous tokens", "change"], rows))
    return result


def _slowest_note(report: Report) -> str:
    earlier = report.previous.slowest
    if not earlier:
        return "The previous period has no request with a latency."
    return (f"The previous period's {len(earlier)} slowest took "
            f"{_seconds(earlier[-1]['model_latency'])} to {_seconds(earlier[0]['model_latency'])} s.")


def _heading(report: Report) -> tuple[str, str]:
    now, before = report.current.period, report.previous.period
    return (f"Claude API requests: {report.database}",
            f"From {now.since} to {now.until} (UTC, end excluded), compared with "
            f"{before.since} to {before.until}.")


_NUMBER = re.compile(r"[+-]?\d[\d,]*(\.\d+)?(%| pp)?|new")


def _numeric(rows: list[list[str]], column: int) -> bool:
    cells = [row[column] for row in rows if row[column] not in ("", "–")]
    return bool(cells) and all(_NUMBER.fullmatch(cell) for cell in cells)


def render_markdown(report: Report) -> str:
    """Return the report as Markdown tables."""
    title, subtitle = _heading(report)
    lines = [f"# {title}", "", subtitle, ""]
    for name, header, rows in sections(report):
        lines += [f"## {name}", ""]
        if not rows:
            lines += ["None in this period.", ""]
            continue
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join("---:" if _numeric(rows, i) else "---"
                                    for i in range(len(header))) + "|")
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
                  for row in rows]
        lines.append("")
        if name.startswith(f"The {SLOWEST} slowest"):
            lines += [_slowest_note(report), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def charts(report: Report) -> list[str]:
    """Return the report's inline SVG charts."""
    now, before = report.current, report.previous
    days = list(now.daily)
    result = [bar_chart(
        "Requests per day", days,
        [Series("succeeded", [now.daily[d][0] - now.daily[d][1] for d in days], "#009E73"),
         Series("failed", [now.daily[d][1] for d in days], "#D55E00")],
        stacked=True, y_label="requests")]

    models = sorted(now.latency, key=str)
    series = []
    for number, p in enumerate(PERCENTILES):
        color = ["#56B4E9", "#0072B2", "#003f63"][number]
        series.append(Series(p, [now.latency[m][p] for m in models], color))
        series.append(Series(f"{p} previous",
                             [before.latency.get(m, {}).get(p) for m in models], color, 0.35))
    result.append(bar_chart("Latency percentiles by model, this period and previous",
                            [m or "(none)" for m in models], series, y_label="seconds"))

    codes = sorted(set(now.errors_by_code) | set(before.errors_by_code))
    result.append(bar_chart(
        "Errors by status code, this period and previous", codes,
        [Series("this period", [now.errors_by_code.get(c, 0) for c in codes], "#D55E00"),
         Series("previous period", [before.errors_by_code.get(c, 0) for c in codes],
                "#D55E00", 0.35)],
        y_label="errors"))

    token_days = sorted({day for day, _ in now.tokens_by_day}, key=str)
    token_models = sorted({model for _, model in now.tokens_by_day}, key=str)
    result.append(bar_chart(
        "Tokens per day by model", [str(d) for d in token_days],
        [Series(m or "(none)", [now.tokens_by_day.get((d, m), 0) for d in token_days])
         for m in token_models],
        stacked=True, y_label="tokens"))
    return result


_PAGE_STYLE = """
body { font: 14px/1.4 sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(540px, 1fr)); gap: 12px; }
svg.chart { max-width: 100%; height: auto; }
"""


def render_html(report: Report) -> str:
    """Return the report as one HTML page with inline CSS and SVG: it loads nothing else."""
    title, subtitle = _heading(report)
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{escape(title)}</title>", f"<style>{_PAGE_STYLE}{STYLE}</style>", "</head>",
        "<body>", f"<h1>{escape(title)}</h1>", f"<p>{escape(subtitle)}</p>",
        '<div class="charts">', *charts(report), "</div>",
    ]
    for name, header, rows in sections(report):
        parts.append(f"<h2>{escape(name)}</h2>")
        if not rows:
            parts.append("<p>None in this period.</p>")
            continue
        parts.append("<table><thead><tr>"
                     + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr></thead><tbody>")
        numeric = [_numeric(rows, i) for i in range(len(header))]
        parts += ["<tr>" + "".join(f'<td class="{"number" if numeric[i] else "text"}">'
                                   f"{escape(cell)}</td>" for i, cell in enumerate(row)) + "</tr>"
                  for row in rows]
        parts.append("</tbody></table>")
        if name.startswith(f"The {SLOWEST} slowest"):
            parts.append(f"<p>{escape(_slowest_note(report))}</p>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)

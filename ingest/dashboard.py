"""A datasette-dashboards dashboard for every database that has a `logs` table.

Datasette 0.65 merges what `get_metadata` hooks return under the instance's metadata, and
datasette-dashboards reads its dashboards from `datasette.plugin_config("datasette-dashboards")`
on each request, so this hook adds one dashboard per logs database with no metadata file.
The charts are vega-lite specs, rendered by the vega files that datasette-dashboards ships in
its static folder, so the page loads nothing from another host.

The counting charts read the `logs_daily` rollup (see rollup.py). The latency chart reads
nearest-rank percentiles from `logs` through the `logs_model_day_latency` index.
"""

from __future__ import annotations

import copy
import os
import sqlite3
from pathlib import Path

from datasette import hookimpl

from .rollup import pending_entries

PLUGIN = "datasette-dashboards"

# datasette-dashboards drops a [[ ... ]] block when its parameter is missing or empty, so each
# filter stays optional. A block must fit on one line: the plugin's pattern does not span lines.
_ROLLUP_FILTERS = """
    [[ AND day >= :since ]]
    [[ AND day <= :until ]]
    [[ AND model = :model ]]
    [[ AND workspace_id = :workspace ]]"""

FILTERS = {
    "since": {"name": "From (UTC day)", "type": "date"},
    "until": {"name": "To (UTC day, included)", "type": "date"},
    "model": {
        "name": "Model",
        "type": "select",
        "query": "SELECT DISTINCT model FROM logs_daily WHERE model <> '' ORDER BY model",
    },
    "workspace": {
        "name": "Workspace",
        "type": "select",
        "query": "SELECT DISTINCT workspace_id FROM logs_daily WHERE workspace_id <> '' "
                 "ORDER BY workspace_id",
    },
}


# Nearest rank: the k-th smallest latency of a (model, day) group, k = ceil(percent * n / 100),
# where n counts non-NULL latencies. GROUP BY walks the logs_model_day_latency index, which
# orders each group by latency, so json_group_array lists the group's rowids from fastest to
# slowest and the k-th is read back by position. INDEXED BY keeps the planner on that index
# (logs_day_usage also starts with the day), because another order would give wrong ranks. That is one pass over the index with no sort.
# A window function (row_number() OVER ...) over the same index took about six times as long.
# The rowid, not the latency, goes through JSON because SQLite writes a REAL into JSON with
# 15 significant digits.
LATENCY_SQL = """
WITH groups AS (
  SELECT substr(started_at, 1, 10) AS day, model, count(*) AS n, json_group_array(rowid) AS ids
  FROM logs INDEXED BY logs_model_day_latency
  WHERE model_latency IS NOT NULL AND started_at IS NOT NULL AND model IS NOT NULL
    [[ AND substr(started_at, 1, 10) >= :since ]]
    [[ AND substr(started_at, 1, 10) <= :until ]]
    [[ AND model = :model ]]
    [[ AND workspace_id = :workspace ]]
  GROUP BY model, substr(started_at, 1, 10)
)
SELECT day, model, n,
  (SELECT model_latency FROM logs
   WHERE rowid = json_extract(ids, '$[' || ((50 * n + 99) / 100 - 1) || ']')) AS p50,
  (SELECT model_latency FROM logs
   WHERE rowid = json_extract(ids, '$[' || ((95 * n + 99) / 100 - 1) || ']')) AS p95
FROM groups
ORDER BY day, model
"""

ERROR_RATE_SQL = f"""
SELECT day, model, sum(requests) AS requests,
  sum(CASE WHEN error_code <> 0 THEN requests ELSE 0 END) AS errors,
  round(100.0 * sum(CASE WHEN error_code <> 0 THEN requests ELSE 0 END) / sum(requests), 2)
    AS error_rate
FROM logs_daily
WHERE day <> '' AND model <> ''{_ROLLUP_FILTERS}
GROUP BY day, model
ORDER BY day, model
"""

ERRORS_BY_CODE_SQL = f"""
SELECT day, CASE error_code WHEN -1 THEN 'none' ELSE CAST(error_code AS TEXT) END AS code,
  sum(requests) AS errors
FROM logs_daily
WHERE day <> '' AND error_code <> 0{_ROLLUP_FILTERS}
GROUP BY day, error_code
ORDER BY day, error_code
"""

TOKENS_SQL = f"""
SELECT day, model, sum(prompt_tokens) AS prompt_tokens,
  sum(completion_tokens) AS completion_tokens,
  sum(prompt_tokens) + sum(completion_tokens) AS tokens
FROM logs_daily
WHERE day <> ''{_ROLLUP_FILTERS}
GROUP BY day, model
ORDER BY day, model
"""

# Days are UTC, so they are shown in UTC whatever the browser's time zone.
_DAY = {"field": "day", "type": "temporal", "timeUnit": "utcyearmonthdate", "title": "Day (UTC)",
        "axis": {"format": "%b %d", "labelAngle": 0, "tickCount": "day"}}
_MODEL = {"field": "model", "type": "nominal", "title": "Model",
          "legend": {"orient": "bottom", "columns": 1}}


def _chart(database: str, title: str, query: str, display: dict) -> dict:
    return {"title": title, "db": database, "query": query, "library": "vega-lite",
            "display": display}


def _charts(database: str) -> dict:
    return {
        "latency": _chart(database, "Latency per model, p50 solid and p95 dashed (seconds)", LATENCY_SQL, {
            # One row per day and model keeps a year of four models under Datasette's default
            # limit of 1,000 rows. The fold makes a row per percentile for the line marks.
            "transform": [{"fold": ["p50", "p95"], "as": ["percentile", "seconds"]}],
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": _DAY,
                "y": {"field": "seconds", "type": "quantitative", "title": "Seconds"},
                "color": _MODEL,
                # With the config that datasette-dashboards 0.8.0 gives vega-lite, the legend drew
                # no visible dash samples, so the title names the dashes instead.
                "strokeDash": {"field": "percentile", "type": "nominal", "legend": None,
                               "sort": ["p50", "p95"]},
                "tooltip": [{"field": "day", "type": "temporal"}, {"field": "model"},
                            {"field": "percentile"}, {"field": "seconds"},
                            {"field": "n", "title": "n"}],
            },
        }),
        "error_rate": _chart(database, "Error rate per model (%)", ERROR_RATE_SQL, {
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": _DAY,
                "y": {"field": "error_rate", "type": "quantitative", "title": "Errors (%)"},
                "color": _MODEL,
                "tooltip": [{"field": "day", "type": "temporal"}, {"field": "model"},
                            {"field": "errors"}, {"field": "requests"},
                            {"field": "error_rate", "title": "error rate (%)"}],
            },
        }),
        "errors_by_code": _chart(database, "Errors by status code", ERRORS_BY_CODE_SQL, {
            "mark": {"type": "bar"},
            "encoding": {
                "x": {**_DAY, "type": "ordinal",
                      "axis": {"format": "%b %d", "formatType": "utc", "labelAngle": 0}},
                "y": {"field": "errors", "type": "quantitative", "stack": "zero",
                      "title": "Errors"},
                "color": {"field": "code", "type": "nominal", "title": "Status code",
                          "legend": {"orient": "bottom"}},
                "tooltip": [{"field": "day", "type": "temporal"}, {"field": "code"},
                            {"field": "errors"}],
            },
        }),
        "tokens": _chart(database, "Tokens per day (prompt + completion)", TOKENS_SQL, {
            "mark": {"type": "bar"},
            "encoding": {
                "x": {**_DAY, "type": "ordinal",
                      "axis": {"format": "%b %d", "formatType": "utc", "labelAngle": 0}},
                "y": {"field": "tokens", "type": "quantitative", "stack": "zero",
                      "title": "Tokens"},
                "color": _MODEL,
                "tooltip": [{"field": "day", "type": "temporal"}, {"field": "model"},
                            {"field": "prompt_tokens"}, {"field": "completion_tokens"}],
            },
        }),
    }


DESCRIPTION = ("Latency, errors and tokens per UTC day. Filters apply to every chart; leave one "
               "empty to include everything.")


def dashboard_config(database: str, pending: int = 0) -> dict:
    """Return the datasette-dashboards configuration of one logs database's dashboard.

    pending is the number of entries that logs_daily does not contain yet. The description
    reports them when there are any.
    """
    filters = copy.deepcopy(FILTERS)
    for key in ("model", "workspace"):
        filters[key]["db"] = database
    description = DESCRIPTION
    if pending:
        description += (f" {pending:,} newer entries are not in the error and token charts yet: "
                        "the next claude-logs ingest adds them.")
    return copy.deepcopy({
        "title": f"Claude API requests: {database}",
        "description": description,
        "layout": [["latency", "error_rate"], ["errors_by_code", "tokens"]],
        "filters": filters,
        "charts": _charts(database),
    })


def outdated_dashboard(database: str) -> dict:
    """Return a dashboard that explains how to add the tables the charts need."""
    return {
        "title": f"Claude API requests: {database}",
        "description": "",
        "charts": {
            "upgrade": {
                "library": "markdown",
                "display": (
                    f"The database `{database}` was made by an older claude-logs and lacks the "
                    "`logs_daily` table that the charts read. Any claude-logs command that "
                    "opens it adds the table, for example `claude-logs report` on it."
                ),
            }
        },
    }


# path -> (file signature, inspection), so a page that reads the metadata many times opens
# each database once until it changes.
_inspections: dict[str, tuple[tuple, tuple[bool, int | None]]] = {}


def _signature(path: str) -> tuple:
    parts = []
    for name in (path, path + "-wal"):
        try:
            stat = os.stat(name)
        except OSError:
            parts.append(None)
        else:
            parts.append((stat.st_mtime_ns, stat.st_size))
    return tuple(parts)


def _inspect(path: str) -> tuple[bool, int | None]:
    """Return (has a logs table, entries missing from logs_daily or None without it)."""
    signature = _signature(path)
    cached = _inspections.get(path)
    if cached and cached[0] == signature:
        return cached[1]
    try:
        conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
        try:
            has_logs = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                    "AND name = 'logs'").fetchone() is not None
            result = (has_logs, pending_entries(conn) if has_logs else None)
        finally:
            conn.close()
    except sqlite3.Error:
        result = (False, None)
    _inspections[path] = (signature, result)
    return result


def dashboards(datasette) -> dict:
    """Return {slug: dashboard} for each attached database file that has a `logs` table."""
    result = {}
    for name, database in datasette.databases.items():
        if database.is_memory or not database.path:
            continue
        has_logs, pending = _inspect(database.path)
        if not has_logs:
            continue
        if pending is None:
            result[name] = outdated_dashboard(name)
        else:
            result[name] = dashboard_config(name, pending)
    return result


@hookimpl
def get_metadata(datasette, key, database, table):
    if key not in (None, "plugins"):
        return {}
    found = dashboards(datasette)
    if not found:
        return {}
    # A fresh dict on every call: datasette-dashboards edits the configuration it is given.
    return {"plugins": {PLUGIN: found}}

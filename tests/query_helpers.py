"""Shared helpers for the canned-query tests: synthetic pages, the real ingest, three runners."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUERY_NAMES = [
    "error_rates",
    "errors",
    "errors_by_code",
    "latency_percentiles",
    "slowest_requests",
    "slowest_small_prompts",
    "token_totals",
]


def make_entry(model, latency, start, *, error=None, prompt_tokens=10, completion_tokens=10,
               workspace="default", key=None, request_id=""):
    """Return a Console log entry with the keys of a real page; `error` is an object or text."""
    if isinstance(error, dict):
        error = json.dumps(error, separators=(",", ":"))
    return {
        "transport_type": "http",
        "model": model,
        "model_latency": latency,
        "prompt": None,
        "prompt_length": prompt_tokens * 4,
        "prompt_token_count": prompt_tokens,
        "completion_length": completion_tokens * 4,
        "completion_token_count": completion_tokens,
        "response": None,
        "tags": "{}",
        "error": "None" if error is None else error,
        "request_start_time": start,
        "request": json.dumps({"max_tokens": 1024, "model": model, "stream": False,
                               "metadata": {"user_id": request_id}}),
        "workspace_id": workspace,
        "api_key_uuid": key,
    }


def write_pages(folder: Path, entries: list[dict], per_page: int = 100) -> None:
    """Save the entries as Console pages (JSON arrays) of `per_page` entries each."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, start in enumerate(range(0, len(entries), per_page)):
        page = entries[start:start + per_page]
        (folder / f"page-{number:05d}.json").write_text(json.dumps(page))


def ingest(db: Path, folder: Path) -> None:
    """Ingest the folder with the real command line and fail the test if it reports a problem."""
    result = subprocess.run(
        [sys.executable, "-m", "ingest", "ingest", str(db), str(folder), "--silent"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr


def run_cli(db: Path, name: str, params: dict[str, str], output_format: str = "json"):
    """Run `claude-logs query` in a subprocess and return the parsed JSON rows."""
    command = [sys.executable, "-m", "ingest", "query", str(db), name, "--format", output_format]
    for key, value in params.items():
        command += ["-p", key, value]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if output_format == "json" else result.stdout


def run_sqlite3_shell(db: Path, name: str, params: dict[str, str]):
    """Run the query file in the sqlite3 shell with `.param set`, as the README shows."""
    script = [".mode json"]
    for key, value in params.items():
        # Quoted, the shell binds the value as text; bare, it would evaluate 2024-10-09 as 2005.
        script.append(f""".param set :{key} "'{value.replace("'", "''")}'\"""")
    script.append(f".read {REPO / 'queries' / (name + '.sql')}")
    result = subprocess.run(
        ["sqlite3", "-bail", str(db)], input="\n".join(script) + "\n",
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    # The shell prints nothing at all for an empty result.
    return json.loads(result.stdout) if result.stdout.strip() else []


def run_datasette_path(db: Path, path: str, params: dict[str, str] | None = None):
    """Fetch a JSON page from an in-process Datasette serving the database."""
    from datasette.app import Datasette

    async def fetch():
        datasette = Datasette([str(db)])
        response = await datasette.client.get(path, params=params or {})
        assert response.status_code == 200, response.text
        return response.json()

    return asyncio.run(fetch())


def run_datasette(db: Path, name: str, params: dict[str, str]):
    """Fetch the canned query's rows as JSON from an in-process Datasette."""
    return run_datasette_path(db, f"/{db.stem}/{name}.json", {**params, "_shape": "array"})

"""Helpers for the dashboard and report tests: synthetic pages, a real ingest, a Datasette
server on 127.0.0.1 and headless Chromium that may reach no other host."""

from __future__ import annotations

import json
import math
import random
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

BIN = Path(sys.executable).parent
ARTIFACTS = Path(__file__).parent / "artifacts"

MODELS = {
    "claude-3-5-haiku-20241022": 0.8,
    "claude-3-5-sonnet-20240620": 2.0,
    "claude-3-opus-20240229": 4.5,
}
WORKSPACES = ["default", "wrkspc_01TESTWORKSPACE000000001"]
ERROR_CODES = {429: True, 500: False, 529: False}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def synthetic_entries(days: int = 5, per_day: int = 60, seed: int = 3,
                      start: datetime = datetime(2024, 10, 7, tzinfo=timezone.utc)) -> list[dict]:
    """Return seeded entries for every model on every day, with some errors and NULL latencies."""
    rng = random.Random(seed)
    entries = []
    for day in range(days):
        for model, scale in MODELS.items():
            for _ in range(per_day):
                moment = start + timedelta(days=day, seconds=rng.randint(0, 86399),
                                           microseconds=rng.randint(1, 999999))
                error = "None"
                if rng.random() < 0.08:
                    code = rng.choice([*ERROR_CODES, None])
                    if code is None:
                        # Stored with an error_detail and no error_code.
                        error = "upstream connect error"
                    else:
                        error = json.dumps({"client_error": ERROR_CODES[code], "code": code,
                                            "detail": "synthetic failure"}, separators=(",", ":"))
                prompt_tokens = rng.randint(5, 3000)
                completion_tokens = 0 if error != "None" else rng.randint(1, 900)
                entries.append({
                    "transport_type": "http",
                    "model": model,
                    "model_latency": None if rng.random() < 0.03
                    else round(rng.lognormvariate(0, 0.5) * scale, 6),
                    "prompt": None,
                    "prompt_length": prompt_tokens * 4,
                    "prompt_token_count": prompt_tokens,
                    "completion_length": completion_tokens * 4,
                    "completion_token_count": completion_tokens,
                    "response": None,
                    "tags": "{}",
                    "error": error,
                    "request_start_time": str(moment),
                    "request": json.dumps({"max_tokens": 1024, "model": model}),
                    "workspace_id": rng.choice(WORKSPACES),
                    "api_key_uuid": f"00000000-0000-4000-8000-{rng.randint(1, 4):012d}",
                })
    rng.shuffle(entries)
    return entries


def write_pages(folder: Path, entries: list[dict], page_size: int = 100) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(0, len(entries), page_size):
        page = folder / f"page_index-{index // page_size}.json"
        page.write_text(json.dumps(entries[index:index + page_size]))


def ingest_with_cli(db: Path, folder: Path) -> None:
    """Run the installed `claude-logs ingest` on a folder; raise if it fails."""
    result = subprocess.run([str(BIN / "claude-logs"), "ingest", str(db), str(folder)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def build_fixture(tmp: Path, name: str = "fixture", **options) -> tuple[Path, list[dict]]:
    """Write synthetic pages under tmp and ingest them into tmp/<name>.db."""
    entries = synthetic_entries(**options)
    write_pages(tmp / f"{name}-pages", entries)
    db = tmp / f"{name}.db"
    ingest_with_cli(db, tmp / f"{name}-pages")
    return db, entries


def nearest_rank(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(percent * len(ordered) / 100) - 1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def datasette_server(*dbs: Path):
    """Serve the databases with the installed `datasette` on 127.0.0.1; yield the base URL."""
    port = _free_port()
    process = subprocess.Popen(
        [str(BIN / "datasette"), "serve", *map(str, dbs), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/-/versions.json", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    raise RuntimeError(f"datasette did not start on port {port}: {output}")
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def offline_page(allowed_host: str = "127.0.0.1"):
    """Yield (page, blocked, errors, allowed): a Chromium page whose requests to any host other
    than allowed_host are aborted and listed in blocked, the others listed in allowed; page
    errors land in errors."""
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    errors: list[str] = []
    allowed: list[str] = []

    def route(route):
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:", "file:")) or urlsplit(url).hostname == allowed_host:
            allowed.append(url)
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", route)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page, blocked, errors, allowed
        finally:
            browser.close()


# Runs before the page's scripts: wraps window.vegaEmbed as vega-embed defines it, so the test
# can reach each chart's vega View (by its container id) once the chart has rendered.
CAPTURE_VEGA_VIEWS = """
window.__views = {};
let embed;
Object.defineProperty(window, 'vegaEmbed', {
  configurable: true,
  get() { return embed; },
  set(original) {
    embed = (element, spec, options) => original(element, spec, options).then(result => {
      const id = typeof element === 'string' ? element : element.id;
      window.__views[id] = result.view;
      return result;
    });
    Object.assign(embed, original);
  },
});
"""

# Returns the values of `field` in the data of every drawn mark item (lines, points, bars),
# leaving out axes and legends, whose items have other roles.
MARK_VALUES = """
([id, field]) => {
  const values = new Set();
  let items = 0;
  const walk = (node) => {
    if (!node) return;
    if (node.marktype && node.role === 'mark' && node.marktype !== 'group') {
      for (const item of node.items || []) {
        items += 1;
        if (item.datum && item.datum[field] !== undefined) values.add(String(item.datum[field]));
      }
      return;
    }
    for (const child of node.items || []) walk(child);
  };
  walk(window.__views[id].scenegraph().root);
  return {items, values: [...values].sort()};
}
"""

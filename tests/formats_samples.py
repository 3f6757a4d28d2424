"""Synthetic log entries, pages and HAR captures in the shapes Chromium and Firefox save.

The HAR shapes follow HAR 1.2 with each browser's own fields: Chromium (DevTools "Export
HAR") adds underscore fields such as _resourceType and _transferSize and names itself
"WebInspector"; Firefox ("Save All As HAR") adds _securityState and a browser object, and
without response bodies writes a content comment in place of the text.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import make_entry

LOGS_URL = "https://console.example.com/api/logs/org_0001?page_size=100&page_index={}"
OTHER_URL = "https://console.example.com/api/organizations/org_0001/workspaces"


_ERROR = '{"client_error":false,"code":500,"detail":"Internal server error"}'


def page_text(first: int, count: int) -> str:
    """Return a page as the Console sends it: a JSON array of entries."""
    entries = [
        make_entry(number, error=_ERROR if number % 5 == 0 else "None")
        for number in range(first, first + count)
    ]
    return json.dumps(entries, indent=1)


def _chromium_entry(url: str, status: int, content: dict, method: str = "GET") -> dict:
    return {
        "_initiator": {"type": "script"},
        "_priority": "High",
        "_resourceType": "fetch",
        "cache": {},
        "connection": "443",
        "pageref": "page_1",
        "request": {
            "method": method,
            "url": url,
            "httpVersion": "http/2.0",
            "headers": [{"name": ":method", "value": method}],
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "http/2.0",
            "headers": [{"name": "content-type", "value": content.get("mimeType", "")}],
            "cookies": [],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "_transferSize": 812,
            "_error": None,
            "_fetchedViaServiceWorker": False,
        },
        "serverIPAddress": "192.0.2.10",
        "startedDateTime": "2024-10-09T05:10:00.000Z",
        "time": 120.5,
        "timings": {"blocked": 1.2, "dns": -1, "ssl": -1, "connect": -1, "send": 0.1,
                    "wait": 110.0, "receive": 9.2, "_blocked_queueing": 0.8},
    }


def _firefox_entry(url: str, status: int, content: dict, method: str = "GET") -> dict:
    return {
        "startedDateTime": "2024-10-09T05:10:00.000+00:00",
        "request": {
            "bodySize": 0,
            "method": method,
            "url": url,
            "httpVersion": "HTTP/2",
            "headers": [{"name": "Host", "value": "console.example.com"}],
            "cookies": [],
            "queryString": [],
            "headersSize": 612,
        },
        "response": {
            "status": status,
            "statusText": "OK" if status == 200 else "Error",
            "httpVersion": "HTTP/2",
            "headers": [{"name": "content-type", "value": content.get("mimeType", "")}],
            "cookies": [],
            "content": content,
            "redirectURL": "",
            "headersSize": 402,
            "bodySize": 1203,
        },
        "cache": {},
        "timings": {"blocked": 0, "dns": 0, "connect": 0, "ssl": 0, "send": 0, "wait": 118,
                    "receive": 2},
        "time": 120,
        "_securityState": "secure",
        "serverIPAddress": "192.0.2.10",
        "connection": "443",
        "pageref": "page_1",
    }


BROWSERS = {"chromium": _chromium_entry, "firefox": _firefox_entry}


def json_content(text: str, base64_encoded: bool = False, with_body: bool = True,
                 browser: str = "chromium") -> dict:
    content = {"size": len(text.encode()), "mimeType": "application/json"}
    if not with_body:
        if browser == "firefox":
            content["comment"] = "Response bodies are not included."
        return content
    if base64_encoded:
        content["text"] = base64.b64encode(text.encode()).decode()
        content["encoding"] = "base64"
    else:
        content["text"] = text
    return content


def har(browser: str, entries: list[dict]) -> dict:
    log = {
        "version": "1.2",
        "creator": {"name": "WebInspector", "version": "537.36"}
        if browser == "chromium" else {"name": "Firefox", "version": "128.0"},
        "pages": [{
            "startedDateTime": "2024-10-09T05:09:59.000Z",
            "id": "page_1",
            "title": "https://console.example.com/settings/logs",
            "pageTimings": {"onContentLoad": 300, "onLoad": 500},
        }],
        "entries": entries,
    }
    if browser == "firefox":
        log["browser"] = {"name": "Firefox", "version": "128.0"}
    return {"log": log}


def har_entry(browser: str, url: str, status: int, content: dict, method: str = "GET") -> dict:
    return BROWSERS[browser](url, status, content, method)


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run claude-logs in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "ingest", *args], input=stdin, capture_output=True, check=False
    )


def stored(db_path: Path) -> set[tuple[str, str]]:
    """Return the (content_hash, raw) pairs in a database's logs table."""
    with sqlite3.connect(db_path) as conn:
        return set(conn.execute("SELECT content_hash, raw FROM logs"))


def write_pages(folder: Path, pages: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, text in enumerate(pages):
        path = folder / f"page-{number}.json"
        path.write_text(text)
        paths.append(path)
    return paths

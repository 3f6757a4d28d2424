"""A wheel installed in a new virtual environment serves every canned query in plain Datasette."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import zipfile

import pytest

from query_helpers import QUERY_NAMES, REPO, ingest, make_entry, write_pages


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def wait_for(url: str, server: subprocess.Popen, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while True:
        try:
            return get_json(url)
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build the wheel and install it in a new virtual environment; return (wheel, venv bin)."""
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(folder / "dist"),
         str(REPO)],
        check=True, capture_output=True,
    )
    wheel = next((folder / "dist").glob("claude_logs-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True)
    bin_dir = folder / "venv" / "bin"
    subprocess.run([str(bin_dir / "pip"), "install", "--quiet", str(wheel)], check=True,
                   capture_output=True)
    return wheel, bin_dir


def test_wheel_contains_queries(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    for name in QUERY_NAMES:
        assert f"ingest/sql/{name}.sql" in names


def test_installed_cli_lists_queries(installed, tmp_path):
    _, bin_dir = installed
    # Run from an empty folder, so the queries can only come from the installed package.
    result = subprocess.run([str(bin_dir / "claude-logs"), "queries"], cwd=tmp_path,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    for name in QUERY_NAMES:
        assert f"\n{name}: " in "\n" + result.stdout


def test_installed_datasette_lists_queries(installed, tmp_path):
    _, bin_dir = installed
    write_pages(tmp_path / "pages", [
        make_entry("claude-3-haiku-20240307", 0.5, "2024-10-09 05:30:00.750000+00:00"),
    ])
    db = tmp_path / "fixture.db"
    ingest(db, tmp_path / "pages")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("create table notes (body text)")

    port = free_port()
    server = subprocess.Popen(
        [str(bin_dir / "datasette"), "serve", str(db), str(other), "-h", "127.0.0.1",
         "-p", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/-/versions.json", server)
        plugins = get_json(f"{base}/-/plugins.json")
        listed = get_json(f"{base}/fixture.json")["queries"]
        none_listed = get_json(f"{base}/other.json")["queries"]
        rows = get_json(f"{base}/fixture/slowest_requests.json?_shape=array&limit=1")
    finally:
        server.terminate()
        server.wait(timeout=10)

    plugin_names = [plugin["name"] for plugin in plugins]
    assert "claude-logs" in plugin_names
    assert "datasette-pretty-json" in plugin_names
    assert sorted(query["name"] for query in listed) == QUERY_NAMES
    assert none_listed == []
    assert [row["model_latency"] for row in rows] == [0.5]

"""Write the README's screenshots, docs/dashboard.png and docs/report.png, from the bundled
synthetic sample in examples/logs.

    .venv/bin/python docs/screenshots.py

Needs Chromium at /usr/bin/chromium and the `test` extra (Playwright). Datasette listens on
127.0.0.1 only, and the browser aborts every request to another host.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"datasette did not respond at {url} within 30 s")
            time.sleep(0.2)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "demo.db"
        report = Path(folder) / "report.html"
        subprocess.run([str(BIN / "claude-logs"), "ingest", "--silent", str(db),
                        str(ROOT / "examples" / "logs")], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([str(BIN / "claude-logs"), "report", str(db), "--since", "2024-10-06",
                        "--until", "2024-10-09", "--format", "html", "-o", str(report)],
                       check=True)
        port = free_port()
        server = subprocess.Popen([str(BIN / "datasette"), "serve", str(db), "--host",
                                   "127.0.0.1", "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        blocked: list[str] = []

        def route(route):
            url = route.request.url
            if url.startswith(("data:", "file:")) or urlsplit(url).hostname == "127.0.0.1":
                route.continue_()
            else:
                blocked.append(url)
                route.abort()

        try:
            wait_for(f"http://127.0.0.1:{port}/-/versions.json", server)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                     args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.route("**/*", route)
                page.goto(f"http://127.0.0.1:{port}/-/dashboards/demo")
                page.wait_for_selector("#chart-tokens canvas, #chart-tokens svg")
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(ROOT / "docs" / "dashboard.png"), full_page=True)
                page.goto(report.as_uri())
                page.screenshot(path=str(ROOT / "docs" / "report.png"),
                                clip={"x": 0, "y": 0, "width": 1200, "height": 1150})
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    if blocked:
        raise SystemExit(f"the pages requested other hosts: {blocked}")
    print("Wrote docs/dashboard.png and docs/report.png")


if __name__ == "__main__":
    main()

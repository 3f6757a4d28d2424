"""A canned query's form, filled in and submitted in headless Chromium, shows the matching rows."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from query_helpers import ingest, make_entry, write_pages
from test_queries_wheel import free_port, wait_for

CHROMIUM = shutil.which("chromium")

SONNET = "claude-3-5-sonnet-20240620"
HAIKU = "claude-3-haiku-20240307"
SERVER_ERROR = {"client_error": False, "code": 500, "detail": "Internal server error"}


@pytest.fixture()
def server(tmp_path):
    write_pages(tmp_path / "pages", [
        make_entry(SONNET, 7.25, "2024-10-09 06:00:00.500000+00:00", error=SERVER_ERROR),
        make_entry(SONNET, 2.0, "2024-10-09 07:00:00.500000+00:00",
                   error={"client_error": False, "code": 529, "detail": "Overloaded"}),
        make_entry(HAIKU, 3.75, "2024-10-09 05:45:00.125000+00:00",
                   error={"client_error": True, "code": 429, "detail": "Rate limited"}),
        make_entry(HAIKU, 0.5, "2024-10-09 05:30:00.750000+00:00"),
    ])
    db = tmp_path / "fixture.db"
    ingest(db, tmp_path / "pages")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", str(db), "-h", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/-/versions.json", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_errors_form_filters_by_model(server, tmp_path):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "Debian's chromium is missing: apt-get install chromium (.ci/run does)"

    with sync_playwright() as playwright:
        # Playwright adds --headless and takes the fresh profile folder as an argument.
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"],
        )
        try:
            page = browser.new_page()
            page.goto(f"{server}/fixture/errors")
            unfiltered = page.locator("table.rows-and-columns tbody tr").count()
            page.fill("form.sql input[name=model]", SONNET)
            with page.expect_navigation():
                page.click("form.sql input[type=submit]")
            url = page.url
            models = page.locator("table.rows-and-columns td.col-model").all_inner_texts()
            codes = page.locator("table.rows-and-columns td.col-error_code").all_inner_texts()
        finally:
            browser.close()

    assert unfiltered == 3
    assert f"model={SONNET}" in url
    assert [model.strip() for model in models] == [SONNET, SONNET]
    assert [code.strip() for code in codes] == ["529", "500"]

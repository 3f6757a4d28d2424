"""Read the Console's log pages out of a HAR capture (HTTP Archive 1.2, as browsers save it).

A HAR file is a JSON object {"log": {"entries": [...]}} with one entry per request. An entry
whose request URL path contains LOG_PATH and whose response succeeded contains a log page in
response.content.text, as plain text or, with "encoding": "base64", base64-encoded bytes.
Chromium and Firefox both write that shape. Each page goes through parse_page, exactly as a
saved page file does, so its entries get the same content hashes.
"""

from __future__ import annotations

import base64
import binascii
from typing import Iterator
from urllib.parse import urlsplit

from .pages import Page, PageError, parse_page

LOG_PATH = "/api/logs/"

# The array of requests inside a HAR document, as a path of keys from the root.
ENTRIES_PATH = ("log", "entries")

# Requests that never carry a page: CORS preflights and HEAD.
_BODILESS_METHODS = frozenset({"OPTIONS", "HEAD"})

HOW_TO_SAVE_WITH_CONTENT = (
    "save it again with response bodies: in the browser's DevTools Network panel, "
    'Chromium\'s "Export HAR" (older versions: "Save all as HAR with content") or '
    'Firefox\'s "Save All As HAR" with devtools.netmonitor.har.includeResponseBodies on'
)


def is_har(value) -> bool:
    """Tell whether a parsed JSON document has the shape of a HAR file."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("log"), dict)
        and isinstance(value["log"].get("entries"), list)
    )


class HarReader:
    """Pick the log pages out of a HAR's entries, counting what it skipped and why.

    Feed each HAR entry to pages_in(), then call finish(), which raises PageError when the
    capture held no log page at all. problems lists log responses that could not be read
    (the rest of the capture still lands), notes lists log responses skipped on purpose.
    """

    def __init__(self):
        self.requests = 0
        self.log_responses = 0
        self.log_pages = 0
        self.without_content = 0
        self.problems: list[str] = []
        self.notes: list[str] = []

    def pages_in(self, index: int, entry) -> Iterator[Page]:
        """Yield the log page that one HAR entry contains, if it contains one."""
        self.requests += 1
        if not isinstance(entry, dict):
            return
        request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
        url = request.get("url") if isinstance(request.get("url"), str) else ""
        if LOG_PATH not in urlsplit(url).path:
            return
        method = str(request.get("method", "GET")).upper()
        if method in _BODILESS_METHODS:
            return

        self.log_responses += 1
        response = entry.get("response") if isinstance(entry.get("response"), dict) else {}
        status = response.get("status")
        label = f"HAR entry {index} ({method} {url})"
        if not isinstance(status, int) or not 200 <= status < 300:
            # Chromium writes status 0 for a request that failed or was blocked.
            self.notes.append(f"{label} skipped: HTTP status {status}, so it contains no log page")
            return

        content = response.get("content") if isinstance(response.get("content"), dict) else {}
        text = content.get("text")
        if not isinstance(text, str):
            self.without_content += 1
            self.problems.append(f"{label}{_NO_CONTENT}")
            return
        try:
            data = _content_bytes(text, content.get("encoding"))
            page = parse_page(data)
        except PageError as error:
            self.problems.append(f"{label}: the response {error}; its page was not stored")
            return
        self.log_pages += 1
        page.origin = f"log page {self.log_pages} ({url}): "
        yield page

    def finish(self) -> None:
        """Raise PageError when the capture held no log page that could be read."""
        if self.log_responses == 0:
            raise PageError(
                f"is a HAR capture with no responses from a URL whose path contains "
                f"{LOG_PATH} ({_count(self.requests, 'request')} in all). Record the capture on the "
                "Console's logs page, with the DevTools Network panel open while the pages load"
            )
        if self.log_pages > 0:
            return
        if self.without_content == self.log_responses:
            # The file's one line gives the reason, so a line per response would only repeat it.
            self.problems[:] = [
                problem for problem in self.problems if not problem.endswith(_NO_CONTENT)
            ]
            raise PageError(
                f"is a HAR capture saved without response content "
                f"({_count(self.log_responses, 'log response')}, none with a body); "
                f"{HOW_TO_SAVE_WITH_CONTENT}"
            )
        raise PageError(
            f"is a HAR capture whose {self.log_responses} log responses hold no readable "
            "log page (each one is listed above)"
        )


_NO_CONTENT = " has no response content, so its page was not read"


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _content_bytes(text: str, encoding) -> bytes:
    if encoding == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as error:
            raise PageError(f"content is not valid base64 ({error})") from None
    if encoding not in (None, ""):
        raise PageError(f'content has the encoding "{encoding}", which is not supported')
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise PageError("content contains a lone UTF-16 surrogate, so it is not valid text") from None

"""Read JSON Lines (.jsonl, .ndjson): one log entry per line, read one line at a time.

A line that is not a JSON object is rejected with its line number and the other lines land,
because each line is independent of the others. Blank lines are skipped.
"""

from __future__ import annotations

import codecs
from typing import BinaryIO, Iterator

from .pages import EntryError, Page, PageError, add_entry, check_start, parse_entry


def read_json_lines(stream: BinaryIO, prefix: bytes, entries_per_page: int) -> Iterator[Page]:
    """Yield the entries of a JSON Lines stream in pages of about entries_per_page lines.

    prefix contains the bytes already read from the start of stream. Raises PageError when the
    file as a whole is unusable (empty, HTML, UTF-16) or contains no line at all.
    """
    if prefix.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise PageError("is UTF-16 text; JSON Lines must be UTF-8, so convert it first")
    prefix = check_start(prefix)
    page = Page(position="line")
    lines = 0
    for number, line in enumerate(_lines(stream, prefix), start=1):
        if not line.strip():
            continue
        lines += 1
        try:
            value, from_stdlib = parse_entry(line.strip())
        except EntryError as error:
            page.rejected.append((number, str(error)))
        else:
            add_entry(page, number, value, from_stdlib)
        if page.entries_read >= entries_per_page:
            yield page
            page = Page(position="line")
    if lines == 0:
        raise PageError("contains only whitespace")
    yield page


def _lines(stream: BinaryIO, prefix: bytes) -> Iterator[bytes]:
    head, newline, rest = prefix.rpartition(b"\n")
    if newline:
        yield from head.split(b"\n")
        carry = rest
    else:
        carry = prefix
    # The first line read from the stream continues the prefix's unfinished last line.
    for line in stream:
        if carry:
            line = carry + line
            carry = b""
        yield line
    if carry:
        yield carry

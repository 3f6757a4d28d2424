"""Open an input (a file or standard input), detect its format and read it as log pages.

Formats: a page (a JSON array of entries), a page wrapped in an object (see WRAPPER_KEYS in
pages.py), a HAR capture, and JSON Lines; any of them gzip-compressed. The suffixes
.jsonl and .ndjson select JSON Lines, and everything else is recognised by its content.

An input up to STREAM_THRESHOLD bytes (after decompression) is parsed whole with orjson, the
fast path for ordinary pages. A larger one is split into elements that are parsed one at a
time, so memory does not grow with the size of the file.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import itertools
import tempfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

import orjson

from .har import ENTRIES_PATH, HarReader, is_har
from .jsonlines import read_json_lines
from .pages import (
    WRAPPER_KEYS, EntryError, Page, PageError, add_entry, check_start, load_document,
    page_from_value, parse_entry,
)
from .sources import JSON_LINES_SUFFIXES, Source
from .streaming import READ_SIZE, Utf16ToUtf8, iter_elements

# Inputs larger than this (decompressed) are read in pieces. A parsed page takes several
# times its size in Python objects: a 4 MB page parsed whole peaked at 100 MB RSS, against
# 57 MB for a 100 MB page read in pieces (pages made by bench/formats_memory.py).
STREAM_THRESHOLD = 2 * 2**20

# Entries per page handed to the loader when a large input is read in pieces.
ENTRIES_PER_PAGE = 1_000

_GZIP_MAGIC = b"\x1f\x8b"
_WRAPPED_PATHS = {(key,) for key in WRAPPER_KEYS}


@dataclass
class Input:
    """An input opened for reading: its binary stream, the SHA-256 of its bytes and size."""

    file: BinaryIO
    sha256: str
    size: int


def open_input(source: Source, stdin: BinaryIO) -> Input:
    """Open a file, or copy standard input to a temporary file, hashing the bytes on the way.

    The caller closes Input.file. Raises OSError when the input cannot be read.
    """
    digest = hashlib.sha256()
    if source.is_stdin:
        # Standard input is spooled so that it can be hashed before it is parsed, as files are.
        file = tempfile.SpooledTemporaryFile(max_size=STREAM_THRESHOLD)
        size = 0
        while chunk := stdin.read(READ_SIZE):
            digest.update(chunk)
            file.write(chunk)
            size += len(chunk)
        file.seek(0)
        return Input(file, digest.hexdigest(), size)

    file = open(source.path, "rb")
    try:
        head = file.read(STREAM_THRESHOLD + 1)
        digest.update(head)
        if len(head) <= STREAM_THRESHOLD:
            file.close()
            return Input(io.BytesIO(head), digest.hexdigest(), len(head))
        size = len(head)
        while chunk := file.read(READ_SIZE):
            digest.update(chunk)
            size += len(chunk)
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return Input(file, digest.hexdigest(), size)


@dataclass
class Document:
    """One input read as log pages.

    Iterate pages() once. It raises PageError when the input as a whole is unusable, which
    can happen after some pages were yielded, so the caller must be able to undo them.
    problems lists parts of the input that were not read, while the rest lands. notes lists
    parts skipped on purpose; log_pages counts the pages of a HAR capture (None otherwise).
    """

    stream: BinaryIO
    json_lines: bool
    # None means the module's STREAM_THRESHOLD and ENTRIES_PER_PAGE at read time.
    threshold: int | None = None
    entries_per_page: int | None = None
    log_pages: int | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def pages(self) -> Iterator[Page]:
        if self.threshold is None:
            self.threshold = STREAM_THRESHOLD
        if self.entries_per_page is None:
            self.entries_per_page = ENTRIES_PER_PAGE
        stream = _decompressed(self.stream)
        prefix = stream.read(self.threshold + 1)
        if self.json_lines or _looks_like_json_lines(prefix):
            yield from read_json_lines(stream, prefix, self.entries_per_page)
        elif len(prefix) <= self.threshold:
            yield from self._read_whole(prefix)
        else:
            yield from self._read_in_pieces(stream, prefix)

    def _read_whole(self, data: bytes) -> Iterator[Page]:
        value, from_stdlib = load_document(data)
        if is_har(value):
            yield from self._read_har(enumerate(value["log"]["entries"]))
        else:
            yield page_from_value(value, from_stdlib)

    def _read_har(self, entries) -> Iterator[Page]:
        har = HarReader()
        try:
            for index, entry in entries:
                yield from har.pages_in(index, entry)
            # finish() may replace the per-response problems with one for the whole file.
            har.finish()
        finally:
            self.log_pages = har.log_pages
            self.problems.extend(har.problems)
            self.notes.extend(har.notes)

    def _read_in_pieces(self, stream: BinaryIO, prefix: bytes) -> Iterator[Page]:
        for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
            if prefix.startswith(bom):
                stream = Utf16ToUtf8(_Chain(prefix[len(bom):], stream), encoding)
                prefix = stream.read(self.threshold)
                break
        prefix = check_start(prefix)
        first = prefix.lstrip()[:1]
        if first not in (b"[", b"{"):
            raise PageError("is not a log page, which is a JSON array of entries")

        array_keys: list = []  # keys of the root object that hold arrays
        wrappers: list = []

        def wanted(path) -> bool:
            if len(path) == 1:
                array_keys.append(path[0])
            if path in _WRAPPED_PATHS:
                wrappers.append(path[0])
                if len(wrappers) > 1:
                    raise PageError(
                        "is a JSON object with lists of entries under more than one key "
                        f"({', '.join(wrappers)}), so the page it wraps is ambiguous"
                    )
            return path == () or path == ENTRIES_PATH or path in _WRAPPED_PATHS

        elements = iter_elements(stream, prefix, wanted)
        first_element = next(elements, None)
        if first_element is not None and first_element[0] == ENTRIES_PATH:
            har_entries = (
                (index, _load_har_entry(element, index))
                for path, index, element in itertools.chain([first_element], elements)
                if path == ENTRIES_PATH
            )
            yield from self._read_har(har_entries)
            return

        page = Page()
        rest = itertools.chain([first_element] if first_element else [], elements)
        for _, index, element in rest:
            try:
                value, from_stdlib = parse_entry(element)
            except EntryError as error:
                raise PageError(f"entry {index} {error}") from None
            add_entry(page, index, value, from_stdlib)
            if page.entries_read >= self.entries_per_page:
                yield page
                page = Page()

        if first == b"{" and not wrappers:
            keys = ", ".join(str(key) for key in array_keys[:5]) or "none"
            raise PageError(
                f"is a JSON object without a list of entries under any of the keys "
                f"{', '.join(WRAPPER_KEYS)} (keys that hold lists: {keys}), so it is not a log page"
            )
        yield page


def _load_har_entry(element: bytes, index: int):
    try:
        return orjson.loads(element)
    except orjson.JSONDecodeError as error:
        raise PageError(f"is not valid JSON in HAR entry {index}: {error}") from None


def _looks_like_json_lines(prefix: bytes) -> bool:
    """Tell JSON Lines from a single JSON document by its first two lines.

    The first line must be a whole JSON object on its own, and the next non-blank line must
    start another one. A pretty-printed object fails the first test, a one-line page or HAR
    capture the second.
    """
    text = prefix.lstrip()
    if text.startswith(codecs.BOM_UTF8):
        text = text[len(codecs.BOM_UTF8):].lstrip()
    if not text.startswith(b"{"):
        return False
    first, newline, rest = text.partition(b"\n")
    if not newline or not rest.lstrip().startswith(b"{"):
        return False
    try:
        return isinstance(orjson.loads(first), dict)
    except orjson.JSONDecodeError:
        return False


class _Chain:
    """A binary stream that reads bytes already in memory, then the rest of another stream."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self.head = head
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size < 0 or size >= len(self.head):
                head, self.head = self.head, b""
                return head
            head, self.head = self.head[:size], self.head[size:]
            return head
        return self.stream.read(size)


class _GzipErrors:
    """A gzip stream whose read errors become PageError, so that they fail only the file."""

    def __init__(self, stream: gzip.GzipFile):
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        try:
            return self.stream.read(size)
        except (OSError, EOFError, zlib.error) as error:
            raise PageError(_gzip_reason(error)) from None

    def __iter__(self):
        while True:
            try:
                line = self.stream.readline()
            except (OSError, EOFError, zlib.error) as error:
                raise PageError(_gzip_reason(error)) from None
            if not line:
                return
            yield line


def _gzip_reason(error: Exception) -> str:
    if isinstance(error, EOFError):
        return "is a gzip file that ends early (an interrupted download?)"
    return f"is not a valid gzip file: {error}"


def _decompressed(stream: BinaryIO):
    head = stream.read(2)
    stream.seek(0)
    if head == _GZIP_MAGIC:
        return _GzipErrors(gzip.GzipFile(fileobj=stream, mode="rb"))
    return stream


def is_json_lines(path: str) -> bool:
    """Tell whether a path's suffix (ignoring .gz) names a JSON Lines file."""
    name = path.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return name.endswith(JSON_LINES_SUFFIXES)

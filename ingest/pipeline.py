"""Read, hash and parse inputs into `logs` rows, in a worker process when there are many.

Parsing and row building are pure Python and take about as long as SQLite's inserts. A
second process therefore prepares the next files while the main process writes, so on two
idle cores a large ingest takes roughly the longer of the two instead of their sum. Only the
main process touches the database, so the per-file transactions work as without a worker.

An input becomes a stream of messages: Opened (its hash, before any parse), then a
PreparedPage for each page read, then Finished. When an input cannot be opened, Finished
comes alone. The loader consumes the same stream whether a worker produced it or not.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator, Union

from .canonical import content_hash
from .pages import Page, PageError
from .reader import Document, is_json_lines, open_input
from .rows import SOURCE_COLUMNS, base_row, column_type, to_sqlite
from .sources import Source

# Below this many files to read, a worker's start-up costs more than it saves.
WORKER_MIN_FILES = 16
# Entries whose digests are remembered to skip repeats. A page saved again repeats entries
# from pages saved shortly before, so a window this size catches nearly all repeats, and
# its memory (an estimated 8 to 15 MB) does not grow with the run.
RECENT_DIGESTS = 50_000
# The worker sends the messages of an input together once they hold this many entries, or
# at the input's end: one send per ordinary page, and bounded memory for a large input.
ENTRIES_PER_SEND = 1_000

_KNOWN_KEYS = frozenset(SOURCE_COLUMNS)
# Exceptions that fail one input while it is parsed. RecursionError, ValueError and TypeError
# are limits of the parsers (nesting depth, integer digits): one hostile file must not stop
# the run.
PARSE_ERRORS = (PageError, OSError, RecursionError, ValueError, TypeError)


@dataclass
class Opened:
    """An input was opened and hashed. parsed is False when its pages will not follow."""

    sha256: str
    size: int
    parsed: bool = True


@dataclass
class PreparedPage:
    """A page's rows of BASE_COLUMNS, with the values of keys outside SOURCE_COLUMNS.

    extra_keys maps each such key, in sorted order, to the SQLite type its values in the
    page need (None while all are null) and one value per row.
    """

    rows: list[list]
    extra_keys: dict[str, tuple[str | None, list]]
    entries_read: int
    # Rejections as they follow the input's path: "entry 3 has the key ... twice".
    rejected: list[str]
    # Digests of entries left out of rows because an earlier page of this run already had
    # them. The writer needs them if that earlier page then fails to store.
    repeated: list[str] = field(default_factory=list)


@dataclass
class Finished:
    """The end of an input. error is set when it failed as a whole."""

    error: str | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    log_pages: int | None = None


Message = Union[Opened, PreparedPage, Finished]


class RecentDigests:
    """The digests of the last `capacity` to 2 * `capacity` entries prepared in this process."""

    def __init__(self, capacity: int = RECENT_DIGESTS):
        self.capacity = capacity
        self.current: set[str] = set()
        self.previous: set[str] = set()

    def seen(self, digest: str) -> bool:
        """Return whether digest was added before, and add it."""
        if digest in self.current or digest in self.previous:
            return True
        if len(self.current) >= self.capacity:
            self.previous = self.current
            self.current = set()
        self.current.add(digest)
        return False


def parse_failure_reason(error: Exception) -> str:
    """Return the ledger's reason for an input whose parse raised one of PARSE_ERRORS."""
    if isinstance(error, PageError):
        return str(error)
    if isinstance(error, OSError):
        return f"cannot be read: {error.strerror or error}"
    # RecursionError comes from Python's parser and recursion limit; orjson raises a
    # TypeError past 254 levels when serialising.
    if isinstance(error, RecursionError) or "Recursion limit" in str(error):
        return "nests arrays or objects too deeply (hundreds of levels) to be read"
    # Such as Python's limit of 4,300 digits for an integer, whose remedy after the
    # semicolon is for programmers.
    return f"cannot be read: {str(error).split(';')[0]}"


def prepare_page(page: Page, recent: RecentDigests | None) -> PreparedPage:
    """Build the rows of a parsed page. With recent, entries it has seen are left out."""
    rows = []
    stored_values = []
    repeated = []
    for entry in page.entries:
        digest = content_hash(entry.canonical)
        if recent is not None and recent.seen(digest):
            repeated.append(digest)
        else:
            rows.append(base_row(entry.value, entry.canonical, digest))
            stored_values.append(entry.value)

    keys: set[str] = set()
    for entry in page.entries:
        if not _KNOWN_KEYS.issuperset(entry.value):
            keys.update(entry.value.keys() - _KNOWN_KEYS)
    extra_keys = {}
    for key in sorted(keys):
        # The type comes from every entry of the page, as if none were left out.
        kind = column_type(entry.value.get(key) for entry in page.entries)
        extra_keys[key] = (kind, [to_sqlite(value.get(key)) for value in stored_values])

    rejected = [f"{page.origin}{page.position} {index} {reason}"
                for index, reason in page.rejected]
    return PreparedPage(rows, extra_keys, page.entries_read, rejected, repeated)


def prepare_input(
    source: Source,
    stdin: BinaryIO | None,
    recent: RecentDigests | None,
    skip_parse: Callable[[str], bool] = lambda sha256: False,
) -> Iterator[Message]:
    """Open, hash and parse one input, yielding its messages.

    The input is parsed only when the consumer requests the message after Opened and
    skip_parse(sha256) is false, so closing the generator after Opened skips the parse.
    """
    try:
        opened = open_input(source, stdin if stdin is not None else sys.stdin.buffer)
    except OSError as error:
        yield Finished(f"cannot be read: {error.strerror or error}")
        return
    with opened.file:
        if skip_parse(opened.sha256):
            yield Opened(opened.sha256, opened.size, parsed=False)
            return
        yield Opened(opened.sha256, opened.size)
        document = Document(opened.file, json_lines=is_json_lines(source.path))
        error = None
        try:
            for page in document.pages():
                yield prepare_page(page, recent)
        except PARSE_ERRORS as caught:
            error = parse_failure_reason(caught)
        yield Finished(error, document.problems, document.notes, document.log_pages)


def _process_context():
    # fork starts the worker in milliseconds and the worker never touches the parent's
    # SQLite connection. Elsewhere fork is unsafe (macOS) or missing (Windows).
    return multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")


class WorkerError(RuntimeError):
    """The worker process failed unexpectedly; the message contains its traceback."""


def _prepare_all(sources: list[Source], known_sha256: set[str], connection) -> None:
    """Worker process: send the messages of each input, in order, through connection.

    An input whose bytes match known_sha256, or an input prepared earlier in this run, is
    hashed but not parsed: the writer most likely skips it, and parses it itself if not.
    """
    recent = RecentDigests()
    sent_sha256: set[str] = set()

    def skip_parse(sha256: str) -> bool:
        if sha256 in known_sha256 or sha256 in sent_sha256:
            return True
        sent_sha256.add(sha256)
        return False

    try:
        for source in sources:
            batch: list[Message] = []
            entries = 0
            for message in prepare_input(source, None, recent, skip_parse):
                batch.append(message)
                if isinstance(message, PreparedPage):
                    entries += message.entries_read
                if entries >= ENTRIES_PER_SEND:
                    connection.send(batch)
                    batch, entries = [], 0
            connection.send(batch)
    except BaseException:
        connection.send(WorkerError(traceback.format_exc()))
    finally:
        connection.close()


class Preparer:
    """Hand out each input's messages, from a worker process when there are many files.

    Call messages() for each source in the order given to the constructor. Standard input
    is always read in this process, when its turn comes.
    """

    def __init__(self, sources: list[Source], stdin: BinaryIO | None,
                 known_sha256: Callable[[], set[str]]):
        self.stdin = stdin
        self.recent = RecentDigests()
        self.worker = None
        self.receiver = None
        self.pending: list[Message] = []
        files = [source for source in sources if not source.is_stdin]
        if len(files) < WORKER_MIN_FILES or (os.cpu_count() or 1) < 2:
            return
        # The results arrive through a pipe and are unpickled in this thread. A pool's result
        # thread would compete for the GIL with executemany, which takes it back after every
        # row. The pipe's small buffer also stops the worker once it is a send or two ahead.
        context = _process_context()
        self.receiver, sender = context.Pipe(duplex=False)
        self.worker = context.Process(
            target=_prepare_all, args=(files, known_sha256(), sender), daemon=True
        )
        self.worker.start()
        sender.close()

    def messages(self, source: Source) -> Iterator[Message]:
        """Yield the messages of source. Closing the iterator early discards the rest."""
        if self.worker is None or source.is_stdin:
            return prepare_input(source, self.stdin, self.recent)
        return self._from_worker()

    def prepare_here(self, source: Source) -> Iterator[Message]:
        """Yield the messages of source parsed in this process, with every entry in rows."""
        return prepare_input(source, self.stdin, None)

    def _from_worker(self) -> Iterator[Message]:
        finished = False
        try:
            while not finished:
                message = self._receive()
                finished = isinstance(message, Finished) or (
                    isinstance(message, Opened) and not message.parsed
                )
                yield message
        finally:
            # Drain what is left of this input, so that the next one starts at its Opened.
            while not finished:
                message = self._receive()
                finished = isinstance(message, Finished)

    def _receive(self) -> Message:
        while not self.pending:
            try:
                batch = self.receiver.recv()
            except EOFError:
                raise WorkerError(
                    f"the file-reading worker process stopped (exit code {self.worker.exitcode})"
                ) from None
            if isinstance(batch, WorkerError):
                raise batch
            batch.reverse()
            self.pending = batch
        return self.pending.pop()

    def close(self) -> None:
        if self.worker is None:
            return
        self.receiver.close()
        if self.worker.is_alive():
            self.worker.terminate()
        self.worker.join()

"""Read, hash and parse input files into `logs` rows, in a worker process when there are many.

Parsing and row building are pure Python and take about as long as SQLite's inserts. A
second process therefore prepares the next files while the main process writes, so on two
idle cores a large ingest takes roughly the longer of the two instead of their sum. Only the
main process touches the database, so the per-file transactions work as without a worker.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Callable, Iterator

from .canonical import content_hash
from .pages import PageError, parse_page
from .rows import SOURCE_COLUMNS, base_row, column_type, to_sqlite
from .sources import Source

# Below this many files to read, a worker's start-up costs more than it saves.
WORKER_MIN_FILES = 16
# Entries whose digests are remembered to skip repeats. A page saved again repeats entries
# from pages saved shortly before, so a window this size catches nearly all repeats, and
# its memory (an estimated 8 to 15 MB) does not grow with the run.
RECENT_DIGESTS = 50_000

_KNOWN_KEYS = frozenset(SOURCE_COLUMNS)


@dataclass
class ExtraKey:
    """A key outside SOURCE_COLUMNS: the SQLite type its values need and each row's value."""

    kind: str | None
    values: list


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


@dataclass
class PreparedFile:
    """An input file read and parsed, ready for the writer. error is set when it failed."""

    source: Source
    sha256: str | None = None
    error: str | None = None
    entries_read: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    rows: list[list] = field(default_factory=list)
    extra_keys: dict[str, ExtraKey] = field(default_factory=dict)
    # Digests of entries left out of rows because an earlier file of this run, or this one,
    # already had them. The writer needs them if that earlier file then fails to store.
    repeated: list[str] = field(default_factory=list)


def read_file(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def prepare_data(source: Source, data: bytes, recent: RecentDigests | None = None) -> PreparedFile:
    """Hash and parse a file's bytes into rows of BASE_COLUMNS plus values of extra keys.

    With recent, an entry whose digest it has seen is listed in `repeated` instead of rows.
    """
    prepared = PreparedFile(source, hashlib.sha256(data).hexdigest())
    try:
        page = parse_page(data)
    except PageError as error:
        prepared.error = str(error)
        return prepared
    prepared.entries_read = page.entries_read
    prepared.rejected = page.rejected

    stored_values = []
    for entry in page.entries:
        digest = content_hash(entry.canonical)
        if recent is not None and recent.seen(digest):
            prepared.repeated.append(digest)
        else:
            prepared.rows.append(base_row(entry.value, entry.canonical, digest))
            stored_values.append(entry.value)

    keys: set[str] = set()
    for value in stored_values:
        if not _KNOWN_KEYS.issuperset(value):
            keys.update(value.keys() - _KNOWN_KEYS)
    for key in sorted(keys):
        values = [value.get(key) for value in stored_values]
        prepared.extra_keys[key] = ExtraKey(column_type(values), [to_sqlite(v) for v in values])
    return prepared


def prepare_file(source: Source, recent: RecentDigests | None = None) -> PreparedFile:
    """Read a file from disk and prepare it. A read error is returned in `error`, not raised."""
    try:
        data = read_file(source.path)
    except OSError as error:
        return PreparedFile(source, error=f"cannot be read: {error.strerror or error}")
    return prepare_data(source, data, recent)


def _process_context():
    # fork starts the worker in milliseconds and the worker never touches the parent's
    # SQLite connection. Elsewhere fork is unsafe (macOS) or missing (Windows).
    return multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")


class WorkerError(RuntimeError):
    """The worker process failed unexpectedly; the message contains its traceback."""


def _prepare_all(sources: list[Source], connection) -> None:
    """Worker process: send each file prepared, in order, through connection."""
    recent = RecentDigests()
    try:
        for source in sources:
            connection.send(prepare_file(source, recent))
    except BaseException:
        connection.send(WorkerError(traceback.format_exc()))
    finally:
        connection.close()


def prepare_in_order(
    sources: list[Source], prepare_stdin: Callable[[Source], PreparedFile]
) -> Iterator[PreparedFile]:
    """Yield each source prepared, in the order given, using a worker process for many files.

    Standard input is read here, when its turn comes, by prepare_stdin. Raises WorkerError
    when the worker fails.
    """
    files = [source for source in sources if not source.is_stdin]
    if len(files) < WORKER_MIN_FILES or (os.cpu_count() or 1) < 2:
        recent = RecentDigests()
        for source in sources:
            yield prepare_stdin(source) if source.is_stdin else prepare_file(source, recent)
        return

    # The results arrive through a pipe and are unpickled in this thread. A pool's result
    # thread would compete for the GIL with executemany, which takes it back after every row.
    # The pipe's small buffer also stops the worker once it is a file or two ahead.
    context = _process_context()
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_prepare_all, args=(files, sender), daemon=True)
    worker.start()
    sender.close()
    try:
        for source in sources:
            if source.is_stdin:
                yield prepare_stdin(source)
                continue
            try:
                prepared = receiver.recv()
            except EOFError:
                raise WorkerError(
                    f"the file-reading worker process stopped (exit code {worker.exitcode})"
                ) from None
            if isinstance(prepared, WorkerError):
                raise prepared
            yield prepared
    finally:
        receiver.close()
        if worker.is_alive():
            worker.terminate()
        worker.join()

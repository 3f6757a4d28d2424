"""Ingest saved log pages into the database: dedup by content hash, a file ledger, a runs table.

Files are written in batches: one transaction contains several files, each inside its own
savepoint with its ledger row. A file therefore lands whole or not at all, while the commit
cost (SQLite rewrites every touched B-tree page at each commit) is paid once per batch. A run
killed mid-batch loses only that batch, and its files are not in the ledger, so the next
run reads them again. Inputs are read and parsed ahead of the writer, in a worker process
when there are many (see pipeline.py).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, Callable, Iterator

import sqlite_utils

from .indexes import defer_indexes, restore_indexes, should_defer
from .pipeline import Finished, Message, PreparedPage, Preparer
from .rollup import add_new_entries
from .rows import BASE_COLUMNS, column_for_key
from .sources import Source, SourceError, find_sources

# Entries per transaction. Larger batches save little once commits are this rare, and a
# smaller one lets a concurrent ingest or a reader's checkpoint in sooner.
BATCH_ENTRIES = 50_000

# Settings for the ingest's connection, restored when it ends. In WAL mode, synchronous=NORMAL
# syncs at checkpoints rather than at every commit: a power cut can lose the last batches,
# whose files are then not in the ledger and are read again, but never corrupts the database.
# The larger page cache keeps more of the content-hash index in memory: its keys are random,
# so each insert lands on a different page. With 48 MiB, the RSS of the writer and the
# worker process together peaked at 153 MB on a million entries (bench/run.py's pages);
# 40 MiB keeps that sum under 150 MB.
INGEST_PRAGMAS = {"synchronous": "NORMAL", "cache_size": -40 * 1024}

# Page cache while deferred indexes are built. SQLite sizes a sort's memory by the page
# cache, so at 48 MiB each CREATE INDEX sorts up to 48 MiB next to the full cache. On the
# benchmark's million entries this setting lowers the writer's peak RSS from 145 MB to
# 105 MB, and the seven indexes still take 6 to 7 s to build.
INDEX_BUILD_CACHE_SIZE = -8 * 1024

# Position of content_hash in a row of BASE_COLUMNS.
_HASH_COLUMN = BASE_COLUMNS.index("content_hash")


@dataclass
class RunSummary:
    run_id: int | None = None
    files_read: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    entries_read: int = 0
    entries_new: int = 0
    entries_rejected: int = 0
    har_files: int = 0
    har_log_pages: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def entries_duplicate(self) -> int:
        return self.entries_read - self.entries_new - self.entries_rejected

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        """Return the one-line summary that the CLI prints at the end of a run."""
        return (
            f"files: {self.files_read:,} read, {self.files_skipped:,} skipped, "
            f"{self.files_failed:,} failed; entries: {self.entries_read:,} read, "
            f"{self.entries_new:,} new, {self.entries_duplicate:,} duplicate, "
            f"{self.entries_rejected:,} rejected"
        ) + self._har_part()

    def _har_part(self) -> str:
        if not self.har_files:
            return ""
        pages = "log page" if self.har_log_pages == 1 else "log pages"
        captures = "HAR capture" if self.har_files == 1 else "HAR captures"
        return f"; {self.har_log_pages:,} {pages} in {self.har_files:,} {captures}"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Ingest:
    def __init__(self, db: sqlite_utils.Database, force: bool, on_progress, on_problem,
                 stdin: BinaryIO | None, on_note=None):
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self.force = force
        self.on_progress = on_progress or (lambda size: None)
        self.on_problem = on_problem or (lambda message: None)
        self.on_note = on_note or (lambda message: None)
        self.stdin = stdin
        self.summary = RunSummary()
        self.batch_entries = 0
        self.columns: set[str] = set()
        # Digests of the entries of inputs that failed to store in this run.
        self.failed_digests: set[str] = set()
        self.preparer: Preparer | None = None

    # Transactions

    def begin_batch(self) -> None:
        if self.conn.in_transaction:
            return
        self.conn.execute("BEGIN IMMEDIATE")
        # Another process may have added columns since the last batch.
        self.columns = {row[1] for row in self.conn.execute("PRAGMA table_info(logs)")}
        self.batch_entries = 0

    def commit_batch(self) -> None:
        if not self.conn.in_transaction:
            return
        self.save_run_counts()
        self.conn.execute("COMMIT")

    def save_run_counts(self, finished: bool = False) -> None:
        s = self.summary
        self.conn.execute(
            "UPDATE runs SET files_read = ?, files_skipped = ?, files_failed = ?, "
            "entries_read = ?, entries_new = ?, entries_duplicate = ?, entries_rejected = ?, "
            "finished_at = ? WHERE id = ?",
            (s.files_read, s.files_skipped, s.files_failed, s.entries_read, s.entries_new,
             s.entries_duplicate, s.entries_rejected, _now() if finished else None, s.run_id),
        )

    # The run

    def run(self, paths: list[str]) -> RunSummary:
        sources = find_sources(paths, on_error=self.source_error)
        self.conn.execute("BEGIN IMMEDIATE")
        cursor = self.conn.execute("INSERT INTO runs (started_at) VALUES (?)", (_now(),))
        self.summary.run_id = cursor.lastrowid
        if should_defer(self.conn, self.pending_bytes(sources)):
            defer_indexes(self.conn)
        self.conn.execute("COMMIT")
        saved_pragmas = {name: self.conn.execute(f"PRAGMA {name}").fetchone()[0]
                         for name in INGEST_PRAGMAS}
        for name, value in INGEST_PRAGMAS.items():
            self.conn.execute(f"PRAGMA {name} = {value}")
        try:
            # The ledger skips unchanged files by size and mtime before any is opened.
            to_read = [source for source in sources if not self.skip_unchanged(source)]
            self.preparer = Preparer(to_read, self.stdin, self.known_sha256)
            for source in to_read:
                self.ingest_source(source)
                self.on_progress(source.size)
                if self.batch_entries >= BATCH_ENTRIES:
                    self.commit_batch()
            self.begin_batch()
            self.conn.execute(f"PRAGMA cache_size = {INDEX_BUILD_CACHE_SIZE}")
            # Also builds what an earlier, killed run left deferred.
            restore_indexes(self.conn)
            # The dashboard's per-day rollup takes the run's new entries in one pass.
            add_new_entries(self.conn)
            self.save_run_counts(finished=True)
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        finally:
            if self.preparer is not None:
                self.preparer.close()
            for name, value in saved_pragmas.items():
                self.conn.execute(f"PRAGMA {name} = {value}")
        return self.summary

    def pending_bytes(self, sources: list[Source]) -> int:
        """Return the size of the inputs that the ledger does not mark as unchanged."""
        if self.force:
            return sum(source.size for source in sources)
        unchanged = set(self.conn.execute(
            "SELECT path, size, mtime_ns FROM files WHERE status = 'ingested'"
        ))
        return sum(
            source.size for source in sources
            if (source.ledger_path, source.size, source.mtime_ns) not in unchanged
        )

    def source_error(self, error: SourceError) -> None:
        self.summary.files_failed += 1
        self.problem(str(error))

    def problem(self, message: str) -> None:
        self.summary.problems.append(message)
        self.on_problem(message)

    def ledger_row(self, path: str):
        return self.conn.execute(
            "SELECT size, mtime_ns, sha256, status FROM files WHERE path = ?", (path,)
        ).fetchone()

    def skip_unchanged(self, source: Source) -> bool:
        """Count and skip a file whose size and mtime match its ledger row, without reading it."""
        if source.is_stdin or self.force:
            return False
        row = self.ledger_row(source.ledger_path)
        if row and row[3] == "ingested" and row[:2] == (source.size, source.mtime_ns):
            self.summary.files_skipped += 1
            self.on_progress(source.size)
            return True
        return False

    def known_sha256(self) -> set[str]:
        """Return the hashes of the inputs stored before, which the worker need not parse."""
        if self.force:
            return set()
        return {row[0] for row in self.conn.execute(
            "SELECT sha256 FROM files WHERE status = 'ingested' AND sha256 IS NOT NULL"
        )}

    def ingest_source(self, source: Source) -> None:
        preparer = self.preparer
        messages = preparer.messages(source)
        try:
            first = next(messages)
            if isinstance(first, Finished):
                self.fail(source, None, first.error)
                return
            sha256 = first.sha256
            if source.is_stdin:
                source = Source("<stdin>", first.size, 0, ledger_name=f"<stdin {sha256[:16]}>")
            if not self.force and self.skip_known_content(source, sha256):
                self.summary.files_skipped += 1
                return
            if not first.parsed:
                # The worker took these bytes for known, but the ledger does not have them
                # (the earlier input with the same bytes failed to store): parse them here.
                messages.close()
                messages = preparer.prepare_here(source)
                next(messages)
            if self.store(source, sha256, messages):
                return
            # A page repeats entries of an input that failed to store, and they were left out
            # of its rows: parse the input here again, keeping every entry.
            messages.close()
            messages = preparer.prepare_here(source)
            next(messages)
            self.store(source, sha256, messages)
        finally:
            messages.close()

    def skip_known_content(self, source: Source, sha256: str) -> bool:
        """Record and skip a file whose exact bytes were ingested before, here or elsewhere."""
        same = self.conn.execute(
            "SELECT path, entries_read, entries_rejected FROM files "
            "WHERE sha256 = ? AND status = 'ingested' ORDER BY path = ? DESC LIMIT 1",
            (sha256, source.ledger_path),
        ).fetchone()
        if not same:
            return False
        self.begin_batch()
        if same[0] == source.ledger_path:
            # Touched but unchanged: remember the new mtime so the next run skips it by stat.
            self.conn.execute(
                "UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?",
                (source.size, source.mtime_ns, source.ledger_path),
            )
        else:
            self.write_ledger(source, sha256, "ingested", None, same[1], 0, same[2])
        return True

    def fail(self, source: Source, sha256: str | None, reason: str) -> None:
        self.summary.files_failed += 1
        self.problem(f"{source.path}: {reason}")
        self.begin_batch()
        self.write_ledger(source, sha256, "failed", reason, None, None, None)

    def write_ledger(self, source: Source, sha256, status, error, read, new, rejected) -> None:
        self.conn.execute(
            """
            INSERT INTO files (path, size, mtime_ns, sha256, status, error, entries_read,
                               entries_new, entries_rejected, run_id, ingested_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (path) DO UPDATE SET
                size = excluded.size, mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256,
                status = excluded.status, error = excluded.error,
                entries_read = excluded.entries_read, entries_new = excluded.entries_new,
                entries_rejected = excluded.entries_rejected, run_id = excluded.run_id,
                ingested_at = excluded.ingested_at
            """,
            (source.ledger_path, source.size, source.mtime_ns, sha256, status, error, read, new,
             rejected, self.summary.run_id, _now()),
        )

    def store(self, source: Source, sha256: str, messages: Iterator[Message]) -> bool:
        """Insert every page of an input and its ledger row in one savepoint.

        Returns False, having stored nothing, when a page left out entries that an input
        which failed to store in this run had: the caller must prepare it again in full.
        """
        self.begin_batch()
        self.conn.execute("SAVEPOINT file")
        read = new = 0
        rejected: list[str] = []
        digests: list[str] = []
        finished = Finished()
        try:
            for message in messages:
                if isinstance(message, Finished):
                    finished = message
                    break
                if not self.failed_digests.isdisjoint(message.repeated):
                    self.conn.execute("ROLLBACK TO file")
                    self.conn.execute("RELEASE file")
                    self.columns = {row[1] for row in self.conn.execute("PRAGMA table_info(logs)")}
                    return False
                digests.extend(row[_HASH_COLUMN] for row in message.rows)
                extra = self.add_columns(message)
                new += self.insert_rows(message, extra)
                read += message.entries_read
                rejected.extend(
                    f"{source.path}: {text}; it was not stored" for text in message.rejected
                )
            if finished.error is not None:
                raise _InputFailed(finished.error)
            self.write_ledger(source, sha256, "ingested", None, read, new, len(rejected))
        except (_InputFailed, sqlite3.DatabaseError) as error:
            self.conn.execute("ROLLBACK TO file")
            self.conn.execute("RELEASE file")
            # The rollback also undid any column this input added.
            self.columns = {row[1] for row in self.conn.execute("PRAGMA table_info(logs)")}
            self.failed_digests.update(digests)
            if isinstance(error, sqlite3.DatabaseError):
                messages.close()
                reason = f"could not be stored: {error}"
            else:
                reason = str(error)
            self.report_parts(source, finished)
            self.fail(source, sha256, reason)
            return True
        self.conn.execute("RELEASE file")

        self.report_parts(source, finished)
        for message in rejected:
            self.problem(message)
        self.summary.files_read += 1
        self.summary.entries_read += read
        self.summary.entries_new += new
        self.summary.entries_rejected += len(rejected)
        if finished.log_pages is not None:
            self.summary.har_files += 1
            self.summary.har_log_pages += finished.log_pages
        self.batch_entries += read
        return True

    def report_parts(self, source: Source, finished: Finished) -> None:
        for message in finished.problems:
            self.problem(f"{source.path}: {message}")
        for message in finished.notes:
            self.on_note(f"{source.path}: {message}")

    def add_columns(self, page: PreparedPage) -> dict[str, str]:
        """Add a column for each new key with a non-null value; return {key: column} of extras."""
        extra = {}
        for key, (kind, _) in page.extra_keys.items():
            column = column_for_key(key)
            if column not in self.columns:
                # SQLite column names ignore case, so "Model" cannot sit beside "model".
                taken = {name.lower() for name in self.columns}
                if column.lower() in taken:
                    column = "source_" + key
                if column not in self.columns and column.lower() in taken:
                    continue  # NOTE: a third spelling of one name stays only in raw.
            if column not in self.columns:
                if kind is None:
                    continue  # Only nulls so far: the type is unknown, and raw keeps the key.
                self.conn.execute(f'ALTER TABLE logs ADD COLUMN "{_quote(column)}" {kind}')
                self.columns.add(column)
            extra[key] = column
        return extra

    def insert_rows(self, page: PreparedPage, extra: dict[str, str]) -> int:
        columns = [*BASE_COLUMNS, *extra.values()]
        sql = "INSERT OR IGNORE INTO logs ({}) VALUES ({})".format(
            ", ".join(f'"{_quote(column)}"' for column in columns),
            ", ".join("?" * len(columns)),
        )
        rows = page.rows
        if extra:
            extra_values = [page.extra_keys[key][1] for key in extra]
            rows = [[*row, *values] for row, *values in zip(rows, *extra_values)]
        return self.conn.executemany(sql, rows).rowcount


class _InputFailed(Exception):
    """An input failed while it was parsed; the message is the reason for the ledger."""


def _quote(name: str) -> str:
    return name.replace('"', '""')


def ingest(
    db: sqlite_utils.Database,
    paths: list[str],
    *,
    force: bool = False,
    on_progress: Callable[[int], None] | None = None,
    on_problem: Callable[[str], None] | None = None,
    stdin: BinaryIO | None = None,
    on_note: Callable[[str], None] | None = None,
) -> RunSummary:
    """Ingest the files, folders and `-` (stdin) in paths.

    A folder is searched recursively for the suffixes in sources.PAGE_SUFFIXES; reader.py
    lists the formats read. Unchanged files are skipped without being parsed unless force is
    set. A bad file or entry never stops the run: each is passed to on_problem as one line
    naming the path and the reason, and listed in the summary's problems. on_note receives
    parts of an input skipped on purpose, such as a HAR's log responses with an error status.
    on_progress receives each input's size in bytes once it is done.
    """
    return _Ingest(db, force, on_progress, on_problem, stdin, on_note).run(paths)

"""Ingest saved log pages into the database: dedup by content hash, a file ledger, a runs table.

Files are written in batches: one transaction holds several files, each inside its own
savepoint with its ledger row. A file therefore lands whole or not at all, while the commit
cost (SQLite rewrites every touched B-tree page at each commit) is paid once per batch. A run
killed mid-batch loses only that batch, and its files are not in the ledger, so the next
run reads them again. Files are read and parsed ahead of the writer, in a worker process
when there are many (see pipeline.py).
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, Callable

import sqlite_utils

from .pipeline import PreparedFile, prepare_data, prepare_file, prepare_in_order, read_file
from .rows import BASE_COLUMNS, column_for_key
from .sources import Source, SourceError, find_sources

# Entries per transaction. Larger batches save little once commits are this rare, and a
# smaller one lets a concurrent ingest or a reader's checkpoint in sooner.
BATCH_ENTRIES = 50_000

# Settings for the ingest's connection, restored when it ends. In WAL mode, synchronous=NORMAL
# syncs at checkpoints rather than at every commit: a power cut can lose the last batches,
# whose files are then not in the ledger and are read again, but never corrupts the database.
# The larger page cache keeps more of the content-hash index in memory: its keys are random,
# so each insert lands on a different page. 48 MiB keeps the writer and the worker process
# together under 150 MB of peak RSS for a million entries (bench/run.py).
INGEST_PRAGMAS = {"synchronous": "NORMAL", "cache_size": -48 * 1024}


@dataclass
class RunSummary:
    run_id: int | None = None
    files_read: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    entries_read: int = 0
    entries_new: int = 0
    entries_rejected: int = 0
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
        )


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Ingest:
    def __init__(self, db: sqlite_utils.Database, force: bool, on_progress, on_problem,
                 stdin: BinaryIO | None):
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self.force = force
        self.on_progress = on_progress or (lambda size: None)
        self.on_problem = on_problem or (lambda message: None)
        self.stdin = stdin
        self.summary = RunSummary()
        self.batch_entries = 0
        self.columns: set[str] = set()
        # Digests of the entries of files that failed to store in this run.
        self.failed_digests: set[str] = set()

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
        self.conn.execute("COMMIT")
        saved_pragmas = {name: self.conn.execute(f"PRAGMA {name}").fetchone()[0]
                         for name in INGEST_PRAGMAS}
        for name, value in INGEST_PRAGMAS.items():
            self.conn.execute(f"PRAGMA {name} = {value}")
        try:
            files = [source for source in sources if not self.skip_unchanged(source)]
            for prepared in prepare_in_order(files, self.prepare_stdin):
                self.ingest_prepared(prepared)
            self.begin_batch()
            self.save_run_counts(finished=True)
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        finally:
            for name, value in saved_pragmas.items():
                self.conn.execute(f"PRAGMA {name} = {value}")
        return self.summary

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
        row = self.ledger_row(source.path)
        if row and row[3] == "ingested" and row[:2] == (source.size, source.mtime_ns):
            self.summary.files_skipped += 1
            self.on_progress(source.size)
            return True
        return False

    def prepare_stdin(self, source: Source) -> PreparedFile:
        try:
            data = self.read(source)
        except OSError as error:
            return PreparedFile(source, error=f"cannot be read: {error.strerror or error}")
        sha256 = hashlib.sha256(data).hexdigest()
        # The ledger names standard input by its content, so that the same bytes piped in
        # again are recognised.
        return prepare_data(Source(f"<stdin {sha256[:16]}>", len(data), 0), data)

    def ingest_prepared(self, prepared: PreparedFile) -> None:
        source, sha256 = prepared.source, prepared.sha256
        if sha256 is None:
            self.fail(source, None, prepared.error)
        elif not self.force and self.skip_known_content(source, sha256):
            self.summary.files_skipped += 1
        elif prepared.error is not None:
            self.fail(source, sha256, prepared.error)
        else:
            if not self.failed_digests.isdisjoint(prepared.repeated):
                # Entries left out as repeats of a file that then failed to store are in
                # no row yet: prepare this file again, keeping every entry.
                prepared = prepare_file(source)
            self.store(prepared)
        self.on_progress(source.size)
        if self.batch_entries >= BATCH_ENTRIES:
            self.commit_batch()

    def read(self, source: Source) -> bytes:
        if source.is_stdin:
            stream = self.stdin if self.stdin is not None else sys.stdin.buffer
            return stream.read()
        return read_file(source.path)

    def skip_known_content(self, source: Source, sha256: str) -> bool:
        """Record and skip a file whose exact bytes were ingested before, here or elsewhere."""
        same = self.conn.execute(
            "SELECT path, entries_read, entries_rejected FROM files "
            "WHERE sha256 = ? AND status = 'ingested' ORDER BY path = ? DESC LIMIT 1",
            (sha256, source.path),
        ).fetchone()
        if not same:
            return False
        self.begin_batch()
        if same[0] == source.path:
            # Touched but unchanged: remember the new mtime so the next run skips it by stat.
            self.conn.execute(
                "UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?",
                (source.size, source.mtime_ns, source.path),
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
            (source.path, source.size, source.mtime_ns, sha256, status, error, read, new,
             rejected, self.summary.run_id, _now()),
        )

    def store(self, prepared: PreparedFile) -> None:
        source, sha256 = prepared.source, prepared.sha256
        for index, reason in prepared.rejected:
            self.problem(f"{source.path}: entry {index} {reason}; it was not stored")

        self.begin_batch()
        self.conn.execute("SAVEPOINT file")
        try:
            extra = self.add_columns(prepared)
            new = self.insert_rows(prepared, extra)
            self.write_ledger(source, sha256, "ingested", None, prepared.entries_read, new,
                              len(prepared.rejected))
        except sqlite3.DatabaseError as error:
            self.conn.execute("ROLLBACK TO file")
            self.conn.execute("RELEASE file")
            self.failed_digests.update(row[0] for row in prepared.rows)
            self.fail(source, sha256, f"could not be stored: {error}")
            return
        self.conn.execute("RELEASE file")

        self.summary.files_read += 1
        self.summary.entries_read += prepared.entries_read
        self.summary.entries_new += new
        self.summary.entries_rejected += len(prepared.rejected)
        self.batch_entries += prepared.entries_read

    def add_columns(self, prepared: PreparedFile) -> dict[str, str]:
        """Add a column for each new key that holds a value; return {key: column} of extras."""
        extra = {}
        for key, found in prepared.extra_keys.items():
            column = column_for_key(key)
            if column not in self.columns:
                kind = found.kind
                if kind is None:
                    continue  # Only nulls so far: the type is unknown, and raw keeps the key.
                self.conn.execute(f'ALTER TABLE logs ADD COLUMN "{_quote(column)}" {kind}')
                self.columns.add(column)
            extra[key] = column
        return extra

    def insert_rows(self, prepared: PreparedFile, extra: dict[str, str]) -> int:
        columns = [*BASE_COLUMNS, *extra.values()]
        sql = "INSERT OR IGNORE INTO logs ({}) VALUES ({})".format(
            ", ".join(f'"{_quote(column)}"' for column in columns),
            ", ".join("?" * len(columns)),
        )
        rows = prepared.rows
        if extra:
            extra_values = [prepared.extra_keys[key].values for key in extra]
            rows = [[*row, *values] for row, *values in zip(rows, *extra_values)]
        return self.conn.executemany(sql, rows).rowcount


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
) -> RunSummary:
    """Ingest the files, folders (searched recursively for *.json) and `-` (stdin) in paths.

    Unchanged files are skipped without being parsed unless force is set. A bad file or entry
    never stops the run: each is passed to on_problem as one line naming the path and the
    reason, and listed in the summary's problems. on_progress receives each input's size in
    bytes once it is done.
    """
    return _Ingest(db, force, on_progress, on_problem, stdin).run(paths)

"""Drop the query indexes of `logs` for a large ingest and build them again at its end.

SQLite updates every index row by row as rows arrive, and an index whose keys come in no
particular order (latency, model) touches a different B-tree page at nearly every insert.
CREATE INDEX on a filled table sorts once instead, which is several times faster when a run
adds more rows than the table holds. The definitions wait in `deferred_indexes`, written in
the same transaction as the drop, so a run killed in between leaves them for the next run.
"""

from __future__ import annotations

import sqlite3

# A run defers the indexes when it may add at least this many entries and more than the
# table holds. Smaller runs gain less than the rebuild of a large table costs.
MIN_DEFERRED_ENTRIES = 20_000

# Bytes of input per entry, a low estimate (a compact page has about 550 bytes an entry,
# an indented one about 700), so that the estimate of new entries errs on the high side.
BYTES_PER_ENTRY = 500

# Indexes that SQL names with INDEXED BY, which fails while the index is missing. Partial
# indexes stay as well (see defer_indexes).
NAMED_INDEXES = frozenset({"logs_model_day_latency"})


def should_defer(conn: sqlite3.Connection, pending_bytes: int) -> bool:
    """Return whether a run with pending_bytes of input to parse should defer the indexes."""
    expected = pending_bytes // BYTES_PER_ENTRY
    if expected < MIN_DEFERRED_ENTRIES:
        return False
    (stored,) = conn.execute("SELECT coalesce(max(rowid), 0) FROM logs").fetchone()
    return expected > stored


def defer_indexes(conn: sqlite3.Connection) -> int:
    """Drop the secondary indexes of `logs`, keeping their SQL; return how many were dropped.

    Runs in the caller's transaction. The primary key's index stays, because deduplication
    needs it. Partial indexes stay too, because they cover few rows and so cost little to
    keep, and so do NAMED_INDEXES.
    """
    kept = {row[1] for row in conn.execute("PRAGMA index_list(logs)") if row[4]}
    kept |= NAMED_INDEXES
    definitions = [
        (name, sql) for name, sql in conn.execute(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = 'logs' AND sql IS NOT NULL"
        )
        if name not in kept
    ]
    for name, sql in definitions:
        conn.execute("INSERT OR REPLACE INTO deferred_indexes (name, sql) VALUES (?, ?)",
                     (name, sql))
        conn.execute(f'DROP INDEX "{name}"')
    return len(definitions)


def restore_indexes(conn: sqlite3.Connection) -> int:
    """Build every index that a run deferred; return how many were built.

    Runs in the caller's transaction.
    """
    definitions = conn.execute("SELECT name, sql FROM deferred_indexes").fetchall()
    existing = {
        name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    }
    for name, sql in definitions:
        if name not in existing:
            conn.execute(sql)
        conn.execute("DELETE FROM deferred_indexes WHERE name = ?", (name,))
    return len(definitions)

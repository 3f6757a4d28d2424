"""Check a logs database: re-hash every entry, compare the ledger with logs and the input
files, and run SQLite's own integrity check.

The database is opened read-only, so a check never changes what it checks.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .canonical import canonical_json, content_hash
from .database import DatabaseError, explain_open_error, is_claude_logs_database
from .pages import PageError
from .reader import Document, is_json_lines, open_input
from .sources import Source
from .rows import BASE_COLUMNS, SOURCE_COLUMNS, base_row, to_sqlite

# Problems listed per check before the rest are only counted, so that a database damaged in
# every row still gives a readable report.
MAX_LISTED = 50



@dataclass
class Report:
    rows_checked: int = 0
    files_checked: int = 0
    problems: list[str] = field(default_factory=list)
    found: dict[str, int] = field(default_factory=dict)  # Problems per check, listed or not.

    @property
    def ok(self) -> bool:
        return not self.found

    def add(self, check: str, message: str) -> None:
        self.found[check] = self.found.get(check, 0) + 1
        if self.found[check] <= MAX_LISTED:
            self.problems.append(f"{check}: {message}")

    def lines(self) -> list[str]:
        """Return one line per problem, then one per check with problems left unlisted."""
        return self.problems + [
            f"{check}: {count - MAX_LISTED:,} more problems of this kind"
            for check, count in self.found.items()
            if count > MAX_LISTED
        ]


def open_read_only(path: str | Path) -> sqlite3.Connection:
    """Open an existing logs database read-only.

    Raises DatabaseError for a missing path, a folder, a file that is not SQLite or a
    database that claude-logs did not make.
    """
    path = Path(path)
    if not path.exists():
        raise DatabaseError(f"{path}: no such database file")
    if path.is_dir():
        raise DatabaseError(f"{path} is a folder; give the path of a database file, such as logs.db")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                               isolation_level=None)
        if not is_claude_logs_database(conn):
            raise DatabaseError(f"{path} has no logs table of claude-logs, so there is nothing to "
                                "verify; give the path of a database that claude-logs made")
    except sqlite3.DatabaseError as error:
        raise explain_open_error(path, error) from None
    return conn


def verify(conn: sqlite3.Connection) -> Report:
    """Check the database on conn and return a report of every problem found."""
    report = Report()
    checks = {"integrity_check": _check_integrity, "logs": _check_rows, "ledger": _check_ledger,
              "runs": _check_runs}
    # One read transaction gives every check the same snapshot while an ingest commits.
    conn.execute("BEGIN")
    try:
        for name, check in checks.items():
            try:
                check(conn, report)
            except sqlite3.DatabaseError as error:
                # A damaged file can fail a query part way through; the other checks still run.
                report.add(name, f"reading the database failed: {error}")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    return report


def _check_integrity(conn: sqlite3.Connection, report: Report) -> None:
    for (line,) in conn.execute("PRAGMA integrity_check"):
        if line != "ok":
            report.add("integrity_check", line)


def _extra_column_keys(column: str) -> list[str]:
    """Return the source keys that may be stored in an added column (see column_for_key)."""
    keys = [column]
    # The prefix marks a key whose own name was taken, by a derived column or by a column
    # whose name differs only in case.
    if column.startswith("source_"):
        keys.append(column[len("source_"):])
    return keys


class _Affinity:
    """Store values the way the logs columns do, to compare them with what is stored there.

    A column's type affinity converts some values on insert: the number 5 in a TEXT column
    is stored as '5', and the text '12' in an INTEGER column as 12.
    """

    def __init__(self, conn: sqlite3.Connection, declared: dict[str, str]):
        self.conn = conn
        self.declared = declared
        self.columns: set[str] = set()
        # A TEMP table lives outside the database file, so the read-only open still allows it.
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS verify_affinity (id INTEGER PRIMARY KEY)")

    def stored(self, column: str, value):
        """Return value as a column of that name and declared type in logs would store it."""
        name = f"{column} {self.declared[column]}"
        if name not in self.columns:
            kind = self.declared[column]
            self.conn.execute(f'ALTER TABLE verify_affinity ADD COLUMN "{_quote(name)}" {kind}')
            self.columns.add(name)
        self.conn.execute(f'INSERT INTO verify_affinity ("{_quote(name)}") VALUES (?)', (value,))
        (result,) = self.conn.execute(
            f'SELECT "{_quote(name)}" FROM verify_affinity ORDER BY id DESC LIMIT 1'
        ).fetchone()
        self.conn.execute("DELETE FROM verify_affinity")
        return result


def _quote(name: str) -> str:
    return name.replace('"', '""')


def _check_rows(conn: sqlite3.Connection, report: Report) -> None:
    declared = {row[1]: row[2] for row in conn.execute("PRAGMA table_info(logs)")}
    columns = list(declared)
    extra = [column for column in columns if column not in BASE_COLUMNS]
    affinity = _Affinity(conn, declared)
    selected = ", ".join(f'"{_quote(column)}"' for column in (*BASE_COLUMNS, *extra))
    base_count = len(BASE_COLUMNS)

    for stored in conn.execute(f"SELECT {selected} FROM logs"):
        report.rows_checked += 1
        stored_hash, raw = stored[0], stored[1]
        label = f"logs row {stored_hash}"
        if type(raw) is not str:
            report.add("logs", f"{label}: raw is {type(raw).__name__}, not JSON text")
            continue
        raw_bytes = raw.encode("utf-8", "surrogatepass")
        actual_hash = content_hash(raw_bytes)
        if actual_hash != stored_hash:
            report.add("logs", f"{label}: raw hashes to {actual_hash}")
            continue
        try:
            value = orjson.loads(raw_bytes)
            canonical = canonical_json(value)
        except (ValueError, TypeError, RecursionError) as error:
            # orjson.JSONDecodeError and NotCanonicalizable are ValueErrors; the other two
            # come from raw edited to nest hundreds of levels deep.
            report.add("logs", f"{label}: raw is not valid JSON ({error})")
            continue
        if canonical != raw_bytes:
            report.add("logs", f"{label}: raw is not canonical JSON")
            continue
        if type(value) is not dict:
            report.add("logs", f"{label}: raw is not a JSON object")
            continue

        expected = base_row(value, raw_bytes, stored_hash)
        for name, want, have in zip(BASE_COLUMNS, expected, stored[:base_count]):
            source = value.get(name) if name in SOURCE_COLUMNS else None
            if not _matches(affinity, name, want, have, source):
                report.add("logs", f"{label}: {name} is {have!r}, but raw gives {want!r}")
        for name, have in zip(extra, stored[base_count:]):
            sources = [value.get(key) for key in _extra_column_keys(name)]
            if not any(_matches(affinity, name, to_sqlite(source), have, source)
                       for source in sources):
                report.add("logs", f"{label}: {name} is {have!r}, but raw gives "
                                   f"{to_sqlite(sources[0])!r}")


def _matches(affinity: _Affinity, column: str, want, have, source) -> bool:
    """Return whether a stored value is the one that the entry's raw JSON gives."""
    if want == have:
        return True
    if type(source) in (dict, list):
        # An object is stored as JSON text in the key order of the input file, which raw
        # (sorted by RFC 8785) no longer has, so compare the parsed values.
        try:
            return _same_json(orjson.loads(have), source)
        except (orjson.JSONDecodeError, TypeError):
            return False
    if type(want) in (int, float) and type(have) in (int, float, str):
        # Raw spells a number by its double (1e+16 as 10000000000000000), which can differ
        # from the spelling or the int-or-float kind of the file that was stored.
        try:
            if float(have) == float(want):
                return True
        except ValueError:
            pass
    # A TEXT column keeps only 15 significant digits of a REAL, so round-trip through SQLite,
    # as the int that raw gives and as the float that the file may have held.
    if affinity.stored(column, want) == have:
        return True
    return type(want) is int and affinity.stored(column, float(want)) == have


def _same_json(left, right) -> bool:
    """Return whether two parsed JSON values are equal, numbers compared as doubles."""
    number = (int, float)
    if type(left) in number and type(right) in number:
        return float(left) == float(right)
    if type(left) is not type(right):
        return False  # This also keeps true apart from 1.
    if type(left) is list:
        return len(left) == len(right) and all(map(_same_json, left, right))
    if type(left) is dict:
        return left.keys() == right.keys() and all(_same_json(left[k], right[k]) for k in left)
    return left == right


def _check_ledger(conn: sqlite3.Connection, report: Report) -> None:
    rows = conn.execute(
        "SELECT path, size, mtime_ns, sha256, entries_read, entries_new, entries_rejected "
        "FROM files WHERE status = 'ingested' ORDER BY path"
    ).fetchall()
    total_new = 0
    for path, size, mtime_ns, sha256, read, new, rejected in rows:
        label = f"ledger file {path}"
        if None in (sha256, read, new, rejected):
            report.add("ledger", f"{label}: is marked ingested but lacks its hash or counts")
            continue
        total_new += new
        if not 0 <= new <= read - rejected:
            report.add("ledger", f"{label}: {new} new entries out of {read} read and "
                                 f"{rejected} rejected is impossible")
        _check_file_against_ledger(conn, report, label, Path(path), sha256, read, rejected)

    # A row counts as new in the ledger row of the one file that inserted it, and re-reading a
    # file with --force only lowers its count, so the sum can never exceed the rows.
    (stored,) = conn.execute("SELECT count(*) FROM logs").fetchone()
    if total_new > stored:
        report.add("ledger", f"the files list {total_new:,} new entries, but logs holds {stored:,}")


def _check_file_against_ledger(conn, report, label, path: Path, sha256, read, rejected) -> None:
    """Compare a ledger row with its file, if the file is still there with the same bytes."""
    try:
        opened = open_input(Source(str(path)), stdin=None)
    except OSError:
        return  # Moved or deleted since: only the database can be checked.
    with opened.file:
        if opened.sha256 != sha256:
            return  # Changed since it was read; the next ingest will read it again.
        report.files_checked += 1
        # The same reader as the ingest, so HAR captures, JSON Lines and gzip count alike.
        document = Document(opened.file, json_lines=is_json_lines(str(path)))
        hashes = set()
        entries_read = entries_rejected = 0
        try:
            for page in document.pages():
                entries_read += page.entries_read
                entries_rejected += len(page.rejected)
                hashes.update(content_hash(entry.canonical) for entry in page.entries)
        except PageError as error:
            report.add("ledger", f"{label}: is marked ingested, but the file {error}")
            return
    if entries_read != read:
        report.add("ledger", f"{label}: entries_read is {read}, but the file holds "
                             f"{entries_read}")
    if entries_rejected != rejected:
        report.add("ledger", f"{label}: entries_rejected is {rejected}, but the file has "
                             f"{entries_rejected} entries that cannot be stored")
    found = 0
    for chunk in _chunks(sorted(hashes), 500):
        placeholders = ", ".join("?" * len(chunk))
        found += conn.execute(
            f"SELECT count(*) FROM logs WHERE content_hash IN ({placeholders})", chunk
        ).fetchone()[0]
    if found != len(hashes):
        report.add("ledger", f"{label}: {len(hashes) - found} of its {len(hashes)} distinct "
                             "entries are missing from logs")


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _check_runs(conn: sqlite3.Connection, report: Report) -> None:
    # Each run commits its counters in the same transaction as the rows they count, so the
    # runs add up to the rows stored even when some were killed. Deleted rows show up here.
    (new,) = conn.execute("SELECT coalesce(sum(entries_new), 0) FROM runs").fetchone()
    (stored,) = conn.execute("SELECT count(*) FROM logs").fetchone()
    if new != stored:
        report.add("runs", f"the runs added {new:,} entries in all, but logs holds {stored:,}")

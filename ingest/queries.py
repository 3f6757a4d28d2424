"""Load the canned SQL queries, run them, and keep a view of each in the database.

Each query is a `.sql` file whose leading `--` comment lines form a header:

    -- title: Failed requests
    -- description: Requests that returned an error, newest first.
    -- param model: Only requests to this model. Empty: every model.

followed by one SELECT statement with named parameters (`:model`). The statement treats a
missing parameter (NULL in the sqlite3 shell) and an empty one ('' from Datasette) as "no
filter", and casts numbers itself, so the same file runs unchanged in Datasette, in the
sqlite3 shell and through `run_query`.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent

# A wheel carries the files inside the package, because pyproject.toml force-includes queries/
# as ingest/sql/. A source checkout or an editable install reads them from the repository root.
QUERY_FOLDERS = (_PACKAGE_DIR / "sql", _PACKAGE_DIR.parent / "queries")

_HEADER_LINE = re.compile(r"--\s*(title|description|param)\b\s*(\w*)\s*:\s*(.*)")

# Skips string literals, quoted names and comments so that a colon inside them is not taken
# for a parameter.
_SQL_TOKEN = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\[[^\]]*\]|--[^\n]*|/\*.*?\*/|:([A-Za-z_]\w*)",
    re.DOTALL,
)


class QueryError(Exception):
    """A query file is invalid, or a query or parameter name is unknown."""


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str


@dataclass(frozen=True)
class Query:
    name: str
    title: str
    description: str
    parameters: tuple[Parameter, ...]
    sql: str = field(repr=False)
    # The SQL without the header lines, for places that show title and description already.
    body: str = field(repr=False, default="")

    @property
    def parameter_names(self) -> list[str]:
        return [parameter.name for parameter in self.parameters]


def query_folder() -> Path:
    """Return the folder that contains the query files, next to this module or at the repo root.

    Raises QueryError when neither exists, which means a broken install.
    """
    for folder in QUERY_FOLDERS:
        if folder.is_dir():
            return folder
    searched = " and ".join(str(folder) for folder in QUERY_FOLDERS)
    raise QueryError(f"no query folder found at {searched}; reinstall claude-logs")


def sql_parameters(sql: str) -> list[str]:
    """Return the named parameters (`:name`) of a statement, in order of first use."""
    names: list[str] = []
    for match in _SQL_TOKEN.finditer(sql):
        name = match.group(1)
        if name and name not in names:
            names.append(name)
    return names


def parse_query(path: Path) -> Query:
    """Parse one query file.

    Raises QueryError naming the file if its header lacks a title or a description, or if the
    parameters it declares differ from those the SQL uses.
    """
    text = path.read_text(encoding="utf-8")
    header: dict[str, str] = {}
    parameters: list[Parameter] = []
    lines = text.splitlines()
    body_start = 0
    for number, line in enumerate(lines):
        if not line.startswith("--"):
            break
        match = _HEADER_LINE.fullmatch(line.strip())
        if not match:
            continue
        body_start = number + 1
        key, name, value = match.groups()
        if key == "param":
            parameters.append(Parameter(name, value.strip()))
        else:
            header[key] = value.strip()

    for key in ("title", "description"):
        if not header.get(key):
            raise QueryError(f"{path}: the header has no '-- {key}:' line")
    declared = [parameter.name for parameter in parameters]
    used = sql_parameters(text)
    if sorted(declared) != sorted(used):
        raise QueryError(
            f"{path}: the header declares parameters {declared} but the SQL uses {used}"
        )
    return Query(
        name=path.stem,
        title=header["title"],
        description=header["description"],
        parameters=tuple(parameters),
        sql=text.strip(),
        body="\n".join(lines[body_start:]).strip(),
    )


def load_queries(folder: Path | None = None) -> dict[str, Query]:
    """Parse every `.sql` file in the folder, keyed by file name without `.sql`, sorted by name."""
    folder = folder or query_folder()
    return {path.stem: parse_query(path) for path in sorted(folder.glob("*.sql"))}


def get_query(name: str, queries: dict[str, Query] | None = None) -> Query:
    """Return the named query, or raise QueryError listing the known names."""
    queries = load_queries() if queries is None else queries
    if name not in queries:
        raise QueryError(f"no query named {name!r}; the queries are: {', '.join(queries)}")
    return queries[name]


def bind_parameters(query: Query, values: dict[str, str]) -> dict[str, str]:
    """Return every parameter of the query with its value, '' (no filter) where none was given.

    Raises QueryError for a name the query does not take.
    """
    unknown = sorted(set(values) - set(query.parameter_names))
    if unknown:
        takes = ", ".join(query.parameter_names) or "no parameters"
        raise QueryError(f"query {query.name!r} has no parameter {unknown[0]!r}; it takes: {takes}")
    return {name: values.get(name, "") for name in query.parameter_names}


def run_query(
    conn: sqlite3.Connection, query: Query, values: dict[str, str] | None = None
) -> tuple[list[str], list[tuple]]:
    """Run a query with text parameter values, as Datasette would, and return (columns, rows)."""
    cursor = conn.execute(query.sql, bind_parameters(query, values or {}))
    columns = [description[0] for description in cursor.description]
    return columns, cursor.fetchall()


def view_sql(query: Query) -> str:
    """Return the query's SELECT with every parameter replaced by NULL, for a view.

    SQLite rejects parameters in a view, and NULL means "no filter" and "default" to every query.
    """

    def replace(match: re.Match) -> str:
        return "NULL" if match.group(1) else match.group(0)

    return _SQL_TOKEN.sub(replace, query.body)


def create_views(db, queries: dict[str, Query] | None = None) -> None:
    """Create (or replace) a view per query, named like the query, with every parameter empty.

    Datasette 0.65 serves /DB/NAME from the canned query before looking for a table or view of
    that name, so the view's page there is the query's page, whose rows with empty parameters
    are the view's rows.
    """
    queries = load_queries() if queries is None else queries
    for query in queries.values():
        db.execute(f"DROP VIEW IF EXISTS [{query.name}]")
        db.execute(f"CREATE VIEW [{query.name}] AS\n{view_sql(query)}")

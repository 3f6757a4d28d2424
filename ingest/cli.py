"""The `claude-logs` command line: click wiring only, the work lives in the library modules."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click

from .database import DatabaseError, open_database
from .loader import ingest as ingest_paths
from .output import format_rows
from .queries import QueryError, get_query, load_queries, run_query
from .report import ReportError, build_report, render_html, render_markdown
from .sources import find_sources
from .verify import open_read_only
from .verify import verify as verify_database


@click.group()
@click.version_option(package_name="claude-logs")
def cli():
    """Store Anthropic Console request logs in SQLite and query them.

    Every subcommand that reads or writes a database takes its path first, then its inputs.
    """


def _open(path: str):
    try:
        return open_database(path)
    except DatabaseError as error:
        raise click.ClickException(str(error)) from None


@cli.command()
@click.argument("db_path", metavar="DB", type=click.Path(dir_okay=True))
@click.argument("paths", metavar="PATH...", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Re-read files the ledger marks as unchanged.")
@click.option("--silent", is_flag=True, help="Hide the progress bar (errors still print).")
def ingest(db_path, paths, force, silent):
    """Ingest saved Console log pages into DB.

    PATH is a file, a folder (searched recursively for *.json, *.har, *.jsonl, *.ndjson and
    each of those with .gz) or - for standard input. A file is a page (a JSON array of
    entries, or an object holding it under data, logs, entries, items or results), a HAR
    capture, or JSON Lines (one entry per line), optionally gzip-compressed.
    Entries are stored once, by content hash, however often they appear. Files unchanged since
    the last run are skipped without being read.

    Example:

        claude-logs ingest logs.db logs/
    """
    db = _open(db_path)

    def problem(message: str) -> None:
        click.echo(f"Error: {message}", err=True)

    def note(message: str) -> None:
        click.echo(f"Note: {message}", err=True)

    show_bar = not silent and sys.stderr.isatty()
    try:
        if show_bar:
            total = sum(source.size for source in find_sources(list(paths), on_error=lambda e: None))
            with click.progressbar(length=total, label="Ingesting", file=sys.stderr,
                                   show_pos=False, show_percent=True) as bar:
                summary = ingest_paths(db, list(paths), force=force, on_progress=bar.update,
                                       on_problem=problem, on_note=note)
        else:
            summary = ingest_paths(db, list(paths), force=force, on_problem=problem, on_note=note)
    except sqlite3.DatabaseError as error:
        # Files committed before the error stay in the ledger; a re-run reads only the rest.
        raise click.ClickException(
            f"{db_path}: {error}; the files stored so far are kept, "
            f"check the database with: claude-logs verify {db_path}"
        ) from None
    finally:
        db.close()

    click.echo(summary.line())
    if not summary.ok:
        sys.exit(1)


def _load_queries() -> dict:
    try:
        return load_queries()
    except QueryError as error:
        raise click.ClickException(str(error)) from None


@cli.command(name="queries")
def list_queries():
    """List the canned queries with their titles and parameters.

    Example:

        claude-logs queries
    """
    for query in _load_queries().values():
        click.echo(f"{query.name}: {query.title}")
        click.echo(f"    {query.description}")
        for parameter in query.parameters:
            click.echo(f"    -p {parameter.name} VALUE    {parameter.description}")
        click.echo()


@cli.command(name="query")
@click.argument("db_path", metavar="DB", type=click.Path(dir_okay=False))
@click.argument("name")
@click.option("-p", "--param", "params", type=(str, str), multiple=True, metavar="NAME VALUE",
              help="Set a query parameter; repeat for several. Unset parameters mean no filter.")
@click.option("--format", "output_format", type=click.Choice(["table", "json", "csv"]),
              default="table", show_default=True, help="Output format.")
def run_canned_query(db_path, name, params, output_format):
    """Run the canned query NAME on DB and print its rows.

    `claude-logs queries` lists the names and parameters.

    Example:

        claude-logs query logs.db slowest_requests -p model claude-3-5-sonnet-20240620 -p limit 5
    """
    if not Path(db_path).exists():
        raise click.ClickException(
            f"{db_path} not found; give the database that 'claude-logs ingest' created"
        )
    db = _open(db_path)
    try:
        query = get_query(name, _load_queries())
        columns, rows = run_query(db.conn, query, dict(params))
    except QueryError as error:
        raise click.ClickException(str(error)) from None
    except sqlite3.Error as error:
        raise click.ClickException(f"query {name!r} failed on {db_path}: {error}") from None
    click.echo(format_rows(columns, rows, output_format), nl=False)


@cli.command()
@click.argument("db_path", metavar="DB", type=click.Path(dir_okay=True))
def verify(db_path):
    """Check DB for damaged or inconsistent data.

    Re-hashes every entry from its stored JSON, compares the ledger with logs and with the
    input files that are unchanged since, and runs SQLite's integrity check. Prints each
    problem and exits with status 1, or prints one line if all is well. DB is only read.

    Example:

        claude-logs verify logs.db
    """
    try:
        conn = open_read_only(db_path)
    except DatabaseError as error:
        raise click.ClickException(str(error)) from None
    report = verify_database(conn)
    conn.close()
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        count = sum(report.found.values())
        click.echo(f"Error: {db_path} has {count:,} problem{'s' if count != 1 else ''}; "
                   "see the lines above", err=True)
        sys.exit(1)
    click.echo(
        f"{db_path}: all is well: {report.rows_checked:,} "
        f"{'entry' if report.rows_checked == 1 else 'entries'} re-hashed, "
        f"{report.files_checked:,} input files compared with the ledger, integrity_check ok"
    )


@cli.command(name="report")
@click.argument("db_path", metavar="DB", type=click.Path(dir_okay=False))
@click.option("--since", metavar="WHEN",
              help="Start of the period, a UTC day or time (2024-10-01 or 2024-10-01T06:00), "
                   "included. Default: seven days before --until.")
@click.option("--until", metavar="WHEN",
              help="End of the period, a UTC day or time, excluded. Default: the day after the "
                   "newest entry.")
@click.option("--format", "output_format", type=click.Choice(["markdown", "html"]),
              default="markdown", show_default=True,
              help="Markdown tables, or one HTML file with inline charts that needs no network.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the report to this file instead of standard output.")
def report_command(db_path, since, until, output_format, output):
    """Report on a period of requests, compared with the period of the same length before it.

    Shows volume, error rate by status code, p50/p95/p99 latency per model with n, the ten
    slowest requests and the top token consumers, all from the canned queries.

    Example:

        claude-logs report logs.db --since 2024-10-01 --format html -o report.html
    """
    if not Path(db_path).exists():
        raise click.ClickException(
            f"{db_path} not found; give the database that 'claude-logs ingest' created"
        )
    db = _open(db_path)
    try:
        report = build_report(db.conn, Path(db_path).name, since, until)
    except ReportError as error:
        raise click.ClickException(str(error)) from None
    text = render_html(report) if output_format == "html" else render_markdown(report)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)

"""The `claude-logs` command line: click wiring only, the work lives in the library modules."""

from __future__ import annotations

import sys

import click

from .database import DatabaseError, open_database
from .loader import ingest as ingest_paths
from .sources import find_sources


@click.group()
@click.version_option(package_name="claude-logs")
def cli():
    """Store Anthropic Console request logs in SQLite and query them.

    Every subcommand takes the database path first, then its inputs.
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
    if show_bar:
        total = sum(source.size for source in find_sources(list(paths), on_error=lambda e: None))
        with click.progressbar(length=total, label="Ingesting", file=sys.stderr,
                               show_pos=False, show_percent=True) as bar:
            summary = ingest_paths(db, list(paths), force=force, on_progress=bar.update,
                                   on_problem=problem, on_note=note)
    else:
        summary = ingest_paths(db, list(paths), force=force, on_problem=problem, on_note=note)

    click.echo(summary.line())
    if not summary.ok:
        sys.exit(1)

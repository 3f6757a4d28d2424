"""Find the input files named on the command line: files, folders searched recursively, or `-`."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

STDIN = "-"

# Suffixes that name JSON Lines (one entry per line); other inputs are recognised by content.
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")

# Suffixes of the files a folder search picks up, each also gzip-compressed.
_FORMAT_SUFFIXES = (".json", ".har", *JSON_LINES_SUFFIXES)
PAGE_SUFFIXES = (*_FORMAT_SUFFIXES, *(suffix + ".gz" for suffix in _FORMAT_SUFFIXES))


class SourceError(Exception):
    """A named input path cannot be used; the message names it."""


@dataclass(frozen=True)
class Source:
    """One input: a file on disk, or standard input when path is `-`."""

    path: str
    size: int = 0
    mtime_ns: int = 0
    # The name the ledger records; None means the absolute path, so that a run from another
    # folder still finds the file in the ledger.
    ledger_name: str | None = None

    @property
    def is_stdin(self) -> bool:
        return self.path == STDIN

    @property
    def ledger_path(self) -> str:
        return self.ledger_name or os.path.abspath(self.path)


def _source(path: Path) -> Source:
    stat = path.stat()
    return Source(str(path), stat.st_size, stat.st_mtime_ns)


def find_sources(paths: list[str], on_error=None) -> list[Source]:
    """Expand the command-line paths into input files, folders in sorted order.

    A path that does not exist or cannot be read is passed to on_error as a SourceError
    (or raised, without on_error), and the other paths are still returned.
    """
    sources: list[Source] = []
    seen: set[str] = set()

    def add(source: Source) -> None:
        if source.path not in seen:
            seen.add(source.path)
            sources.append(source)

    def fail(message: str) -> None:
        if on_error is None:
            raise SourceError(message)
        on_error(SourceError(message))

    for name in paths:
        if name == STDIN:
            add(Source(STDIN))
            continue
        path = Path(name)
        try:
            if path.is_dir():
                for file in _files_under(path, fail):
                    # One broken file must not hide the rest of its folder.
                    try:
                        add(_source(file))
                    except OSError as error:
                        fail(f"{file}: {_os_reason(file, error)}")
            elif path.exists():
                add(_source(path))
            elif path.is_symlink():
                path.stat()  # Raises the reason: a loop or a missing target.
            else:
                fail(f"{name}: no such file or folder")
        except OSError as error:
            fail(f"{name}: {_os_reason(path, error)}")
    return sources


def _os_reason(path: Path, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "is a symlink loop (it leads back to itself); fix or remove the link"
    if error.errno == errno.ENOENT and path.is_symlink():
        return f"is a symlink to {os.readlink(path)}, which does not exist"
    return error.strerror or str(error)


def _files_under(folder: Path, fail) -> list[Path]:
    found = []

    def walk_error(error: OSError) -> None:
        fail(f"{error.filename}: cannot read the folder ({error.strerror})")

    # Symlinked folders are not followed, so a symlink loop cannot make the walk endless.
    # A link back to this folder or above is reported, because it can only be a mistake:
    # following it would never end.
    for root, folders, files in os.walk(folder, onerror=walk_error):
        folders.sort()
        for name in folders:
            link = Path(root) / name
            if link.is_symlink():
                try:
                    target = link.resolve()
                except (OSError, RuntimeError):  # Python before 3.13 raises RuntimeError for a loop.
                    target = link
                if target == link or Path(root).resolve().is_relative_to(target):
                    fail(f"{link}: is a symlink loop (it leads back to {target}); "
                         "not followed")
        for name in sorted(files):
            if name.lower().endswith(PAGE_SUFFIXES) and not name.startswith("."):
                found.append(Path(root) / name)
    return found

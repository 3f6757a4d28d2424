"""The progress bar shows on a terminal's standard error, and --silent hides it."""

import os
import pty
import subprocess
import sys

from conftest import make_entry, write_page


def ingest_on_terminal(tmp_path, *options):
    folder = tmp_path / "logs"
    for number in range(3):
        write_page(folder / f"p{number}.json", [make_entry(number)])
    controller, terminal = pty.openpty()
    result = subprocess.run(
        [sys.executable, "-m", "ingest", "ingest", *options, str(tmp_path / "logs.db"), str(folder)],
        stdout=subprocess.PIPE, stderr=terminal, text=True, timeout=60,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # Linux raises EIO once the terminal side is closed and drained.
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return result, b"".join(chunks).decode()


def test_progress_bar_on_terminal(tmp_path):
    result, terminal_output = ingest_on_terminal(tmp_path)
    assert result.returncode == 0
    assert "Ingesting" in terminal_output
    assert "100%" in terminal_output
    assert result.stdout.startswith("files: 3 read")


def test_silent_hides_progress_bar(tmp_path):
    result, terminal_output = ingest_on_terminal(tmp_path, "--silent")
    assert result.returncode == 0
    assert terminal_output == ""
    assert result.stdout.startswith("files: 3 read")

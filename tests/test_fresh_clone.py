"""A fresh clone needs only the README's two commands: `make demo` here, `make test` in CI."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git checkout")
def test_make_demo_in_fresh_clone(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    result = subprocess.run(
        ["make", "demo", f"PYTHON={sys.executable}"], cwd=clone, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    summaries = [line for line in result.stdout.splitlines() if line.startswith("files:")]
    assert summaries == [
        "files: 9 read, 0 skipped, 0 failed; entries: 890 read, 460 new, 430 duplicate, 0 rejected",
        "files: 0 read, 9 skipped, 0 failed; entries: 0 read, 0 new, 0 duplicate, 0 rejected",
    ]
    assert (clone / "demo.db").exists()
    assert (clone / ".venv" / "bin" / "claude-logs").exists()


def test_ci_script_runs_make_test():
    script = (ROOT / ".ci" / "run").read_text()
    assert "\nmake test\n" in script
    assert "apt-get install" in script


def test_make_ingest_without_logs_folder(tmp_path):
    result = subprocess.run(
        ["make", "-s", "ingest", f"LOGS={tmp_path / 'nowhere'}", f"DB={tmp_path / 'logs.db'}"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert f"No {tmp_path / 'nowhere'}/ folder. Save Console log pages there" in result.stderr
    assert "run 'make demo'" in result.stderr
    assert not (tmp_path / "logs.db").exists()

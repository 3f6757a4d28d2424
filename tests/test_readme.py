"""The README documents every command, option, table column and the first steps."""

import re
from pathlib import Path

import click
import pytest

from ingest.cli import cli
from ingest.database import open_database

README = (Path(__file__).parent.parent / "README.md").read_text()


def commands():
    return sorted(cli.commands.items())


@pytest.mark.parametrize("name, command", commands(), ids=[name for name, _ in commands()])
def test_command_documented(name, command):
    assert f"claude-logs {name}" in README
    for param in command.params:
        if isinstance(param, click.Option):
            assert any(option in README for option in param.opts), f"{name} {param.opts}"


def test_group_options_documented():
    assert "claude-logs --version" in README
    assert "claude-logs --help" in README


@pytest.mark.parametrize("table", ["logs", "files", "runs"])
def test_table_columns_documented(tmp_path, table):
    db = open_database(tmp_path / "logs.db")
    section = README.split(f"### `{table}`", 1)[1].split("\n### ", 1)[0]
    documented = set(re.findall(r"`([a-z_0-9]+)`", section))
    missing = [column for column in db[table].columns_dict if column not in documented]
    assert missing == []


def test_first_steps_documented():
    assert "make demo" in README
    assert "make test" in README
    assert "/api/logs/" in README
    assert "page_index=0" in README
    assert "files: 9 read, 0 skipped, 0 failed; entries: 890 read, 460 new" in README


def test_make_targets_documented():
    makefile = (Path(__file__).parent.parent / "Makefile").read_text()
    targets = re.findall(r"^([a-z]+):", makefile, re.MULTILINE)
    assert targets
    for target in targets:
        assert f"make {target}" in README, target

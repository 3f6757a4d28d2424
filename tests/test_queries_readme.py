"""The README documents every canned query, its parameters and an example of its output."""

from __future__ import annotations

import re
import shlex

import pytest

from click.testing import CliRunner

from ingest.cli import cli
from ingest.database import open_database
from ingest.loader import ingest as ingest_paths
from ingest.queries import load_queries
from query_helpers import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
SECTION = README.split("## Canned queries", 1)[-1].split("\n## ", 1)[0]
QUERIES = load_queries()


def test_readme_has_section():
    assert "## Canned queries" in README


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_query_in_table_with_parameters(name):
    row = next((line for line in SECTION.splitlines() if line.startswith(f"| `{name}` |")), None)
    assert row is not None, f"{name} has no row in the README's query table"
    for parameter in QUERIES[name].parameter_names:
        assert f"`{parameter}`" in row, (name, parameter)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    """The database that `make demo` builds, from the bundled sample."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    db = open_database(path)
    ingest_paths(db, [str(REPO / "examples" / "logs")])
    db.close()
    return path


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_query_example_is_real_output(name, demo_db):
    example = re.search(
        rf"```\n\$ (claude-logs query demo\.db {name}\b[^\n]*)\n(.*?)\n```", SECTION, re.DOTALL
    )
    assert example is not None, f"{name} has no example run on demo.db in the README"
    arguments = shlex.split(example.group(1))[1:]
    arguments[1] = str(demo_db)
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip("\n") == example.group(2)

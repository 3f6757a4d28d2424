"""The README documents every canned query, its parameters and an example of its output."""

from __future__ import annotations

import re

import pytest

from ingest.database import open_database
from ingest.queries import load_queries, run_query
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


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_query_has_example_output(name, tmp_path):
    example = re.search(rf"\$ claude-logs query logs\.db {name}\b.*\n(.+)\n", SECTION)
    assert example is not None, f"{name} has no example run in the README"
    columns, _ = run_query(open_database(tmp_path / "empty.db").conn, QUERIES[name])
    assert example.group(1).split() == columns

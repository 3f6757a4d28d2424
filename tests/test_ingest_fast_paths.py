"""The shortcuts on ingest's hot path give the same bytes and rows as the general code."""

from __future__ import annotations

import json

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.canonical import MAX_SAFE_INTEGER, canonical_json, format_number
from ingest.pages import parse_page
from ingest.rows import BASE_COLUMNS, base_row

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
# The rfc8785 package accepts integers below 2**53 only, one short of our bound.
safe_ints = st.integers(min_value=-MAX_SAFE_INTEGER + 1, max_value=MAX_SAFE_INTEGER - 1)
scalars = st.one_of(st.none(), st.booleans(), safe_ints, finite_floats, st.text())
entries = st.dictionaries(st.text(), st.one_of(scalars, st.lists(scalars, max_size=3),
                                               st.dictionaries(st.text(), scalars, max_size=3)))


@settings(max_examples=3000)
@given(finite_floats)
def test_format_number_matches_rfc8785(value):
    assert format_number(value) == rfc8785.dumps(value).decode()


@settings(max_examples=1000)
@given(entries)
def test_canonical_entry_matches_rfc8785(entry):
    assert canonical_json(entry) == rfc8785.dumps(entry)


def test_canonical_leaves_entry_unchanged():
    entry = {"model_latency": 2.0, "b": [1.5], "a": "x"}
    canonical = canonical_json(entry)
    assert canonical == b'{"a":"x","b":[1.5],"model_latency":2}'
    assert entry == {"model_latency": 2.0, "b": [1.5], "a": "x"}
    assert type(entry["model_latency"]) is float


def test_canonical_integral_floats():
    assert canonical_json({"a": 1e15, "b": -3.0, "c": 0.5}) == b'{"a":1000000000000000,"b":-3,"c":0.5}'


def test_parse_page_duplicate_key_in_valid_json():
    data = b'[{"model": "a", "x": "1"}, {"model": "b", "model": "c"}]'
    page = parse_page(data)
    assert [entry.index for entry in page.entries] == [0]
    assert page.rejected == [(1, 'has the key "model" twice')]


def test_parse_page_escaped_quotes_fast_path():
    entry = {"request": json.dumps({"a": 'q"uote\\'}), "error": "None", "k\\": "v\\\\"}
    page = parse_page(json.dumps([entry]).encode())
    assert page.rejected == []
    assert page.entries[0].value == entry


def test_base_row_converts_bool_and_huge_int():
    entry = {"model": True, "prompt_length": 2**63, "completion_length": 5, "tags": {"a": 1}}
    row = dict(zip(BASE_COLUMNS, base_row(entry, b"{}", "h")))
    assert row["model"] == 1
    assert row["prompt_length"] == float(2**63)
    assert row["completion_length"] == 5
    assert row["tags"] == '{"a":1}'


def test_base_row_plain_entry():
    entry = {"model": "m", "model_latency": 1.5, "prompt_token_count": 7, "prompt": None}
    row = dict(zip(BASE_COLUMNS, base_row(entry, b"{}", "h")))
    assert row["model"] == "m"
    assert row["model_latency"] == 1.5
    assert row["prompt_token_count"] == 7
    assert row["prompt"] is None

"""Bad files and bad entries: one line on stderr each, the run goes on, exit status 1."""

import codecs
import json
import sqlite3

import pytest

from conftest import make_entry, write_page
from ingest.canonical import canonical_json, content_hash


def stored_hashes(db_path):
    conn = sqlite3.connect(db_path)
    try:
        return sorted(row[0] for row in conn.execute("SELECT content_hash FROM logs"))
    finally:
        conn.close()


def ledger(db_path):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT path, status, error FROM files ORDER BY path").fetchall()
    finally:
        conn.close()


def hash_of(entry):
    return content_hash(canonical_json(entry))


@pytest.fixture
def good_page(tmp_path):
    return write_page(tmp_path / "logs" / "good.json", [make_entry(1), make_entry(2)])


GOOD_HASHES = sorted([hash_of(make_entry(1)), hash_of(make_entry(2))])


def ingest_bad_file(tmp_path, run_cli, name, content: bytes):
    bad = tmp_path / "logs" / name
    bad.write_bytes(content)
    result = run_cli("ingest", tmp_path / "logs.db", tmp_path / "logs")
    return bad, result


FILE_ERRORS = [
    (
        "invalid.json",
        b'[{"model": "a"} {"model": "b"}]',
        "is not valid JSON: Expecting ',' delimiter at line 1, column 17",
    ),
    (
        "truncated.json",
        b'[\n  {"model": "a"},\n  {"model": "b", "model_latency": 1.2',
        "is not valid JSON: Expecting ',' delimiter at line 3, column 38 "
        "(the file ends early: an interrupted download?)",
    ),
    (
        "bot-check.json",
        b"<!DOCTYPE html>\n<html><head><title>Just a moment...</title></head></html>",
        "is an HTML page, not a log page: it looks like a login or bot-check page that the "
        "browser saved in place of the JSON. Open the logs URL while signed in to the Console "
        "and save the JSON response",
    ),
    (
        "api-error.json",
        b'{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}',
        "is an API error response, not a log page: authentication_error: invalid x-api-key",
    ),
    (
        "object.json",
        b'{"entries": 3, "page": 1}',
        "is a JSON object (keys: entries, page), not a log page, which is a JSON array of "
        "entries",
    ),
    ("empty.json", b"", "is empty (0 bytes)"),
    (
        "utf16-no-bom.json",
        "[]".encode("utf-16-le") * 40,
        "contains NUL bytes, so it is not UTF-8 JSON (UTF-16 saved without a byte-order "
        "mark?); save it as UTF-8",
    ),
    ("latin1.json", b'[{"model": "caf\xe9"}]', "is not valid UTF-8 text (byte 0xe9 at offset 15)"),
]


@pytest.mark.parametrize("name, content, reason", FILE_ERRORS, ids=[case[0] for case in FILE_ERRORS])
def test_bad_file_reported(tmp_path, run_cli, good_page, name, content, reason):
    bad, result = ingest_bad_file(tmp_path, run_cli, name, content)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {bad}: {reason}\n"
    assert result.stdout.strip() == (
        "files: 1 read, 0 skipped, 1 failed; entries: 2 read, 2 new, 0 duplicate, 0 rejected"
    )
    assert stored_hashes(tmp_path / "logs.db") == GOOD_HASHES
    assert sorted(ledger(tmp_path / "logs.db")) == sorted([
        (str(bad), "failed", reason),
        (str(good_page), "ingested", None),
    ])


def test_failed_file_retried_next_run(tmp_path, run_cli, good_page):
    bad, _ = ingest_bad_file(tmp_path, run_cli, "empty.json", b"")
    bad.write_text(json.dumps([make_entry(3)]))
    result = run_cli("ingest", tmp_path / "logs.db", tmp_path / "logs")
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        "files: 1 read, 1 skipped, 0 failed; entries: 1 read, 1 new, 0 duplicate, 0 rejected"
    )
    assert (str(bad), "ingested", None) in ledger(tmp_path / "logs.db")


ACCEPTED = [
    ("empty-page.json", b"[]", []),
    ("bom.json", codecs.BOM_UTF8 + json.dumps([make_entry(3)]).encode(), [make_entry(3)]),
    (
        "utf16-le.json",
        codecs.BOM_UTF16_LE + json.dumps([make_entry(4)], ensure_ascii=False).encode("utf-16-le"),
        [make_entry(4)],
    ),
    (
        "utf16-be.json",
        codecs.BOM_UTF16_BE + json.dumps([make_entry(5, model="模型")], ensure_ascii=False)
        .encode("utf-16-be"),
        [make_entry(5, model="模型")],
    ),
]


@pytest.mark.parametrize("name, content, entries", ACCEPTED, ids=[case[0] for case in ACCEPTED])
def test_accepted_without_complaint(tmp_path, run_cli, good_page, name, content, entries):
    _, result = ingest_bad_file(tmp_path, run_cli, name, content)
    assert result.exit_code == 0
    assert result.stderr == ""
    assert stored_hashes(tmp_path / "logs.db") == sorted(GOOD_HASHES + [hash_of(e) for e in entries])


ENTRY_REJECTIONS = [
    ("not-object", b'"a string"', 'entry 1 is a JSON string, not an object'),
    ("array", b"[1, 2]", "entry 1 is a JSON array, not an object"),
    ("null", b"null", "entry 1 is a JSON null, not an object"),
    ("nan", b'{"model": "a", "model_latency": NaN}', "entry 1 contains NaN, which JSON cannot represent"),
    (
        "infinity",
        b'{"model": "a", "model_latency": -Infinity}',
        "entry 1 contains -Infinity, which JSON cannot represent",
    ),
    (
        "overflow",
        b'{"model": "a", "model_latency": 1e400}',
        "entry 1 contains a number beyond the range of a double",
    ),
    (
        "huge-integer",
        b'{"model": "a", "prompt_token_count": 1' + b"0" * 400 + b"}",
        "entry 1 contains a number beyond the range of a double",
    ),
    ("duplicate-key", b'{"model": "a", "model": "b"}', 'entry 1 has the key "model" twice'),
    (
        "nested-duplicate",
        b'{"model": "a", "x": {"k": 1, "k": 1}}',
        'entry 1 has the key "k" twice',
    ),
]


@pytest.mark.parametrize("name, bad_entry, reason", ENTRY_REJECTIONS,
                         ids=[case[0] for case in ENTRY_REJECTIONS])
def test_bad_entry_rejected_rest_lands(tmp_path, run_cli, name, bad_entry, reason):
    first, last = json.dumps(make_entry(1)).encode(), json.dumps(make_entry(2)).encode()
    page = tmp_path / "logs" / "page.json"
    page.parent.mkdir()
    page.write_bytes(b"[" + first + b",\n" + bad_entry + b",\n" + last + b"]")
    result = run_cli("ingest", tmp_path / "logs.db", page)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {page}: {reason}; it was not stored\n"
    assert result.stdout.strip() == (
        "files: 1 read, 0 skipped, 0 failed; entries: 3 read, 2 new, 0 duplicate, 1 rejected"
    )
    assert stored_hashes(tmp_path / "logs.db") == GOOD_HASHES


def test_lone_surrogate_stored_as_utf8(tmp_path, run_cli):
    page = tmp_path / "page.json"
    page.write_bytes(b'[{"model": "a\\ud800b", "prompt": "\\udc00"}]')
    db_path = tmp_path / "logs.db"
    result = run_cli("ingest", db_path, page)
    assert result.exit_code == 0
    expected_raw = '{"model":"a\ufffdb","prompt":"\ufffd"}'
    conn = sqlite3.connect(db_path)
    conn.text_factory = bytes
    stored = conn.execute("SELECT raw, model, content_hash FROM logs").fetchall()
    conn.close()
    assert stored == [(
        expected_raw.encode("utf-8"),
        "a\ufffdb".encode("utf-8"),
        content_hash(expected_raw.encode("utf-8")).encode(),
    )]

    again = run_cli("ingest", tmp_path / "other.db", page)
    assert again.exit_code == 0
    assert stored_hashes(tmp_path / "other.db") == [content_hash(expected_raw.encode("utf-8"))]

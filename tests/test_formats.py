import codecs
import gzip
import json
import sqlite3

import pytest

import ingest.reader
from conftest import make_entry
from formats_samples import page_text, run_cli, stored, write_pages
from ingest.database import open_database
from ingest.loader import ingest as ingest_paths
from ingest.pages import WRAPPER_KEYS

ENTRIES = json.loads(page_text(0, 30))


@pytest.fixture
def page_rows(tmp_path):
    """The rows that ENTRIES give when saved and ingested as one page file."""
    paths = write_pages(tmp_path / "pages", [json.dumps(ENTRIES)])
    result = run_cli("ingest", str(tmp_path / "pages.db"), *map(str, paths))
    assert result.returncode == 0, result.stderr
    return stored(tmp_path / "pages.db")


def json_lines(entries) -> str:
    # Key order and number spelling differ from the page file, which must not change a hash.
    lines = []
    for entry in entries:
        reordered = dict(reversed(list(entry.items())))
        lines.append(json.dumps(reordered, separators=(",", ":")))
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson"])
def test_json_lines_same_rows(tmp_path, page_rows, suffix):
    path = tmp_path / f"entries{suffix}"
    path.write_text(json_lines(ENTRIES))

    result = run_cli("ingest", str(tmp_path / "lines.db"), str(path))

    assert result.returncode == 0, result.stderr
    assert len(page_rows) == 30
    assert stored(tmp_path / "lines.db") == page_rows


def test_json_lines_bad_line_reported(tmp_path, page_rows):
    lines = json_lines(ENTRIES).splitlines()
    lines.insert(3, '{"model": "truncated", "prompt_le')
    lines.insert(7, "")
    lines.insert(9, "[1, 2]")
    lines.insert(11, '{"model": "x", "model_latency": NaN}')
    path = tmp_path / "entries.jsonl"
    path.write_text("\r\n".join(lines) + "\r\n")

    result = run_cli("ingest", str(tmp_path / "lines.db"), str(path))

    errors = result.stderr.decode().splitlines()
    assert result.returncode == 1
    assert errors == [
        f"Error: {path}: line 4 is not valid JSON at column 24: Unterminated string starting at;"
        " it was not stored",
        f"Error: {path}: line 10 is a JSON array, not an object; it was not stored",
        f"Error: {path}: line 12 contains NaN, which JSON cannot represent; it was not stored",
    ]
    assert stored(tmp_path / "lines.db") == page_rows
    assert "entries: 33 read, 30 new, 0 duplicate, 3 rejected" in result.stdout.decode()


def test_json_lines_many_pages_in_one_savepoint(tmp_path, page_rows, monkeypatch):
    path = tmp_path / "entries.jsonl"
    path.write_text(json_lines(ENTRIES))
    monkeypatch.setattr(ingest.reader, "ENTRIES_PER_PAGE", 7)
    db = open_database(tmp_path / "lines.db")

    summary = ingest_paths(db, [str(path)])

    assert summary.entries_read == 30
    assert stored(tmp_path / "lines.db") == page_rows
    assert db.execute("SELECT entries_read, entries_new FROM files").fetchall() == [(30, 30)]


@pytest.mark.parametrize("name", ["page.json.gz", "entries.jsonl.gz", "entries.ndjson.gz"])
def test_gzip_same_rows(tmp_path, page_rows, name):
    text = json.dumps(ENTRIES) if name.startswith("page") else json_lines(ENTRIES)
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()))

    result = run_cli("ingest", str(tmp_path / "gz.db"), str(path))

    assert result.returncode == 0, result.stderr
    assert stored(tmp_path / "gz.db") == page_rows


def test_gzip_truncated_fails_file(tmp_path):
    path = tmp_path / "page.json.gz"
    data = gzip.compress(json.dumps(ENTRIES).encode())
    path.write_bytes(data[: len(data) // 2])

    result = run_cli("ingest", str(tmp_path / "gz.db"), str(path))

    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        f"Error: {path}: is a gzip file that ends early (an interrupted download?)"
    )
    assert stored(tmp_path / "gz.db") == set()


@pytest.mark.parametrize("key", WRAPPER_KEYS)
def test_wrapped_page_same_rows(tmp_path, page_rows, key):
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"has_more": True, key: ENTRIES, "next_page": 2}))

    result = run_cli("ingest", str(tmp_path / "wrapped.db"), str(path))

    assert result.returncode == 0, result.stderr
    assert stored(tmp_path / "wrapped.db") == page_rows


def test_wrapped_page_two_lists_rejected(tmp_path):
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"data": ENTRIES, "items": []}))

    result = run_cli("ingest", str(tmp_path / "wrapped.db"), str(path))

    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        f"Error: {path}: is a JSON object with lists of entries under more than one key "
        "(data, items), so the page it wraps is ambiguous"
    )


def test_object_without_list_key_explained(tmp_path):
    path = tmp_path / "object.json"
    path.write_text(json.dumps({"rows": ENTRIES}))

    result = run_cli("ingest", str(tmp_path / "object.db"), str(path))

    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        f"Error: {path}: is a JSON object (keys: rows), not a log page, which is a JSON array "
        "of entries"
    )


@pytest.mark.parametrize("shape", ["page", "wrapped", "json_lines", "gzip_page", "gzip_lines"])
def test_stdin_detects_format(tmp_path, page_rows, shape):
    text = {
        "page": json.dumps(ENTRIES, indent=2),
        "wrapped": json.dumps({"data": ENTRIES}, indent=2),
        "json_lines": json_lines(ENTRIES),
        "gzip_page": json.dumps(ENTRIES),
        "gzip_lines": json_lines(ENTRIES),
    }[shape]
    data = gzip.compress(text.encode()) if shape.startswith("gzip") else text.encode()

    result = run_cli("ingest", str(tmp_path / "stdin.db"), "-", stdin=data)

    assert result.returncode == 0, result.stderr
    assert stored(tmp_path / "stdin.db") == page_rows


def test_stdin_har_detected(tmp_path):
    from formats_samples import LOGS_URL, har, har_entry, json_content

    capture = har("firefox", [har_entry("firefox", LOGS_URL.format(0), 200,
                                        json_content(json.dumps(ENTRIES), base64_encoded=True))])

    result = run_cli("ingest", str(tmp_path / "stdin.db"), "-",
                     stdin=json.dumps(capture).encode())

    assert result.returncode == 0, result.stderr
    assert len(stored(tmp_path / "stdin.db")) == 30
    assert "1 log page in 1 HAR capture" in result.stdout.decode()


def test_single_line_object_not_json_lines(tmp_path):
    result = run_cli("ingest", str(tmp_path / "stdin.db"), "-",
                     stdin=b'{"error": {"type": "rate_limit_error", "message": "slow down"}}\n')

    assert result.returncode == 1
    assert "is an API error response, not a log page: rate_limit_error: slow down" in (
        result.stderr.decode()
    )


def test_folder_finds_every_format(tmp_path, page_rows):
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(ENTRIES[:10]))
    (folder / "b.jsonl").write_text(json_lines(ENTRIES[10:20]))
    (folder / "c.ndjson.gz").write_bytes(gzip.compress(json_lines(ENTRIES[20:25]).encode()))
    (folder / "d.json.gz").write_bytes(gzip.compress(json.dumps(ENTRIES[25:]).encode()))
    (folder / "notes.txt").write_text("not read")

    result = run_cli("ingest", str(tmp_path / "folder.db"), str(folder))

    assert result.returncode == 0, result.stderr
    assert "files: 4 read" in result.stdout.decode()
    assert stored(tmp_path / "folder.db") == page_rows


# Large inputs: the threshold is lowered so that small files take the streaming path.

ODD_PAGE = (
    '[{"model": "a", "n": 2.0}, 7, {"model": "a", "model": "b"}, {"n": NaN},'
    ' {"n": 1e400}, {"s": "\\ud800"}, {"n": 2}, {"n": 0.00001, "m": [1, {"k": "]},"}]}]'
)


def rows_and_problems(tmp_path, name: str, data: bytes, threshold: int, monkeypatch):
    monkeypatch.setattr(ingest.reader, "STREAM_THRESHOLD", threshold)
    monkeypatch.setattr(ingest.reader, "ENTRIES_PER_PAGE", 3)
    path = tmp_path / name
    path.write_bytes(data)
    db_path = tmp_path / f"{name}-{threshold}.db"
    problems = []
    summary = ingest_paths(open_database(db_path), [str(path)], on_problem=problems.append)
    messages = [problem.split(": ", 1)[1] for problem in problems]
    return stored(db_path), messages, summary


@pytest.mark.parametrize("data", [
    ODD_PAGE.encode(),
    codecs.BOM_UTF8 + ODD_PAGE.encode(),
    codecs.BOM_UTF16_LE + ODD_PAGE.encode("utf-16-le"),
    json.dumps({"logs": json.loads(page_text(0, 20))}).encode(),
    page_text(0, 20).encode(),
], ids=["odd", "bom", "utf16", "wrapped", "plain"])
def test_streamed_page_matches_whole(tmp_path, monkeypatch, data):
    whole = rows_and_problems(tmp_path, "page.json", data, 10**9, monkeypatch)
    streamed = rows_and_problems(tmp_path, "page.json", data, 16, monkeypatch)

    assert streamed[0] == whole[0]
    assert streamed[1] == whole[1]
    assert streamed[2].entries_read == whole[2].entries_read
    assert streamed[2].entries_new == whole[2].entries_new


def test_streamed_page_rejections(tmp_path, monkeypatch):
    rows, problems, summary = rows_and_problems(
        tmp_path, "page.json", ODD_PAGE.encode(), 16, monkeypatch
    )

    assert problems == [
        "entry 1 is a JSON number, not an object; it was not stored",
        'entry 2 has the key "model" twice; it was not stored',
        "entry 3 contains NaN, which JSON cannot represent; it was not stored",
        "entry 4 contains a number beyond the range of a double; it was not stored",
    ]
    assert summary.entries_read == 8
    assert summary.entries_new == 4
    assert {raw for _, raw in rows} == {
        '{"model":"a","n":2}', '{"s":"\ufffd"}', '{"n":2}', '{"m":[1,{"k":"]},"}],"n":0.00001}',
    }


def test_streamed_invalid_entry_fails_file(tmp_path, monkeypatch):
    entries = [json.dumps(make_entry(number)) for number in range(10)]
    entries[8] = '{"model": tru}'
    rows, problems, summary = rows_and_problems(
        tmp_path, "page.json", ("[" + ",".join(entries) + "]").encode(), 16, monkeypatch
    )

    assert rows == set()
    assert problems == ["entry 8 is not valid JSON at column 11: Expecting value"]
    assert summary.files_failed == 1


def test_streamed_failure_drops_new_columns(tmp_path, monkeypatch):
    # The first pages add a column, then the file fails: the next file must still land.
    bad = "[" + ",".join(json.dumps(make_entry(n, service_tier="standard")) for n in range(6))
    good = json.dumps([make_entry(100)])
    monkeypatch.setattr(ingest.reader, "STREAM_THRESHOLD", 16)
    monkeypatch.setattr(ingest.reader, "ENTRIES_PER_PAGE", 2)
    (tmp_path / "a.json").write_text(bad)
    (tmp_path / "b.json").write_text(good)
    db = open_database(tmp_path / "logs.db")

    summary = ingest_paths(db, [str(tmp_path / "a.json"), str(tmp_path / "b.json")])

    assert summary.files_failed == 1
    assert summary.files_read == 1
    assert summary.entries_new == 1
    assert "service_tier" not in db["logs"].columns_dict


def test_streamed_object_without_list_key(tmp_path, monkeypatch):
    data = json.dumps({"rows": ENTRIES, "meta": {"data": []}}).encode()
    rows, problems, summary = rows_and_problems(tmp_path, "o.json", data, 16, monkeypatch)

    assert problems == [
        "is a JSON object without a list of entries under any of the keys "
        "data, logs, entries, items, results (keys that hold lists: rows), so it is not a log page"
    ]
    assert summary.files_failed == 1


def test_streamed_ledger_row(tmp_path, monkeypatch):
    rows_and_problems(tmp_path, "page.json", ODD_PAGE.encode(), 16, monkeypatch)

    with sqlite3.connect(tmp_path / "page.json-16.db") as conn:
        row = conn.execute(
            "SELECT status, entries_read, entries_new, entries_rejected FROM files"
        ).fetchone()
    assert row == ("ingested", 8, 4, 4)

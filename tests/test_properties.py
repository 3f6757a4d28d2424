"""Property tests: the content hash depends on an entry's values and nothing else, and no
sequence of bytes in an input file makes the ingest fail with an unhandled exception."""

from __future__ import annotations

import codecs
import hashlib
import json

import rfc8785
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ingest.canonical import canonical_json, content_hash
from ingest.database import open_database
from ingest.loader import ingest
from ingest.pages import parse_page
from ingest.verify import verify

# The largest integer that the reference implementation accepts: it rejects 2**53 itself.
SAFE_INTEGER = 2**53 - 1

# JSON values whose numbers are exact doubles, so every spelling of a number means one value.
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-SAFE_INTEGER, SAFE_INTEGER),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
values = st.recursive(
    leaves,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=8), children, max_size=4)),
    max_leaves=12,
)
entries = st.dictionaries(st.text(max_size=12), values, min_size=1, max_size=6)

WHITESPACE = st.text(alphabet=" \t\n\r", max_size=3)
SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                 "\r": "\\r", "\t": "\\t"}


def reference_hash(value) -> str:
    """Return the content hash by the independent RFC 8785 implementation."""
    return hashlib.sha256(rfc8785.dumps(value)).hexdigest()


def spell_string(text: str, draw) -> str:
    """Write a JSON string, each character literally or as an escape, as chosen by draw."""
    parts = ['"']
    for char in text:
        code = ord(char)
        must_escape = char in '"\\' or code < 0x20
        style = draw(st.sampled_from(["literal", "short", "unicode"]))
        if style == "literal" and not must_escape:
            parts.append(char)
        elif style == "short" and char in SHORT_ESCAPES:
            parts.append(SHORT_ESCAPES[char])
        elif code > 0xFFFF:
            high, low = divmod(code - 0x10000, 0x400)
            parts.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04X}")
        else:
            parts.append(f"\\u{code:04x}")
    parts.append('"')
    return "".join(parts)


def spell_number(number, draw) -> str:
    """Write a number in one of the spellings that all parse to the same double."""
    if type(number) is int:
        options = [str(number), f"{number}.0", f"{number}e0", f"{number}E+00"]
        if abs(number) < SAFE_INTEGER // 10:
            options.append(f"{number * 10}e-1")
        if number:
            options.append(f"{number:.16e}")
    else:
        options = [repr(number), f"{number:.17e}", f"{number:.17g}", f"{number:.17E}"]
    spelled = draw(st.sampled_from(options))
    assert float(spelled) == float(number)
    return spelled


def spell(value, draw) -> str:
    """Write value as JSON text with key order, whitespace, escapes and numbers chosen by draw."""
    space = lambda: draw(WHITESPACE)  # noqa: E731
    if value is None or type(value) is bool:
        return json.dumps(value)
    if type(value) in (int, float):
        return spell_number(value, draw)
    if type(value) is str:
        return spell_string(value, draw)
    if type(value) is list:
        items = [space() + spell(item, draw) + space() for item in value]
        return "[" + ",".join(items) + space() + "]"
    keys = draw(st.permutations(list(value)))
    members = [space() + spell_string(key, draw) + space() + ":" + space() + spell(value[key], draw)
               + space() for key in keys]
    return "{" + ",".join(members) + space() + "}"


def hash_of_page(text: str) -> str:
    page = parse_page(text.encode("utf-8"))
    assert page.rejected == []
    assert len(page.entries) == 1
    return content_hash(page.entries[0].canonical)


@settings(max_examples=500, deadline=None)
@given(entry=entries, data=st.data())
def test_hash_ignores_spelling(entry, data):
    text = "[" + spell(entry, data.draw) + "]"

    assert hash_of_page(text) == reference_hash(entry)
    assert hash_of_page(json.dumps([entry])) == reference_hash(entry)


def json_equal(left, right) -> bool:
    """Return whether two parsed JSON values are the same JSON value (true is not 1)."""
    if type(left) is bool or type(right) is bool or left is None or right is None:
        return type(left) is type(right) and left == right
    if type(left) in (int, float) and type(right) in (int, float):
        return float(left) == float(right)
    if type(left) is not type(right):
        return False
    if type(left) is list:
        return len(left) == len(right) and all(map(json_equal, left, right))
    if type(left) is dict:
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    return left == right


def paths_to_values(value, prefix=()):
    """Yield the path (a tuple of keys and indexes) of every value nested in value."""
    yield prefix
    if type(value) is dict:
        for key, item in value.items():
            yield from paths_to_values(item, (*prefix, key))
    elif type(value) is list:
        for index, item in enumerate(value):
            yield from paths_to_values(item, (*prefix, index))


def replaced(value, path, new):
    if not path:
        return new
    copy = dict(value) if type(value) is dict else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy


@settings(max_examples=500, deadline=None)
@given(entry=entries, data=st.data())
def test_hash_changes_with_any_value(entry, data):
    paths = [path for path in paths_to_values(entry) if path]
    path = data.draw(st.sampled_from(paths))
    old = entry
    for step in path:
        old = old[step]
    new = data.draw(values)
    assume(not json_equal(old, new))
    changed = replaced(entry, path, new)

    assert content_hash(canonical_json(changed)) != content_hash(canonical_json(entry))


@settings(max_examples=200, deadline=None)
@given(entry=entries, key=st.text(max_size=12), data=st.data())
def test_hash_changes_with_added_key(entry, key, data):
    assume(key not in entry)
    changed = {**entry, key: data.draw(values)}

    assert content_hash(canonical_json(changed)) != content_hash(canonical_json(entry))


# Arbitrary bytes as an input file

SAMPLE_PAGE = json.dumps([
    {"model": "claude-3-5-sonnet-20240620", "model_latency": 2.0138745307922363,
     "error": "None", "request_start_time": "2024-10-09 05:09:38.284508+00:00",
     "request": '{"max_tokens":256}', "tags": "{}", "prompt_token_count": 12},
    {"model": "claude-3-5-haiku-20241022", "model_latency": None,
     "error": '{"client_error":false,"code":500,"detail":"Internal server error"}'},
]).encode()


@st.composite
def damaged_pages(draw) -> bytes:
    """Return a valid page with bytes flipped, inserted, deleted or cut off."""
    data = bytearray(draw(st.sampled_from([SAMPLE_PAGE, json.dumps([]).encode(),
                                            json.dumps(draw(st.lists(entries, max_size=3))).encode()])))
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif action == "delete":
            del data[position:position + draw(st.integers(1, 8))]
        else:
            del data[position:]
    return bytes(data)


@st.composite
def encoded_pages(draw) -> bytes:
    """Return a page in another encoding or with a byte-order mark."""
    text = json.dumps(draw(st.lists(entries, max_size=2)), ensure_ascii=draw(st.booleans()))
    encoding = draw(st.sampled_from(["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be",
                                     "utf-32", "latin-1"]))
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return codecs.BOM_UTF8 + text.encode("utf-8", "surrogatepass")


def nested(depth: int) -> bytes:
    return b'[{"a":' + b"[" * depth + b"]" * depth + b"}]"


def long_integer(digits: int) -> bytes:
    return b'[{"a":1' + b"0" * digits + b"}]"


arbitrary_files = st.one_of(
    st.binary(max_size=300),
    damaged_pages(),
    encoded_pages(),
    st.text(max_size=200).map(lambda text: text.encode("utf-8")),
    # Parser limits: nesting depth and the length of an integer.
    st.integers(1, 3_000).map(nested),
    st.integers(1, 6_000).map(long_integer),
)


def test_arbitrary_bytes_land_or_are_reported(tmp_path):
    db = open_database(tmp_path / "logs.db")
    folder = tmp_path / "inputs"
    folder.mkdir()
    counter = iter(range(10**9))
    seen = {"landed": 0, "reported": 0}

    @settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=arbitrary_files)
    def check(data: bytes) -> None:
        path = folder / f"input-{next(counter):05d}.json"
        path.write_bytes(data)
        problems: list[str] = []

        summary = ingest(db, [str(path)], on_problem=problems.append)

        (status, error, read, rejected) = db.execute(
            "SELECT status, error, entries_read, entries_rejected FROM files WHERE path = ?",
            [str(path)],
        ).fetchone()
        if summary.files_failed:
            seen["reported"] += 1
            assert status == "failed"
            assert summary.files_read == 0
            assert problems == [f"{path}: {error}"]
        else:
            seen["landed"] += 1
            assert status == "ingested"
            assert summary.files_read + summary.files_skipped == 1
            if summary.files_skipped:
                # The same bytes came in an earlier example, which reported their problems.
                assert problems == []
            else:
                assert rejected == len(problems)
            assert all(problem.startswith(f"{path}: entry ") for problem in problems)

    check()

    # Both outcomes occurred, and what landed is consistent with the ledger and runs.
    assert seen["landed"] + seen["reported"] >= 500
    assert seen["landed"] > 0
    assert seen["reported"] > 0
    report = verify(db.conn)
    assert report.lines() == []
    assert report.ok

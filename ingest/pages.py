"""Parse a saved Console log page (a JSON array of entries) into entries and rejections.

A page may also come wrapped in an object that contains the array under one of WRAPPER_KEYS.

orjson parses nearly every page. It rejects NaN and lone surrogates, and it keeps the last value
of a duplicate key without an error. So a page that orjson rejects, or that may contain a
duplicate key, is parsed again with the standard library. That parser can point at the one
entry at fault, and the rest of the page still lands.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field

import orjson

from .canonical import NotCanonicalizable, canonical_json


class PageError(ValueError):
    """The whole file is not a usable log page; the message gives the reason in plain words."""


class EntryError(ValueError):
    """One entry's JSON text is invalid; the message gives the reason without naming the entry."""


# Keys under which a page wrapped in an object contains its list of entries, as API clients and
# export tools commonly name it: {"data": [...], "has_more": true}.
WRAPPER_KEYS = ("data", "logs", "entries", "items", "results")


@dataclass
class Entry:
    index: int
    value: dict
    canonical: bytes


@dataclass
class Page:
    entries: list[Entry] = field(default_factory=list)
    # (index, reason) for each entry that was not stored.
    rejected: list[tuple[int, str]] = field(default_factory=list)
    # How a rejection names an entry's index: "entry 3" in a page, "line 7" in JSON Lines.
    position: str = "entry"
    # Where in the file the page came from, as a prefix for rejections ("log page 2 (URL): ").
    origin: str = ""

    @property
    def entries_read(self) -> int:
        return len(self.entries) + len(self.rejected)


_HTML_START = re.compile(rb"^\s*<(!doctype\s+html|html|head|body|!--)", re.IGNORECASE)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _decode(data: bytes) -> bytes:
    """Return the page as UTF-8 bytes without a byte-order mark."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):]
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(encoding)
            except UnicodeDecodeError as error:
                raise PageError(f"is not valid {encoding.upper()} text ({error.reason})") from None
            return text.encode("utf-8", "surrogatepass")
    if b"\x00" in data[:64]:
        raise PageError(
            "contains NUL bytes, so it is not UTF-8 JSON "
            "(UTF-16 saved without a byte-order mark?); save it as UTF-8"
        )
    return data


def _string_tokens_in_text(data: bytes) -> int:
    """Count the strings (keys and values) in valid JSON text by its unescaped quotes."""
    if b"\\\\" in data:
        # Drop escaped backslashes first, so that the quote in \\" counts as unescaped.
        data = data.replace(b"\\\\", b"")
    return (data.count(b'"') - data.count(b'\\"')) // 2


def _string_tokens_in_value(value) -> int:
    kind = type(value)
    if kind is str:
        return 1
    if kind is dict:
        return len(value) + sum(_string_tokens_in_value(item) for item in value.values())
    if kind is list:
        return sum(_string_tokens_in_value(item) for item in value)
    return 0


def _describe_object(value: dict) -> str:
    error = value.get("error")
    if isinstance(error, dict) and ("type" in error or "message" in error):
        return (
            "is an API error response, not a log page: "
            f"{error.get('type', 'error')}: {error.get('message', '(no message)')}"
        )
    if isinstance(error, str) or "detail" in value:
        detail = error if isinstance(error, str) else value["detail"]
        return f"is an error response, not a log page: {detail}"
    keys = ", ".join(sorted(value)[:5]) or "none"
    return f"is a JSON object (keys: {keys}), not a log page, which is a JSON array of entries"


def _as_entries(value) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return _unwrap(value)
    raise PageError(
        f"is a JSON {_json_type_name(value)}, not a log page, which is a JSON array of entries"
    )


def _json_type_name(value) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string",
            list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _unwrap(value: dict) -> list:
    keys = [key for key in WRAPPER_KEYS if isinstance(value.get(key), list)]
    if len(keys) > 1:
        raise PageError(
            f"is a JSON object with lists of entries under more than one key "
            f"({', '.join(keys)}), so the page it wraps is ambiguous"
        )
    if keys:
        return value[keys[0]]
    raise PageError(_describe_object(value))


class _DuplicateKey:
    def __init__(self, key: str):
        self.key = key


class _NonFinite:
    def __init__(self, literal: str):
        self.literal = literal


def _pairs_to_dict(pairs):
    result = dict(pairs)
    if len(result) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                return _DuplicateKey(key)
            seen.add(key)
    return result


def _clean(value):
    """Return value with lone surrogates replaced by U+FFFD, or raise NotCanonicalizable.

    The standard library's parser leaves the markers for duplicate keys and NaN in place;
    this is where they turn into a rejection.
    """
    kind = type(value)
    if kind is str:
        return _LONE_SURROGATE.sub("\ufffd", value)
    if kind is dict:
        return {_clean(key): _clean(item) for key, item in value.items()}
    if kind is list:
        return [_clean(item) for item in value]
    if kind is _DuplicateKey:
        raise NotCanonicalizable(f'has the key "{value.key}" twice')
    if kind is _NonFinite:
        raise NotCanonicalizable(f"contains {value.literal}, which JSON cannot represent")
    if kind is float and (value != value or value in (float("inf"), float("-inf"))):
        raise NotCanonicalizable("contains a number beyond the range of a double")
    return value


def _invalid_json(text: str, error: json.JSONDecodeError) -> PageError:
    message = f"is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
    if error.pos >= len(text.rstrip()):
        message += " (the file ends early: an interrupted download?)"
    return PageError(message)


def _load_with_stdlib(data: bytes):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PageError(
            f"is not valid UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None
    try:
        return json.loads(text, object_pairs_hook=_pairs_to_dict, parse_constant=_NonFinite)
    except json.JSONDecodeError as error:
        raise _invalid_json(text, error) from None


def check_start(data: bytes) -> bytes:
    """Check the start of a file (or all of it) for what makes the whole file unusable.

    Returns data as UTF-8 without a byte-order mark. Raises PageError for an empty file, an
    HTML page, invalid UTF-16 and NUL bytes in UTF-8.
    """
    if not data.strip():
        raise PageError("is empty (0 bytes)" if not data else "contains only whitespace")
    data = _decode(data)
    if _HTML_START.match(data):
        raise PageError(
            "is an HTML page, not a log page: it looks like a login or bot-check page "
            "that the browser saved in place of the JSON. Open the logs URL while signed in "
            "to the Console and save the JSON response"
        )
    return data


def load_document(data: bytes) -> tuple[object, bool]:
    """Parse the bytes of a whole JSON file after checking its encoding.

    Returns the value and whether the standard library parsed it, in which case the value
    may hold markers for duplicate keys and non-finite numbers that add_entry turns into
    rejections. Raises PageError for a file that is not JSON text.
    """
    data = check_start(data)
    try:
        value = orjson.loads(data)
        if _string_tokens_in_text(data) == _string_tokens_in_value(value):
            return value, False
    except orjson.JSONDecodeError:
        pass
    value = _load_with_stdlib(data)
    if isinstance(value, _DuplicateKey):
        raise PageError(f'is a JSON object with the key "{value.key}" twice, not a log page')
    return value, True


def parse_entry(data: bytes) -> tuple[object, bool]:
    """Parse the JSON text of one entry, as load_document parses a whole file.

    Returns the value and whether the standard library parsed it. Raises EntryError for
    text that is not valid UTF-8 JSON.
    """
    try:
        value = orjson.loads(data)
        if _string_tokens_in_text(data) == _string_tokens_in_value(value):
            return value, False
    except orjson.JSONDecodeError:
        pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EntryError(
            f"is not valid UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None
    try:
        value = json.loads(text, object_pairs_hook=_pairs_to_dict, parse_constant=_NonFinite)
    except json.JSONDecodeError as error:
        raise EntryError(f"is not valid JSON at column {error.colno}: {error.msg}") from None
    return value, True


def add_entry(page: Page, index: int, value, from_stdlib: bool) -> None:
    """Add a parsed entry to page with its canonical JSON, or list it as rejected."""
    if not isinstance(value, dict):
        if isinstance(value, _DuplicateKey):
            page.rejected.append((index, f'has the key "{value.key}" twice'))
        else:
            page.rejected.append((index, f"is a JSON {_json_type_name(value)}, not an object"))
        return
    try:
        if from_stdlib:
            value = _clean(value)
        page.entries.append(Entry(index, value, canonical_json(value)))
    except NotCanonicalizable as error:
        page.rejected.append((index, str(error)))


def page_from_value(value, from_stdlib: bool) -> Page:
    """Build a Page from a parsed page: an array of entries, or an object that wraps one.

    Raises PageError when value is neither.
    """
    page = Page()
    for index, item in enumerate(_as_entries(value)):
        add_entry(page, index, item, from_stdlib)
    return page


def parse_page(data: bytes) -> Page:
    """Parse the bytes of a saved page into entries with their canonical JSON.

    Raises PageError when the file as a whole is not a log page. Entries that JSON cannot
    represent faithfully are listed in Page.rejected and the others are kept.
    """
    return page_from_value(*load_document(data))

"""Turn a log entry into a `logs` row: its source keys plus the columns derived from them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import orjson

# Source keys the Console sends today, with their SQLite types. Declaring them up front means
# a column whose first values are null still stores later numbers as numbers.
SOURCE_COLUMNS = {
    "transport_type": "TEXT",
    "model": "TEXT",
    "model_latency": "REAL",
    "prompt": "TEXT",
    "prompt_length": "INTEGER",
    "prompt_token_count": "INTEGER",
    "completion_length": "INTEGER",
    "completion_token_count": "INTEGER",
    "response": "TEXT",
    "tags": "TEXT",
    "error": "TEXT",
    "request_start_time": "TEXT",
    "request": "TEXT",
    "workspace_id": "TEXT",
    "api_key_uuid": "TEXT",
}

# Columns computed once at ingest from the source keys.
DERIVED_COLUMNS = {
    "started_at": "TEXT",
    "error_code": "INTEGER",
    "error_detail": "TEXT",
    "client_error": "INTEGER",
    "max_tokens": "INTEGER",
    "temperature": "REAL",
    "stream": "INTEGER",
    "user_id": "TEXT",
}

# The exact entry, as RFC 8785 canonical JSON, and its SHA-256.
IDENTITY_COLUMNS = {"content_hash": "TEXT", "raw": "TEXT"}

_RESERVED = {name.lower() for name in (*DERIVED_COLUMNS, *IDENTITY_COLUMNS)}

BASE_COLUMNS = [*IDENTITY_COLUMNS, *SOURCE_COLUMNS, *DERIVED_COLUMNS]


def column_for_key(key: str) -> str:
    """Return the `logs` column that stores a source key.

    A key that a future page adds under the name of a derived column gets a `source_` prefix
    so that it cannot overwrite the derived value.
    """
    if key.lower() in _RESERVED:
        return "source_" + key
    return key


def column_type(values) -> str | None:
    """Infer the SQLite type for a new key from its values; None while all are null."""
    kinds = {type(value) for value in values if value is not None}
    if not kinds:
        return None
    if kinds <= {int, bool}:
        return "INTEGER"
    if kinds <= {int, float, bool}:
        return "REAL"
    return "TEXT"


def to_sqlite(value):
    """Return a JSON value in a form SQLite stores: objects and arrays as compact JSON text."""
    kind = type(value)
    if kind is dict or kind is list:
        return orjson.dumps(value).decode()
    if kind is bool:
        return int(value)
    if kind is int and not -(2**63) <= value < 2**63:
        return float(value)
    return value


_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)


def utc_timestamp(text) -> str | None:
    """Normalise a start time to UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ`, or None if unreadable.

    Accepts Python's str() of an aware datetime (no fraction when microseconds are 0), ISO 8601
    with `T`, 1 to 9 fraction digits (truncated to microseconds, which keeps time order), and
    `Z` or any offset. A time without an offset is taken as UTC.
    """
    if type(text) is not str:
        return None
    # The Console's usual form, already in UTC: slicing is several times faster than parsing.
    if len(text) == 32 and text.endswith("+00:00") and text[19] == "." and text[10] == " ":
        return f"{text[:10]}T{text[11:26]}Z"
    match = _TIMESTAMP.fullmatch(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    microsecond = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                          microsecond)
    except ValueError:
        return None
    if offset and offset not in ("Z", "z"):
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        moment = moment - delta if offset[0] == "+" else moment + delta
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json_object(text):
    if type(text) is not str or not text.startswith("{"):
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if type(value) is dict else None


def _as_object(value) -> dict | None:
    """Return a JSON object given as text (the Console's form) or already parsed, else None."""
    if type(value) is str:
        return _json_object(value)
    if type(value) is dict:
        return value
    return None


def _as_int(value):
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    if type(value) is str and value.isdigit():
        return int(value)
    return None


def _as_number(value):
    return value if type(value) in (int, float) else None


# HTTP status of each error type in the Anthropic API's error responses, as its "Errors"
# documentation lists them. Used when an entry's error has a type but no code.
ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


def error_columns(error) -> tuple:
    """Return (error_code, error_detail, client_error) from the entry's `error` string.

    Every failed request gets a non-null error_detail, the error text itself when it has no
    `detail` or `message`, so `error_detail IS NOT NULL` finds them all.
    """
    if error is None or error == "None":
        return None, None, None
    parsed = _as_object(error)
    if parsed is None:
        return None, str(error), None
    # The API's own error body nests the error: {"type": "error", "error": {"type", "message"}}.
    nested = parsed.get("error")
    if type(nested) is dict:
        parsed = {**parsed, **nested}
    code = _as_int(parsed.get("code"))
    if code is None:
        code = ERROR_TYPE_STATUS.get(parsed.get("type"))
    detail = parsed.get("detail")
    if detail is None:
        detail = parsed.get("message")
    if detail is None:
        detail = error if type(error) is str else orjson.dumps(error).decode()
    elif type(detail) is not str:
        detail = orjson.dumps(detail).decode()
    client_error = parsed.get("client_error")
    return (
        code,
        detail,
        int(client_error) if type(client_error) is bool else None,
    )


def request_columns(request) -> tuple:
    """Return (max_tokens, temperature, stream, user_id) from the entry's `request` string."""
    parsed = _as_object(request)
    if parsed is None:
        return None, None, None, None
    stream = parsed.get("stream")
    metadata = parsed.get("metadata")
    user_id = metadata.get("user_id") if type(metadata) is dict else None
    return (
        _as_int(parsed.get("max_tokens")),
        _as_number(parsed.get("temperature")),
        int(stream) if type(stream) is bool else None,
        user_id if type(user_id) is str else None,
    )


_SOURCE_KEYS = tuple(SOURCE_COLUMNS)
# Types that SQLite stores as they are. An int is among them only in the 64-bit range, which
# base_row checks separately.
_STORED_AS_IS = frozenset({str, float, int, type(None)})
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def base_row(entry: dict, canonical: bytes, digest: str) -> list:
    """Return the values of BASE_COLUMNS for one entry, in that order."""
    get = entry.get
    # map() and the type check run in C, so an entry with plain values costs no Python-level
    # step per key. Only an entry with an object, array, bool or huge int is converted.
    values = list(map(get, _SOURCE_KEYS))
    if not _STORED_AS_IS.issuperset(map(type, values)) or not _ints_fit(values):
        values = [to_sqlite(value) for value in values]
    return [
        digest,
        canonical.decode("utf-8"),
        *values,
        utc_timestamp(get("request_start_time")),
        *error_columns(get("error")),
        *request_columns(get("request")),
    ]


def _ints_fit(values: list) -> bool:
    ints = [value for value in values if type(value) is int]
    return not ints or (_INT64_MIN <= min(ints) and max(ints) <= _INT64_MAX)

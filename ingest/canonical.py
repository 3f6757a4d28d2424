"""RFC 8785 (JSON Canonicalization Scheme) serialisation and the content hash built on it.

The hash is an entry's identity in the database, so its bytes must never change between
versions of this tool. Two rules keep it independent of orjson's own number formatting:
every number is serialised here, by ECMAScript's Number-to-String algorithm (which RFC 8785
prescribes), and orjson only writes the structure and the strings.
"""

from __future__ import annotations

import hashlib

import orjson

# Integers beyond this magnitude are not exact IEEE 754 doubles. RFC 8785 treats every
# number as a double, as JavaScript's JSON.parse does, so they are hashed by their double.
MAX_SAFE_INTEGER = 2**53


class NotCanonicalizable(ValueError):
    """An entry contains a value that JSON cannot represent faithfully."""


def format_number(value: float) -> str:
    """Format a double as ECMAScript's Number::toString does (RFC 8785, section 3.2.2.3).

    Raises NotCanonicalizable for NaN and the infinities.
    """
    if value - value != 0.0:  # true for NaN and the infinities only, and cheaper than isnan
        raise NotCanonicalizable(f"{value!r} is not a JSON number")
    if value == 0:
        return "0"  # -0.0 too
    text = repr(value)
    if "e" not in text:
        # Without an exponent, Python's repr already is ECMAScript's form, except that an
        # integral value ends in ".0", which ECMAScript omits. Most numbers take this path.
        return text[:-2] if text.endswith(".0") else text
    sign = "-" if value < 0 else ""
    text = repr(abs(value))  # Python's repr is the shortest round-trip form, as ECMAScript's
    mantissa, _, exponent_text = text.partition("e")
    integer_part, _, fraction_part = mantissa.partition(".")
    digits = integer_part + fraction_part
    # The value is 0.<digits> * 10**point.
    point = len(integer_part) + (int(exponent_text) if exponent_text else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    count = len(digits)

    if count <= point <= 21:
        return sign + digits + "0" * (point - count)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    exponent = point - 1
    exponent_sign = "+" if exponent >= 0 else "-"
    head = digits[0] if count == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{head}e{exponent_sign}{abs(exponent)}"


def _number_fragment(value: float | int) -> orjson.Fragment:
    try:
        as_float = float(value)
    except OverflowError:
        raise NotCanonicalizable("contains a number beyond the range of a double") from None
    return orjson.Fragment(format_number(as_float))


def _utf16_order(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _prepare(value, needs_utf16_sort: list):
    """Copy value with numbers replaced by their canonical text."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        return _number_fragment(value)
    if kind is float:
        return _number_fragment(value)
    if kind is dict:
        for key in value:
            # Code point order, which orjson sorts by, differs from RFC 8785's UTF-16 order
            # only when a key contains a character at or above U+E000.
            if not key.isascii() and max(key) >= "\ue000":
                needs_utf16_sort.append(True)
        return {key: _prepare(item, needs_utf16_sort) for key, item in value.items()}
    if kind is list:
        return [_prepare(item, needs_utf16_sort) for item in value]
    raise NotCanonicalizable(f"{kind.__name__} is not a JSON type")


# Keys known to contain no character at or above U+E000, so orjson's sort is RFC 8785's.
# Entries repeat the same few keys, so a set lookup replaces a scan of every key's text.
_PLAIN_KEYS: set[str] = set()
_PLAIN_KEYS_LIMIT = 10_000


def _needs_utf16_sort(keys) -> bool:
    if _PLAIN_KEYS.issuperset(keys):
        return False
    for key in keys:
        if not key.isascii() and max(key) >= "\ue000":
            return True
    if len(_PLAIN_KEYS) < _PLAIN_KEYS_LIMIT:
        _PLAIN_KEYS.update(keys)
    return False


def _prepare_entry(entry: dict, needs_utf16_sort: list):
    """Like _prepare for an object, but copies it only when a value has to change.

    A log entry is a flat object whose only float is usually the latency, so this replaces
    one value instead of rebuilding the whole object.
    """
    if _needs_utf16_sort(entry):
        needs_utf16_sort.append(True)
    prepared = entry
    for key, item in entry.items():
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is float:
            replacement = orjson.Fragment(format_number(item))
        elif kind is int and -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
            continue
        else:
            replacement = _prepare(item, needs_utf16_sort)
        if prepared is entry:
            prepared = entry.copy()
        prepared[key] = replacement
    return prepared


def _sort_utf16(value):
    if type(value) is dict:
        return {key: _sort_utf16(value[key]) for key in sorted(value, key=_utf16_order)}
    if type(value) is list:
        return [_sort_utf16(item) for item in value]
    return value


def canonical_json(value) -> bytes:
    """Serialise a parsed JSON value to its RFC 8785 canonical UTF-8 bytes.

    Strings must be valid Unicode (no lone surrogates). Raises NotCanonicalizable for NaN,
    the infinities and integers beyond the range of a double.
    """
    needs_utf16_sort: list = []
    if type(value) is dict:
        prepared = _prepare_entry(value, needs_utf16_sort)
    else:
        prepared = _prepare(value, needs_utf16_sort)
    if needs_utf16_sort:
        return orjson.dumps(_sort_utf16(prepared))
    return orjson.dumps(prepared, option=orjson.OPT_SORT_KEYS)


def content_hash(canonical: bytes) -> str:
    """Return the SHA-256 hex digest that identifies an entry, given its canonical bytes."""
    return hashlib.sha256(canonical).hexdigest()

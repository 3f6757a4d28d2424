"""The content hash against an independent RFC 8785 implementation (the rfc8785 package)."""

import hashlib
import json

import pytest
import rfc8785

from ingest.canonical import NotCanonicalizable, canonical_json, content_hash, format_number
from ingest.pages import parse_page


def reference_hash(entry_text: str) -> str:
    return hashlib.sha256(rfc8785.dumps(json.loads(entry_text))).hexdigest()


def our_hash(entry_text: str) -> str:
    page = parse_page(f"[{entry_text}]".encode("utf-8"))
    assert page.rejected == []
    return content_hash(page.entries[0].canonical)


# Each text is one entry as it might appear in a saved page.
VECTORS = [
    '{"model":"claude-3-5-sonnet-20240620","model_latency":2.0138745307922363}',
    '{"model_latency":2.0138745307922363,"model":"claude-3-5-sonnet-20240620"}',
    '{ "model" : "claude-3-5-sonnet-20240620" ,\n\t"model_latency" : 2.0138745307922363 }',
    '{"a":2}',
    '{"a":2.0}',
    '{"a":2e0}',
    '{"a":1e-05}',
    '{"a":0.00001}',
    '{"a":1E-5}',
    '{"a":-0.0}',
    '{"a":1e21}',
    '{"a":1e20}',
    '{"a":1.2345678901234568e20}',
    '{"a":1e-7}',
    '{"a":0.1}',
    '{"a":5e-324}',
    '{"a":1.7976931348623157e308}',
    '{"a":9007199254740991}',
    '{"a":"\\u0041\\u00e9\\u20ac"}',
    '{"a":"Aé€"}',
    '{"a":"line\\nbreak\\ttab\\u0001\\u001f\\u007f"}',
    '{"a":"\\/slash \\"quote\\" back\\\\slash"}',
    '{"a":"日本語のプロンプト","emoji":"\\ud83d\\ude00 😀"}',
    '{"\\u20ac":1,"\\r":2,"1":3,"\\ud83d\\ude00":4,"\\ufb33":5,"\\u0080":6,"a":7}',
    '{"request":"{\\"max_tokens\\":8192,\\"temperature\\":0}","tags":"{}","error":"None"}',
    '{"nested":{"z":[1,2.5,{"y":null,"x":true}],"a":{"c":false,"b":"\\u00fc"}}}',
    '{"empty_object":{},"empty_array":[],"null":null,"true":true,"false":false}',
    '{"a":-1.5e-10,"b":123.456,"c":-987654321,"d":4.35,"e":0.47343091617109434}',
]


@pytest.mark.parametrize("text", VECTORS)
def test_hash_matches_reference(text):
    assert our_hash(text) == reference_hash(text)


@pytest.mark.parametrize(
    "variants",
    [
        ['{"a":1,"b":2}', '{"b":2,"a":1}', '{ "a" : 1 , "b" : 2 }', '{\n  "b": 2,\n  "a": 1\n}'],
        ['{"n":2}', '{"n":2.0}', '{"n":2e0}', '{"n":20E-1}', '{"n":0.2e1}'],
        ['{"n":1e-05}', '{"n":0.00001}', '{"n":1E-5}', '{"n":10e-6}'],
        ['{"s":"é"}', '{"s":"\\u00e9"}', '{"s":"\\u00E9"}'],
        ['{"s":"/"}', '{"s":"\\/"}'],
        ['{"s":"😀"}', '{"s":"\\ud83d\\ude00"}', '{"s":"\\uD83D\\uDE00"}'],
    ],
)
def test_spelling_never_changes_hash(variants):
    hashes = {our_hash(text) for text in variants}
    assert len(hashes) == 1
    assert hashes == {reference_hash(variants[0])}


def test_any_value_change_changes_hash(blog_entries):
    entry = blog_entries[1]
    base = content_hash(canonical_json(entry))
    changed = [
        {**entry, "model_latency": 3.061051845550538},
        {**entry, "prompt_token_count": 9},
        {**entry, "error": "none"},
        {**entry, "api_key_uuid": ""},
        {**entry, "extra": None},
        {key: value for key, value in entry.items() if key != "prompt"},
    ]
    hashes = [content_hash(canonical_json(value)) for value in changed]
    assert len(set(hashes)) == len(changed)
    assert base not in hashes


def test_string_inside_string_hashed_as_is():
    compact = '{"request":"{\\"max_tokens\\":1}"}'
    spaced = '{"request":"{\\"max_tokens\\": 1}"}'
    assert our_hash(compact) != our_hash(spaced)


@pytest.mark.parametrize(
    "value, expected",
    [(2.0, "2"), (-0.0, "0"), (1e-05, "0.00001"), (1e-7, "1e-7"), (1e21, "1e+21"),
     (1e20, "100000000000000000000"), (123.456, "123.456"), (-1.5e-10, "-1.5e-10"),
     (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"),
     (0.000001, "0.000001"), (1.5e300, "1.5e+300")],
)
def test_format_number_follows_ecmascript(value, expected):
    assert format_number(value) == expected


def test_nan_not_canonicalizable():
    with pytest.raises(NotCanonicalizable):
        canonical_json({"a": float("nan")})


def test_large_integer_hashed_as_double():
    # ECMAScript prints the shortest digits that round-trip, padded with zeros, as
    # (2 ** 60).toString() does in JavaScript.
    assert canonical_json({"a": 2**60}) == b'{"a":1152921504606847000}'
    assert canonical_json({"a": 2**53 + 1}) == b'{"a":9007199254740992}'


def test_blog_entries_hash(blog_entries):
    assert [content_hash(canonical_json(entry)) for entry in blog_entries] == [
        "b5bd7a10e9fd85fd8156c91b994bfaad46bd8fe5caf725d47bdb64a09ba23d4f",
        "e5359635c6dcb879d6e36ddf19dbef5461910d535be152d63e90ebadaa571565",
    ]

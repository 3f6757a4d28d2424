"""Split a large JSON document into the raw bytes of its array elements, reading in chunks.

A 100 MB page parsed whole takes several times its size in Python objects. This splitter
keeps one element in memory at a time instead. It finds the byte boundaries of each element of
the selected arrays, and the caller parses each element on its own with the same code that
parses whole pages, so both paths yield the same values and canonical bytes.

The splitter checks brackets, strings and element separators, but not the scalars between
them outside the selected arrays: those are skipped, and each element is validated by the
caller's parser. Memory grows with the largest element, not with the document.
"""

from __future__ import annotations

import codecs
import re
from typing import BinaryIO, Callable, Iterator

import orjson

from .pages import PageError

READ_SIZE = 1 << 20

# One token: a string (possibly cut off by the end of the buffer) or a structural character.
# Escapes are consumed as pairs, so a string match that ends in a quote is complete.
_STRING = rb'"[^"\\]*(?:\\[\s\S][^"\\]*)*"?'
_OUTER_TOKEN = re.compile(_STRING + rb"|[\[\]{},:]")
# Inside an element only brackets and strings matter, and skipping commas and colons there
# halves the tokens visited.
_INNER_TOKEN = re.compile(_STRING + rb"|[\[\]{}]")
_NON_SPACE = re.compile(rb"\S")
_QUOTE = 0x22

# Array paths: the keys from the document's root, with None for an array's member.
Path = tuple


class _Reader:
    """A growing window on a stream, addressed by absolute offsets."""

    def __init__(self, stream: BinaryIO, prefix: bytes):
        self.stream = stream
        self.data = prefix
        self.base = 0  # absolute offset of data[0]
        self.array_end = 0  # absolute offset after the closing bracket of the last split array

    def fill(self, keep_from: int) -> bool:
        """Read the next chunk, dropping bytes before absolute offset keep_from."""
        cut = keep_from - self.base
        # Reading at least as much as the window keeps makes a long element cost linear time.
        chunk = self.stream.read(max(READ_SIZE, len(self.data) - cut))
        if not chunk:
            return False
        self.data = self.data[cut:] + chunk
        self.base = keep_from
        return True

    def slice(self, start: int, end: int) -> bytes:
        return self.data[start - self.base:end - self.base]


def iter_elements(
    stream: BinaryIO, prefix: bytes, wanted: Callable[[Path], bool]
) -> Iterator[tuple[Path, int, bytes]]:
    """Yield (path, index, bytes) for each element of every array whose path is wanted.

    prefix contains the bytes already read from the start of stream. The root array has the path ().
    Raises PageError when the brackets do not balance, the text ends early or something
    follows the root value.
    """
    reader = _Reader(stream, prefix)
    # One frame per open container: [is_object, path, expecting_key, last_key].
    stack: list[list] = []
    position = 0  # absolute offset where the next search starts
    seen_root = False

    while True:
        token = _next_token(reader, _OUTER_TOKEN, position, position)
        if token is None:
            break
        start, end = token
        position = end
        char = reader.data[start - reader.base]
        if seen_root and not stack:
            raise PageError(f"is not valid JSON: more data follows the top-level value at byte {start}")
        if char == _QUOTE:
            frame = stack[-1] if stack else None
            if frame is not None and frame[0] and frame[2]:
                frame[3] = _decode_key(reader.slice(start, end))
                frame[2] = False
            elif frame is None:
                seen_root = True
            continue
        if char == 0x2C:  # ,
            if stack and stack[-1][0]:
                stack[-1][2] = True
            continue
        if char == 0x3A:  # :
            continue
        if char in (0x7B, 0x5B):  # { [
            path = _child_path(stack)
            seen_root = True
            if char == 0x5B and wanted(path):
                for index, element in enumerate(_split_array(reader, end)):
                    yield path, index, element
                position = reader.array_end
                continue
            stack.append([char == 0x7B, path, char == 0x7B, None])
            continue
        # } or ]
        if not stack or stack[-1][0] != (char == 0x7D):
            raise PageError(f"is not valid JSON: unbalanced {chr(char)} at byte {start}")
        stack.pop()

    if stack or not seen_root:
        raise PageError("is not valid JSON: the file ends early (an interrupted download?)")
    _check_trailing(reader, position)


def _child_path(stack: list[list]) -> Path:
    if not stack:
        return ()
    is_object, path, _, key = stack[-1]
    return (*path, key if is_object else None)


def _decode_key(token: bytes):
    try:
        return orjson.loads(token)
    except orjson.JSONDecodeError:
        return None  # a key that orjson rejects cannot select an array


def _next_token(reader: _Reader, pattern, position: int, keep_from: int):
    """Return the absolute (start, end) of the next token at or after position, or None at EOF.

    Bytes from keep_from on stay in the window.
    """
    while True:
        relative = position - reader.base
        match = pattern.search(reader.data, relative)
        if match is not None:
            start, end = match.span()
            if reader.data[start] != _QUOTE or (end - start >= 2 and reader.data[end - 1] == _QUOTE):
                return reader.base + start, reader.base + end
            # A string cut off by the end of the window: read on and search again from its quote.
            position = reader.base + start
        else:
            position = reader.base + len(reader.data)
        if not reader.fill(min(keep_from, position)):
            if match is not None:
                raise PageError(
                    "is not valid JSON: the file ends inside a string (an interrupted download?)"
                )
            return None


def _split_array(reader: _Reader, after_bracket: int) -> Iterator[bytes]:
    """Yield the bytes of each element of the array that opens just before after_bracket.

    Sets reader.array_end to the offset after the closing bracket.
    """
    element_start = after_bracket
    position = after_bracket
    depth = 0
    while True:
        pattern = _OUTER_TOKEN if depth == 0 else _INNER_TOKEN
        token = _next_token(reader, pattern, position, element_start)
        if token is None:
            raise PageError("is not valid JSON: the file ends early (an interrupted download?)")
        start, end = token
        position = end
        char = reader.data[start - reader.base]
        if char == _QUOTE or char == 0x3A:
            continue
        if char == 0x7B or char == 0x5B:
            depth += 1
            continue
        if depth > 0 and (char == 0x7D or char == 0x5D):
            depth -= 1
            continue
        if char == 0x7D:
            raise PageError(f"is not valid JSON: unbalanced }} at byte {start}")
        # A comma or the closing bracket at the array's own level ends an element.
        element = reader.slice(element_start, start).strip()
        if char == 0x5D:
            if element or element_start != after_bracket:
                yield _non_empty(element, start)
            reader.array_end = end
            return
        yield _non_empty(element, start)
        element_start = end


def _non_empty(element: bytes, offset: int) -> bytes:
    if not element:
        raise PageError(f"is not valid JSON: a missing array element before byte {offset}")
    return element


def _check_trailing(reader: _Reader, position: int) -> None:
    while True:
        match = _NON_SPACE.search(reader.data, position - reader.base)
        if match is not None:
            offset = reader.base + match.start()
            raise PageError(f"is not valid JSON: more data follows the top-level value at byte {offset}")
        position = reader.base + len(reader.data)
        if not reader.fill(position):
            return


class Utf16ToUtf8:
    """A binary stream that re-encodes a UTF-16 stream (after its byte-order mark) as UTF-8."""

    def __init__(self, stream: BinaryIO, encoding: str):
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder(encoding)()

    def read(self, size: int = READ_SIZE) -> bytes:
        while True:
            chunk = self.stream.read(size)
            try:
                text = self.decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                raise PageError(f"is not valid UTF-16 text ({error.reason})") from None
            if text or not chunk:
                return text.encode("utf-8", "surrogatepass")

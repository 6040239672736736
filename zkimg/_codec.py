"""Codecs shared by every serialized format: canonical JSON, bounded JSON parsing, and
BN254 field elements as hex. Parsers raise a :class:`~zkimg.errors.MalformedInput` subclass
chosen by the caller (``error``), so each format reports its own kind of error."""

from __future__ import annotations

import json
from typing import AbstractSet, Any, Type

from .errors import InvalidParameter, MalformedInput

#: The BN254 scalar field's modulus (ezkl's field; commitments and instances live in it).
FIELD_MODULUS = 0x30644E72E131A029B85045B68181585D2833E84879B9709143E1F593F0000001


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN/Infinity: the bytes that digests are taken of."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def parse_json(text: str | bytes, max_bytes: int, what: str, error: Type[MalformedInput] = MalformedInput) -> Any:
    """``json.loads`` for untrusted input: bounded size; any failure raises ``error``."""
    if not isinstance(text, (str, bytes, bytearray)) or len(text) > max_bytes:
        raise error(f"{what} must be JSON text of at most {max_bytes} bytes")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise error(f"{what} is not valid JSON: {e}") from e


def require_keys(obj: Any, keys: AbstractSet[str], what: str, error: Type[MalformedInput] = MalformedInput) -> None:
    """Raise ``error`` unless ``obj`` is a JSON object with exactly ``keys``."""
    if not isinstance(obj, dict) or set(obj) != keys:
        raise error(f"{what} must be an object with exactly the keys {sorted(keys)}")


def felt_to_hex(x: int) -> str:
    """A field element as ezkl writes it: 32 bytes little-endian, lowercase hex."""
    if 0 <= x < 256:  # a pixel value (most of what a proof's instances are): from the table
        return BYTE_HEX[x]
    if not 0 <= x < FIELD_MODULUS:
        raise InvalidParameter("felt", "not a canonical field element")
    return x.to_bytes(32, "little").hex()


#: :func:`felt_to_hex` of 0–255.
BYTE_HEX = tuple(v.to_bytes(32, "little").hex() for v in range(256))


def felt_from_hex(s: Any, what: str = "a field element", error: Type[MalformedInput] = MalformedInput) -> int:
    """Parse 64 hex digits (32 bytes little-endian) into a canonical field element; ``error``
    if malformed or not below the modulus."""
    if not isinstance(s, str) or len(s) != 64 or not s.isascii():
        raise error(f"{what} must be 64 hex digits (32 bytes little-endian)")
    try:
        x = int.from_bytes(bytes.fromhex(s), "little")
    except ValueError as e:
        raise error(f"{what} must be hexadecimal") from e
    if x >= FIELD_MODULUS:
        raise error(f"{what} must be a canonical field element")
    return x

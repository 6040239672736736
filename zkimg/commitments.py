"""Native (camera-side) salted Poseidon commitments, bit-identical to the circuit's.

``pack(v)``: values in [0, 255], in order, grouped 16 at a time, each group becoming
``Σ v_i·256^i`` (little-endian base 256, last group zero-padded). A tile commitment is
``Poseidon(pack(pixels in H, W, C order ‖ salt16))``; a public output's hash is
``Poseidon(pack(pixels))``. Poseidon is ezkl's (the chip the circuit uses), computed by
:mod:`zkimg.poseidon` (checked against ``ezkl.poseidon_hash``); field elements travel as
32-byte little-endian hex.
"""

from __future__ import annotations

import secrets
from typing import Iterable, List, Sequence

import numpy as np

from .errors import CommitmentMismatch, InvalidImage, InvalidParameter
from .lowering import PACK_BASE, PACK_GROUP, SALT_BYTES
from .poseidon import FIELD_MODULUS, poseidon_hash

assert PACK_BASE == 256  # pack() reads each group as little-endian bytes


def new_salt() -> bytes:
    """A fresh 16-byte salt from the operating system's CSPRNG."""
    return secrets.token_bytes(SALT_BYTES)


def check_salt(salt: object, parameter: str = "salt") -> bytes:
    if not isinstance(salt, (bytes, bytearray)) or len(salt) != SALT_BYTES:
        raise InvalidParameter(parameter, f"must be {SALT_BYTES} bytes")
    return bytes(salt)


def pack(values: Iterable[int] | np.ndarray) -> List[int]:
    """Pack byte values (each in [0, 255]) into field elements, 16 per element:
    ``Σ v_i·256^i`` over each group, i.e. the group's bytes read little-endian."""
    v = np.asarray(values if isinstance(values, np.ndarray) else list(values)).ravel()
    if v.dtype != np.uint8:
        v = v.astype(np.int64)
    if v.size and (v.min() < 0 or v.max() > 255):
        raise InvalidImage("packed values must lie in [0, 255]", "values")
    data = v.astype(np.uint8).tobytes()
    data += bytes(-len(data) % PACK_GROUP)
    return [int.from_bytes(data[i:i + PACK_GROUP], "little") for i in range(0, len(data), PACK_GROUP)]


def felt_to_hex(x: int) -> str:
    """A field element as ezkl writes it: 32 bytes little-endian, lowercase hex."""
    if not 0 <= x < FIELD_MODULUS:
        raise InvalidParameter("felt", "not a canonical field element")
    return x.to_bytes(32, "little").hex()


def felt_from_hex(s: object) -> int:
    """Parse a 64-hex-digit little-endian field element; raises CommitmentMismatch if malformed."""
    if not isinstance(s, str) or len(s) != 64:
        raise CommitmentMismatch("a commitment is 64 hex digits (32 bytes little-endian)")
    try:
        x = int.from_bytes(bytes.fromhex(s), "little")
    except ValueError as e:
        raise CommitmentMismatch("a commitment must be hexadecimal") from e
    if x >= FIELD_MODULUS:
        raise CommitmentMismatch("a commitment must be a canonical field element")
    return x


def commit(pixels: np.ndarray, salt: bytes) -> int:
    """Salted tile commitment ``Poseidon(pack(pixels ‖ salt))`` (pixels: uint8, any shape)."""
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
        raise InvalidImage("commit() takes a uint8 array", "pixels")
    data = np.concatenate([pixels.ravel(), np.frombuffer(check_salt(salt), dtype=np.uint8)])
    return poseidon_hash(pack(data))


def commit_many(parts: Sequence[np.ndarray], salts: Sequence[bytes]) -> List[int]:
    """``[commit(p, s) for p, s in zip(parts, salts)]`` (module level: an executor's task)."""
    return [commit(p, s) for p, s in zip(parts, salts)]


def hash_public(pixels: np.ndarray) -> int:
    """Unsalted hash ``Poseidon(pack(pixels))`` of a public output (the verifier's side)."""
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
        raise InvalidImage("hash_public() takes a uint8 array", "pixels")
    return poseidon_hash(pack(pixels.ravel()))

"""BN254 G1 arithmetic for the KZG scheme's native side: strict point decoding, addition,
scalar multiplication and small multi-scalar products (gmpy2 integers, Jacobian coordinates).

Points are affine pairs ``(x, y)`` of integers below :data:`Q`, or ``None`` for the identity.
Two encodings are read, both strictly (coordinates below ``Q``, on ``y² = x³ + 3``, not the
identity):

* the **proof** encoding halo2 writes into a proof transcript and zkimg uses everywhere else:
  64 bytes, ``x ‖ y``, each 32 bytes big-endian;
* the **SRS file** encoding (halo2's raw bytes): ``x ‖ y``, each 32 bytes little-endian in
  Montgomery form (the value times ``2^256`` mod ``Q``).

Nothing here is constant-time: it handles public points and the prover's own one-time blinders
on the prover's machine (the same trust as the rest of the prover).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

from gmpy2 import mpz

from .._codec import FIELD_MODULUS
from ..errors import MalformedInput

#: The base field's modulus (coordinates live below it).
Q = 0x30644E72E131A029B85045B68181585D97816A916871CA8D3C208C16D87CFD47
#: The group order (= the scalar field ezkl's circuits work in).
R = FIELD_MODULUS
_B = 3
_QZ = mpz(Q)
_MONT_INV = pow(2 ** 256, -1, Q)

Point = Optional[Tuple[int, int]]
_Jac = Tuple[mpz, mpz, mpz]
_INF: _Jac = (mpz(1), mpz(1), mpz(0))
POINT_BYTES = 64


def on_curve(x: int, y: int) -> bool:
    return (y * y - x * x * x - _B) % Q == 0


def _checked(x: int, y: int, what: str, error: type) -> Tuple[int, int]:
    if x >= Q or y >= Q:
        raise error(f"{what}: a coordinate is not below the field modulus")
    if x == 0 and y == 0:
        raise error(f"{what} is the identity")
    if not on_curve(x, y):
        raise error(f"{what} is not on the curve")
    return (x, y)


def decode(data: bytes, what: str = "a point", error: type = MalformedInput) -> Tuple[int, int]:
    """A point from its 64-byte proof encoding (``x ‖ y`` big-endian), strictly."""
    if not isinstance(data, (bytes, bytearray)) or len(data) != POINT_BYTES:
        raise error(f"{what} must be {POINT_BYTES} bytes")
    return _checked(int.from_bytes(data[:32], "big"), int.from_bytes(data[32:], "big"), what, error)


def encode(p: Point) -> bytes:
    """The 64-byte proof encoding of a point other than the identity."""
    if p is None:
        raise ValueError("the identity has no encoding")
    return p[0].to_bytes(32, "big") + p[1].to_bytes(32, "big")


def decode_srs(data: bytes, what: str = "an SRS point", error: type = MalformedInput) -> Tuple[int, int]:
    """A point from halo2's raw SRS encoding (little-endian Montgomery ``x ‖ y``), strictly."""
    if len(data) != POINT_BYTES:
        raise error(f"{what} must be {POINT_BYTES} bytes")
    mx, my = int.from_bytes(data[:32], "little"), int.from_bytes(data[32:], "little")
    if mx >= Q or my >= Q:
        raise error(f"{what}: a coordinate is not below the field modulus")
    return _checked(mx * _MONT_INV % Q, my * _MONT_INV % Q, what, error)


def _jac(p: Point) -> _Jac:
    return _INF if p is None else (mpz(p[0]), mpz(p[1]), mpz(1))


def _affine(p: _Jac) -> Point:
    x, y, z = p
    if z == 0:
        return None
    zi = pow(z, -1, _QZ)
    zi2 = zi * zi % _QZ
    return (int(x * zi2 % _QZ), int(y * zi2 * zi % _QZ))


def _double(p: _Jac) -> _Jac:
    x, y, z = p
    if z == 0 or y == 0:
        return _INF
    yy = y * y % _QZ
    s = 4 * x * yy % _QZ
    m = 3 * x * x % _QZ
    x3 = (m * m - 2 * s) % _QZ
    return (x3, (m * (s - x3) - 8 * yy * yy) % _QZ, 2 * y * z % _QZ)


def _add(p: _Jac, q: _Jac) -> _Jac:
    if p[2] == 0:
        return q
    if q[2] == 0:
        return p
    x1, y1, z1 = p
    x2, y2, z2 = q
    z1z1, z2z2 = z1 * z1 % _QZ, z2 * z2 % _QZ
    u1, u2 = x1 * z2z2 % _QZ, x2 * z1z1 % _QZ
    s1, s2 = y1 * z2 * z2z2 % _QZ, y2 * z1 * z1z1 % _QZ
    if u1 == u2:
        return _double(p) if s1 == s2 else _INF
    h, r = (u2 - u1) % _QZ, (s2 - s1) % _QZ
    hh = h * h % _QZ
    hhh, v = h * hh % _QZ, u1 * hh % _QZ
    x3 = (r * r - hhh - 2 * v) % _QZ
    return (x3, (r * (v - x3) - s1 * hhh) % _QZ, z1 * z2 * h % _QZ)


def add(p: Point, q: Point) -> Point:
    return _affine(_add(_jac(p), _jac(q)))


def neg(p: Point) -> Point:
    return None if p is None else (p[0], (-p[1]) % Q)


def msm(scalars: Sequence[int], points: Sequence[Point]) -> Point:
    """``Σ scalars[i]·points[i]`` (scalars taken mod :data:`R`), by one shared double-and-add
    (Straus): ≈ 256 doublings plus one addition per set bit, whatever the number of terms."""
    if len(scalars) != len(points):
        raise ValueError("one scalar per point")
    ks = [int(k) % R for k in scalars]
    js = [_jac(p) for p in points]
    acc = _INF
    for bit in range(max((k.bit_length() for k in ks), default=0) - 1, -1, -1):
        acc = _double(acc)
        for k, p in zip(ks, js):
            if k >> bit & 1:
                acc = _add(acc, p)
    return _affine(acc)


def mul(k: int, p: Point) -> Point:
    return msm([k], [p])

"""ezkl's Poseidon hash, computed natively in Python (no ezkl call, no hex round trip).

The parameters are those of ezkl 23.0.5's Poseidon chip over the BN254 scalar field:
width ``t = 2``, rate 1, S-box ``x^5``, 8 full rounds (4 + 4) around 56 partial rounds,
round constants and the Cauchy MDS matrix drawn from the Grain LFSR exactly as the
Poseidon reference scripts (and halo2) do — regenerated here from the specification at
import, not copied. The sponge is halo2's variable-length one: capacity word 2^64, no
padding (rate 1); each input is added to the rate word and the state permuted; the hash is
the rate word at the end. ``tests/test_poseidon.py`` checks the constants' derivation and
random messages bit for bit against ``ezkl.poseidon_hash``.

Arithmetic uses ``gmpy2`` integers: ≈ 2× faster per element than ezkl's own call (which
spends ≈ 135 µs per element and holds the GIL throughout).
"""

from __future__ import annotations

from typing import Iterator, List, Sequence, Tuple

from gmpy2 import mpz as _int  # GMP integers: ≈ 3× faster than Python's at 254 bits

from .._codec import FIELD_MODULUS  # BN254 scalar field modulus (ezkl's Fr)

FIELD_BITS = 254
WIDTH = 2
FULL_ROUNDS = 8
PARTIAL_ROUNDS = 56


def _grain_bits(width: int, full_rounds: int, partial_rounds: int) -> Iterator[int]:
    """The Poseidon paper's Grain LFSR in self-shrinking mode, seeded with the parameters
    (prime field, S-box x^α, field bits, width, rounds; then thirty 1-bits)."""
    seed = f"{1:02b}{0:04b}{FIELD_BITS:012b}{width:012b}{full_rounds:010b}{partial_rounds:010b}" + "1" * 30
    state = [int(b) for b in seed]

    def step() -> int:
        bit = state[62] ^ state[51] ^ state[38] ^ state[23] ^ state[13] ^ state[0]
        del state[0]
        state.append(bit)
        return bit

    for _ in range(160):
        step()
    while True:
        if step():
            yield step()
        else:
            step()


def _field_element(bits: Iterator[int]) -> int:
    """``FIELD_BITS`` bits, most significant first."""
    v = 0
    for _ in range(FIELD_BITS):
        v = (v << 1) | next(bits)
    return v


def generate_parameters(width: int = WIDTH, full_rounds: int = FULL_ROUNDS,
                        partial_rounds: int = PARTIAL_ROUNDS) -> Tuple[List[List[int]], List[List[int]]]:
    """(round constants, one row of ``width`` per round; MDS matrix) from the Grain LFSR.

    Round constants are rejection-sampled (values ≥ p are skipped); the MDS matrix is the
    Cauchy matrix ``1 / (x_i + y_j)`` of the next ``2·width`` draws reduced mod p (redrawn
    while not all distinct), as in the reference scripts.
    """
    p = FIELD_MODULUS
    bits = _grain_bits(width, full_rounds, partial_rounds)
    constants: List[List[int]] = []
    for _ in range(full_rounds + partial_rounds):
        row: List[int] = []
        while len(row) < width:
            v = _field_element(bits)
            if v < p:
                row.append(v)
        constants.append(row)
    while True:
        draws = [_field_element(bits) % p for _ in range(2 * width)]
        if len(set(draws)) == len(draws):
            break
    xs, ys = draws[:width], draws[width:]
    if any((x + y) % p == 0 for x in xs for y in ys):  # not reached for ezkl's parameters
        raise AssertionError("singular Cauchy matrix")
    mds = [[pow(x + y, -1, p) for y in ys] for x in xs]
    return constants, mds


_CONSTANTS, _MDS = generate_parameters()
_ROUNDS = [(_int(c0), _int(c1), not FULL_ROUNDS // 2 <= r < FULL_ROUNDS // 2 + PARTIAL_ROUNDS)
           for r, (c0, c1) in enumerate(_CONSTANTS)]
(_M00, _M01), (_M10, _M11) = [[_int(v) for v in row] for row in _MDS]
_P = _int(FIELD_MODULUS)
#: The sponge's initial capacity word (halo2's variable-length domain: 2^64).
_CAPACITY = _int(1 << 64)


def _permute(a: int, b: int) -> Tuple[int, int]:
    """The Poseidon permutation of the state ``(a, b)``: every round adds its constants,
    applies the S-box to both words (full round) or to ``a`` only (partial), then the MDS."""
    p, m00, m01, m10, m11 = _P, _M00, _M01, _M10, _M11
    for c0, c1, full in _ROUNDS:
        a = pow(a + c0, 5, p)
        b = pow(b + c1, 5, p) if full else b + c1  # (a partial round's b is reduced below)
        a, b = (m00 * a + m01 * b) % p, (m10 * a + m11 * b) % p
    return a, b


def poseidon_hash(message: Sequence[int]) -> int:
    """ezkl's ``poseidon_hash`` of a non-empty sequence of canonical field elements."""
    if len(message) == 0:
        raise ValueError("Poseidon of an empty message is not defined here")
    p = FIELD_MODULUS
    a, b = _int(0), _CAPACITY
    for m in message:
        if not 0 <= m < p:
            raise ValueError("message elements must be canonical field elements")
        a, b = _permute((a + m) % _P, b)
    return int(a)

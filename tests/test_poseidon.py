"""The native Poseidon (zkimg.hazmat.poseidon) against ezkl's own, bit for bit."""

from __future__ import annotations

import random

import ezkl
import numpy as np
import pytest

from zkimg.hazmat import commit, felt_from_hex, felt_to_hex, hash_public, pack
from zkimg.hazmat import poseidon as P

p = P.FIELD_MODULUS


def ezkl_hash(felts):
    (h,) = ezkl.poseidon_hash([felt_to_hex(f) for f in felts])
    return felt_from_hex(h)


@pytest.mark.parametrize("n", [1, 2, 3, 16, 17, 64, 193])
def test_matches_ezkl_on_random_messages(n):
    rng = random.Random(n)
    msg = [rng.randrange(p) for _ in range(n)]
    assert P.poseidon_hash(msg) == ezkl_hash(msg)


@pytest.mark.parametrize("msg", [[0], [p - 1], [0, 0, 0], [p - 1] * 5, [1 << 64], [(1 << 128) - 1] * 3,
                                 [2**253, 1, 2**253]])
def test_matches_ezkl_on_extremes(msg):
    assert P.poseidon_hash(msg) == ezkl_hash(msg)


def test_sponge_is_order_and_length_sensitive():
    assert P.poseidon_hash([1, 2]) != P.poseidon_hash([2, 1])
    assert P.poseidon_hash([0]) != P.poseidon_hash([0, 0])


def test_parameters_are_regenerated_not_tabled():
    """The Grain derivation itself: rounds × width constants, all canonical and distinct;
    a different parameter set gives different constants (the seed encodes it)."""
    consts, mds = P.generate_parameters()
    assert len(consts) == P.FULL_ROUNDS + P.PARTIAL_ROUNDS and all(len(r) == P.WIDTH for r in consts)
    flat = [c for row in consts for c in row]
    assert all(0 <= c < p for c in flat) and len(set(flat)) == len(flat)
    assert all(0 < m < p for row in mds for m in row)
    other, _ = P.generate_parameters(partial_rounds=57)
    assert other[0] != consts[0]


def test_rejects_bad_messages():
    with pytest.raises(ValueError):
        P.poseidon_hash([])
    with pytest.raises(ValueError):
        P.poseidon_hash([p])
    with pytest.raises(ValueError):
        P.poseidon_hash([-1])


def test_pack_is_little_endian_base_256():
    rng = np.random.default_rng(5)
    for n in (1, 15, 16, 17, 100):
        v = rng.integers(0, 256, n)
        expect = [sum(int(d) * 256**i for i, d in enumerate(v[k:k + 16])) for k in range(0, n, 16)]
        assert pack(v) == expect == pack(v.astype(np.uint8)) == pack(v.tolist())


def test_commitments_match_ezkl_on_a_real_photo():
    from skimage import data

    tile = np.ascontiguousarray(data.astronaut()[100:116, 200:213])  # 16×13×3: odd size
    salt = bytes(range(16))
    expect = ezkl_hash(pack(np.concatenate([tile.ravel(), np.frombuffer(salt, np.uint8)])))
    assert commit(tile, salt) == expect
    assert hash_public(tile) == ezkl_hash(pack(tile))
    for v in (0, 255):
        flat = np.full((8, 8, 3), v, np.uint8)
        assert commit(flat, salt) == ezkl_hash(pack(np.concatenate([flat.ravel(), np.frombuffer(salt, np.uint8)])))

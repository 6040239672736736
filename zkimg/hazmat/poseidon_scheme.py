"""The portable scheme: salted Poseidon commitments, hashed inside the circuit.

``pack(v)``: values in [0, 255], in order, grouped ``g`` at a time, each group becoming
``Σ v_i·256^i`` (little-endian base 256, last group zero-padded). A tile commitment is
``Poseidon(pack(pixels in H, W, C order ‖ salt16))``; a public output's hash is
``Poseidon(pack(pixels))``. Poseidon is ezkl's (the chip the circuit uses), computed natively
by :mod:`zkimg.hazmat.poseidon` (checked against ``ezkl.poseidon_hash``).

Two capture formats: **1** packs ``g = 16`` bytes per field element (every capture made before
format 3; still verified), **3** packs ``g = 31`` (``< 2^248 < r``), which absorbs about half as
many field elements — about half the Poseidon rows (the "poseidon" scheme of new captures).

In the circuit, every committed stream (each input part with its salt, then the output, with
its salt when hidden) is packed into graph outputs that ezkl Poseidon-hashes
(``output_visibility = "hashed"``); the hashes are the proof's public instances. Format 1 packs
by one MatMul against ``256^i`` (``i < 16``); format 3 by two, bytes ``0..15`` and ``16..30``,
the second scaled by ``2^60`` then ``2^68`` (ezkl decomposes constants up to ``2^126``:
``2^128`` is not one constant). Every value is below ``r``, so nothing wraps. ``pack`` is
injective on range-checked bytes, so the commitment binds the pixels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, List, Mapping, Sequence

import numpy as np

from .._codec import felt_from_hex
from ..errors import InvalidImage, InvalidParameter
from .commitments import SALT_BYTES, CommitmentScheme, SchemeParams, check_salt
from .poseidon import poseidon_hash

if TYPE_CHECKING:
    from .lowering import CircuitSpec, GraphBuilder

PACK_BASE = 256
PACK_GROUP = 16  # byte values per field element (capture format 1)
PACK_GROUP_31 = 31  # capture format 3
#: The second half of a 31-byte group is shifted by 2^128 in two steps (each a constant ezkl
#: can decompose): 2^60 · 2^68.
_HIGH_SHIFTS = (2.0 ** 60, 2.0 ** 68)


def packed_len(n: int, group: int = PACK_GROUP) -> int:
    """Number of field elements ``pack`` makes of ``n`` byte values."""
    return -(-n // group)


def pack(values: Iterable[int] | np.ndarray, group: int = PACK_GROUP) -> List[int]:
    """Pack byte values (each in [0, 255]) into field elements, ``group`` (16 or 31) per
    element: ``Σ v_i·256^i`` over each group, i.e. the group's bytes read little-endian."""
    v = np.asarray(values if isinstance(values, np.ndarray) else list(values)).ravel()
    if v.dtype != np.uint8:
        v = v.astype(np.int64)
    if v.size and (v.min() < 0 or v.max() > 255):
        raise InvalidImage("packed values must lie in [0, 255]", "values")
    data = v.astype(np.uint8).tobytes()
    data += bytes(-len(data) % group)
    return [int.from_bytes(data[i:i + group], "little") for i in range(0, len(data), group)]


def _uint8(pixels: Any, what: str) -> np.ndarray:
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
        raise InvalidImage(f"{what}() takes a uint8 array", "pixels")
    return pixels


class PoseidonScheme(CommitmentScheme):
    """``Poseidon(pack(pixels ‖ salt))``, computed in the circuit (module docstring)."""

    name: ClassVar[str] = "poseidon"
    layout_version: int  # type: ignore[misc]  # per instance: 1 (16 bytes per element) or 3 (31)
    run_args: ClassVar[Mapping[str, Any]] = {
        "input_visibility": "private",  # hidden pixels, salts and hints
        "output_visibility": "hashed",  # every output is Poseidon-hashed into a public instance
        "param_visibility": "fixed",
    }

    def __init__(self, group: int = PACK_GROUP) -> None:
        if group not in (PACK_GROUP, PACK_GROUP_31):
            raise InvalidParameter("pack_bytes", f"must be {PACK_GROUP} or {PACK_GROUP_31}")
        self.group = group
        self.layout_version = 1 if group == PACK_GROUP else 3

    def __repr__(self) -> str:
        return f"PoseidonScheme(pack_bytes={self.group})"

    @property
    def params(self) -> SchemeParams:
        return () if self.group == PACK_GROUP else (("pack_bytes", self.group),)

    def configure(self, params: SchemeParams) -> "PoseidonScheme":
        """Format 3's parameters are implied by its layout version: ``()`` keeps this scheme;
        ``(("pack_bytes", 31),)`` (how a circuit names it) selects format 3."""
        p = dict(params)
        if not p:
            return self
        if p == {"pack_bytes": PACK_GROUP_31}:
            return POSEIDON_31
        raise InvalidParameter("scheme_params", f"the poseidon scheme takes only pack_bytes={PACK_GROUP_31}")

    def commit(self, pixels: np.ndarray, salt: bytes) -> int:
        data = np.concatenate([_uint8(pixels, "commit").ravel(), np.frombuffer(check_salt(salt), dtype=np.uint8)])
        return poseidon_hash(pack(data, self.group))

    def hash_public(self, pixels: np.ndarray) -> int:
        return poseidon_hash(pack(_uint8(pixels, "hash_public").ravel(), self.group))

    def fold(self, values: Sequence[int]) -> int:
        return poseidon_hash(list(values))

    def committed_values(self, n_values: int) -> int:
        return packed_len(n_values, self.group)

    def lower_circuit(self, g: "GraphBuilder", spec: "CircuitSpec", body: Callable[[str], str]) -> None:
        """Inputs ``part_i`` = part ‖ its 16 salt bytes (then ``output_salt`` if the output is
        hidden), every byte range-checked by one lookup into ``arange(256)`` before anything
        reads it; outputs ``part_i_packed`` and ``output_packed`` (:meth:`lower_commitments`)."""
        from .lowering import gather_region

        raw = [g.add_input(f"part_{i}", [n + SALT_BYTES], integer=True) for i, n in enumerate(spec.part_sizes)]
        sizes = [n + SALT_BYTES for n in spec.part_sizes]
        if spec.hidden_output:
            raw.append(g.add_input("output_salt", [SALT_BYTES], integer=True))
            sizes.append(SALT_BYTES)
        # One range check for every hidden byte; everything below reads only ``checked``,
        # through constant gathers (wiring, and cheaper in ezkl than Slice).
        checked = g.lookup(g.concat(raw), np.arange(256))
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        n_checked = int(starts[-1])
        out = body(gather_region(g, checked, [int(x) for x in starts], spec))
        n_out = int(np.prod(spec.output_shape))
        # Packed: every part with its salt, then the output (with the output salt if hidden),
        # all read from ``checked`` followed by the output values.
        source = g.op("Concat", [checked, g.op("Reshape", [out, g.const([n_out], np.int64)])], axis=0)
        streams = [np.arange(starts[i], starts[i + 1]) for i in range(len(spec.part_sizes))]
        output_stream = np.arange(n_checked, n_checked + n_out)
        if spec.hidden_output:
            output_stream = np.concatenate([output_stream, np.arange(starts[-2], starts[-1])])
        self.lower_commitments(g, source, n_checked + n_out, streams + [output_stream],
                               [f"part_{i}_packed" for i in range(len(spec.part_sizes))] + ["output_packed"])

    def lower_commitments(self, g: "GraphBuilder", source: str, n_source: int,
                          streams: Sequence[np.ndarray], names: Sequence[str]) -> None:
        """Graph outputs ``names[i]`` = pack(``source[streams[i]]``), each of shape [groups, 1].

        All streams go through one MatMul against one powers constant, padded from one zeros
        constant, so that each constant feeds a single node (see lowering's module doc).
        """
        g_size = self.group
        groups = [packed_len(len(s), g_size) for s in streams]
        pad = sum(k * g_size - len(s) for k, s in zip(groups, streams))
        if pad:
            source = g.op("Concat", [source, g.const(np.zeros(pad))], axis=0)
        index, next_zero = [], n_source
        for k, stream in zip(groups, streams):
            fill = k * g_size - len(stream)
            index += [np.asarray(stream, dtype=np.int64), np.arange(next_zero, next_zero + fill)]
            next_zero += fill
        grid = g.op("Reshape", [g.op("Gather", [source, g.const(np.concatenate(index), np.int64)], axis=0),
                                g.const([sum(groups), g_size], np.int64)])
        powers = np.asarray([[float(PACK_BASE) ** i] for i in range(PACK_GROUP)], dtype=np.float32)
        if g_size == PACK_GROUP:
            packed = g.op("MatMul", [grid, g.const(powers)])
        else:  # bytes 0..15 and 16..30, the latter times 2^60 · 2^68 = 2^128
            low = g.op("MatMul", [g.op("Gather", [grid, g.const(np.arange(PACK_GROUP), np.int64)], axis=1),
                                  g.const(powers)])
            high = g.op("MatMul", [g.op("Gather", [grid, g.const(np.arange(PACK_GROUP, g_size), np.int64)], axis=1),
                                   g.const(powers[:g_size - PACK_GROUP])])
            for shift in _HIGH_SHIFTS:
                high = g.op("Mul", [high, g.const(np.asarray([shift], np.float32))])
            packed = g.op("Add", [low, high])
        first = np.concatenate([[0], np.cumsum(groups)]).astype(np.int64)
        for i, name in enumerate(names):
            value = g.op("Gather", [packed, g.const(np.arange(first[i], first[i + 1]), np.int64)], axis=0)
            g.add_output(value, name, [groups[i], 1])

    def witness_commitments(self, witness: Mapping[str, Any]) -> List[int]:
        return [felt_from_hex(h, "a witness hash") for h in witness["processed_outputs"]["poseidon_hash"]]

    def witness_output(self, witness: Mapping[str, Any], n_values: int) -> np.ndarray:
        out = bytearray()
        for h in witness["outputs"][-1]:
            out += felt_from_hex(h, "a witness output").to_bytes(32, "little")[:self.group]
        return np.frombuffer(bytes(out[:n_values]), dtype=np.uint8)


POSEIDON = PoseidonScheme()  # capture format 1: 16 bytes per field element
POSEIDON_31 = PoseidonScheme(PACK_GROUP_31)  # capture format 3: 31 bytes per field element


def commit(pixels: np.ndarray, salt: bytes) -> int:
    """Salted tile commitment ``Poseidon(pack(pixels ‖ salt))`` (pixels: uint8, any shape)."""
    return POSEIDON.commit(pixels, salt)


def commit_many(parts: Sequence[np.ndarray], salts: Sequence[bytes]) -> List[int]:
    """``[commit(p, s) for p, s in zip(parts, salts)]`` (module level: an executor's task)."""
    return POSEIDON.commit_many(parts, salts)


def hash_public(pixels: np.ndarray) -> int:
    """Unsalted hash ``Poseidon(pack(pixels))`` of a public output (the verifier's side)."""
    return POSEIDON.hash_public(pixels)

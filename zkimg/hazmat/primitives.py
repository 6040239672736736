"""Exact integer primitives that every transform is built from.

A transform is a short, fixed sequence of these primitives whose integer constants
(indices, weights, divisors, lookup tables) are computed once, when the transform is
constructed. Each primitive has exactly one numpy meaning (``run``), which is the
specification, and exactly one ONNX lowering (in :mod:`zkimg.hazmat.lowering`), which must
reproduce it bit for bit. Arrays are ``int64`` H×W×C tensors throughout; a transform's
final primitive always yields values in [0, 255] (``bounded``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Sequence, Tuple, Union, cast

import numpy as np

Shape = Tuple[int, int, int]


@dataclass(frozen=True)
class Take:
    """``out = np.take(x, index, axis)``: crops, flips, nearest resampling, border replication."""

    axis: int
    index: Tuple[int, ...]

    def out_shape(self, shape: Shape) -> Shape:
        s = list(shape)
        s[self.axis] = len(self.index)
        return (s[0], s[1], s[2])

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.take(x, np.asarray(self.index, dtype=np.int64), axis=self.axis)


@dataclass(frozen=True)
class Transpose:
    """``out = x.transpose(perm)``."""

    perm: Tuple[int, int, int]

    def out_shape(self, shape: Shape) -> Shape:
        return (shape[self.perm[0]], shape[self.perm[1]], shape[self.perm[2]])

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x.transpose(self.perm))


@dataclass(frozen=True)
class WeightedSum:
    """Weighted sum of taps along one axis, then exact floor division.

    For output position ``j`` along ``axis``::

        out[j] = floor((sum_k weight[k][j] * x[index[k][j]] + offset) / divisor)

    Weights and offset are non-negative integers and ``divisor`` is a positive integer
    (``offset = divisor // 2`` gives round-half-up). With ``divisor == 1`` no rounding
    happens (exact integer sums, possibly > 255, allowed only as an intermediate).
    When ``divisor > 1`` the constructor guarantees the result lies in [0, 255].
    """

    axis: int
    index: Tuple[Tuple[int, ...], ...]  # K taps × n_out
    weight: Tuple[Tuple[int, ...], ...]  # K taps × n_out
    divisor: int = 1
    offset: int = 0
    in_max: int = 255  # largest input value this primitive is fed

    def __post_init__(self) -> None:
        k = len(self.index)
        if k == 0 or len(self.weight) != k:
            raise ValueError("WeightedSum needs matching, non-empty index and weight taps")
        n = len(self.index[0])
        if any(len(r) != n for r in self.index) or any(len(r) != n for r in self.weight):
            raise ValueError("WeightedSum taps must all have the same length")
        if self.divisor < 1 or self.offset < 0 or any(w < 0 for r in self.weight for w in r):
            raise ValueError("WeightedSum needs non-negative weights/offset and divisor >= 1")
        if self.divisor > 1 and self.out_max > 255:
            raise ValueError("a rounding WeightedSum must produce values in [0, 255]")

    @property
    def taps(self) -> int:
        return len(self.index)

    @property
    def sum_max(self) -> int:
        """Largest possible value of the numerator ``sum + offset``."""
        cols = zip(*self.weight)
        return cast(int, max(sum(c) for c in cols) * self.in_max + self.offset)

    @property
    def out_max(self) -> int:
        return self.sum_max // self.divisor

    def out_shape(self, shape: Shape) -> Shape:
        s = list(shape)
        s[self.axis] = len(self.index[0])
        return (s[0], s[1], s[2])

    def _bcast(self, row: Tuple[int, ...]) -> np.ndarray:
        shape = [1, 1, 1]
        shape[self.axis] = len(row)
        return np.asarray(row, dtype=np.int64).reshape(shape)

    def run(self, x: np.ndarray) -> np.ndarray:
        acc = np.zeros(self.out_shape(x.shape), dtype=np.int64)
        for idx, w in zip(self.index, self.weight):
            acc += np.take(x, np.asarray(idx, dtype=np.int64), axis=self.axis) * self._bcast(w)
        return (acc + self.offset) // self.divisor


@dataclass(frozen=True)
class Lookup:
    """Per-channel table lookup: ``out[..., c] = table[c][x[..., c]]``; x in [0, 255].

    A single table (``len(table) == 1``) is shared by all channels. Table entries are
    integers in [0, 255]; this is how clamped point operations stay exact.
    """

    table: Tuple[Tuple[int, ...], ...]

    def __post_init__(self) -> None:
        if not self.table or any(len(t) != 256 for t in self.table):
            raise ValueError("Lookup tables have exactly 256 entries")
        if any(not 0 <= v <= 255 for t in self.table for v in t):
            raise ValueError("Lookup table entries must be in [0, 255]")

    def out_shape(self, shape: Shape) -> Shape:
        if len(self.table) not in (1, shape[2]):
            raise ValueError("Lookup needs one table or one per channel")
        return shape

    def run(self, x: np.ndarray) -> np.ndarray:
        t = np.asarray(self.table, dtype=np.int64)
        if len(self.table) == 1:
            return cast(np.ndarray, t[0][x])
        return np.stack([t[c][x[..., c]] for c in range(x.shape[2])], axis=-1)


Primitive = Union[Take, Transpose, WeightedSum, Lookup]


def run_all(prims: Tuple[Primitive, ...], x: np.ndarray) -> np.ndarray:
    """Run a primitive sequence on an int64 H×W×C array (the numpy specification)."""
    for p in prims:
        x = p.run(x)
    return x


def out_shape_all(prims: Tuple[Primitive, ...], shape: Shape) -> Shape:
    for p in prims:
        shape = p.out_shape(shape)
    return shape


def _positions(needed: Tuple[int, ...]) -> Dict[int, int]:
    return {g: i for i, g in enumerate(needed)}


def _restrict_one(p: Primitive, rows: Tuple[int, ...], cols: Tuple[int, ...]
                  ) -> Tuple[Tuple[int, ...], Tuple[int, ...], Callable[[Tuple[int, ...], Tuple[int, ...]], Primitive]]:
    """Backward step: needed output (rows, cols) of ``p`` → needed input (rows, cols) and a
    builder of the local primitive given the needed input index lists."""
    if isinstance(p, Lookup) or (isinstance(p, (Take, WeightedSum)) and p.axis == 2):
        return rows, cols, lambda r, c: p
    if isinstance(p, Transpose):
        if p.perm != (1, 0, 2):
            raise ValueError("only row/column transposes can be tiled")
        return cols, rows, lambda r, c: p
    out_idx = rows if p.axis == 0 else cols
    if isinstance(p, Take):
        need = tuple(sorted({p.index[j] for j in out_idx}))

        def local_take(r: Tuple[int, ...], c: Tuple[int, ...]) -> Primitive:
            pos = _positions(r if p.axis == 0 else c)
            return Take(p.axis, tuple(pos[p.index[j]] for j in out_idx))
        build = local_take
    else:
        assert isinstance(p, WeightedSum)
        need = tuple(sorted({idx[j] for idx in p.index for j in out_idx}))

        def local_sum(r: Tuple[int, ...], c: Tuple[int, ...]) -> Primitive:
            pos = _positions(r if p.axis == 0 else c)
            return WeightedSum(p.axis, tuple(tuple(pos[idx[j]] for j in out_idx) for idx in p.index),
                               tuple(tuple(w[j] for j in out_idx) for w in p.weight),
                               p.divisor, p.offset, p.in_max)
        build = local_sum
    if p.axis == 0:
        return need, cols, build
    return rows, need, build


def restrict(prims: Tuple[Primitive, ...], rows: Sequence[int], cols: Sequence[int]
             ) -> Tuple[Tuple[Primitive, ...], Tuple[int, ...], Tuple[int, ...]]:
    """Restrict a primitive sequence to the output window ``rows × cols`` (all channels).

    Returns ``(local, in_rows, in_cols)`` such that, for every input ``x``::

        run_all(local, x[in_rows][:, in_cols]) == run_all(prims, x)[rows][:, cols]

    ``in_rows``/``in_cols`` are the sorted input rows/columns the window depends on (its
    receptive field, exactly — not a bounding box).
    """
    needed = [(tuple(rows), tuple(cols))]
    builders = []
    for p in reversed(prims):
        r, c, build = _restrict_one(p, *needed[-1])
        needed.append((r, c))
        builders.append(build)
    needed.reverse()
    builders.reverse()
    local = tuple(build(*needed[i]) for i, build in enumerate(builders))
    return local, needed[0][0], needed[0][1]

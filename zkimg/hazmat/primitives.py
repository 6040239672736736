"""Exact integer primitives that every transform is built from.

A transform is a short, fixed sequence of these primitives whose integer constants
(indices, weights, divisors, lookup tables) are computed once, when the transform is
constructed. Each primitive has exactly one numpy meaning (``run``), which is the
specification, and exactly one ONNX lowering (in :mod:`zkimg.hazmat.lowering`), which must
reproduce it bit for bit. Arrays are ``int64`` H×W×C tensors throughout; a transform's
final primitive always yields values in [0, 255] (``bounded``).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple, Union, cast

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


class _Rounding:
    """What :class:`WeightedSum` and :class:`Stencil` share: an integer sum ``y`` of weighted
    taps (plus a constant ``bias``), then ``out = floor((y + offset) / divisor)``, clamped to
    [0, 255] when ``clamp`` is set. Subclasses give ``divisor``, ``offset``, ``in_max``,
    ``clamp`` and the per-output-position extremes of ``y``."""

    divisor: int
    offset: int
    in_max: int
    clamp: bool

    def _sum_range(self) -> Tuple[int, int]:
        """(least, largest) possible ``y`` over all output positions, inputs in [0, in_max]
        (computed once: restricting a plan builds many of these)."""
        cached: Optional[Tuple[int, int]] = self.__dict__.get("_range")
        if cached is None:
            cached = self._compute_range()
            object.__setattr__(self, "_range", cached)
        return cached

    def _compute_range(self) -> Tuple[int, int]:
        raise NotImplementedError

    def _check_rounding(self) -> None:
        if self.divisor < 1 or not isinstance(self.clamp, bool):
            raise ValueError("a rounding needs divisor >= 1 and a boolean clamp")
        if abs(self.sum_min) + abs(self.sum_max) >= 1 << 24:
            raise ValueError("sums must stay below 2^24 (exact in float32, far from the field's size)")
        if self.clamp or self.divisor > 1:
            if not self.clamp and (self.sum_min < 0 or self.out_max > 255):
                raise ValueError("a rounding without clamp must produce values in [0, 255]")
        elif self.sum_min < 0:
            raise ValueError("an exact sum (divisor 1, no clamp) must be non-negative")

    @property
    def sum_max(self) -> int:
        """Largest possible numerator ``y + offset``."""
        return self._sum_range()[1] + self.offset

    @property
    def sum_min(self) -> int:
        """Least possible numerator ``y + offset`` (negative only with negative weights)."""
        return self._sum_range()[0] + self.offset

    @property
    def out_max(self) -> int:
        q = self.sum_max // self.divisor
        return min(q, 255) if self.clamp else q

    def _finish(self, acc: np.ndarray) -> np.ndarray:
        out = (acc + self.offset) // self.divisor
        return np.clip(out, 0, 255) if self.clamp else out


@dataclass(frozen=True)
class WeightedSum(_Rounding):
    """Weighted sum of taps along one axis, then exact floor division (and a clamp).

    For output position ``j`` along ``axis``::

        y[j]   = sum_k weight[k][j] * x[index[k][j]] + bias[j]      (bias: 0 if empty)
        out[j] = floor((y[j] + offset) / divisor)                  (clamped to [0, 255] if clamp)

    ``divisor`` is a positive integer (``offset = divisor // 2`` gives round half up; floor
    is toward −∞ for negative numerators). With ``divisor == 1`` and no clamp no rounding
    happens (exact non-negative integer sums, possibly > 255, allowed only as an
    intermediate). Otherwise the result lies in [0, 255]: weights may be negative only with
    ``clamp``, and without it the constructor checks the range.
    """

    axis: int
    index: Tuple[Tuple[int, ...], ...]  # K taps × n_out
    weight: Tuple[Tuple[int, ...], ...]  # K taps × n_out
    divisor: int = 1
    offset: int = 0
    in_max: int = 255  # largest input value this primitive is fed
    clamp: bool = False
    bias: Tuple[int, ...] = ()  # n_out, or empty

    def __post_init__(self) -> None:
        k = len(self.index)
        if k == 0 or len(self.weight) != k:
            raise ValueError("WeightedSum needs matching, non-empty index and weight taps")
        n = len(self.index[0])
        if any(len(r) != n for r in self.index) or any(len(r) != n for r in self.weight):
            raise ValueError("WeightedSum taps must all have the same length")
        if self.bias and len(self.bias) != n:
            raise ValueError("WeightedSum's bias has one entry per output position")
        if not self.clamp and (self.offset < 0 or any(w < 0 for r in self.weight for w in r)
                               or any(b < 0 for b in self.bias)):
            raise ValueError("WeightedSum without clamp needs non-negative weights, bias and offset")
        self._check_rounding()

    @property
    def taps(self) -> int:
        return len(self.index)

    def _compute_range(self) -> Tuple[int, int]:
        if not self.clamp and not self.bias:  # non-negative weights (checked first)
            return 0, max(map(sum, zip(*self.weight))) * self.in_max
        cols = list(zip(*self.weight))
        bias = self.bias or (0,) * len(cols)
        lo = min(sum(min(w, 0) for w in c) * self.in_max + b for c, b in zip(cols, bias))
        hi = max(sum(max(w, 0) for w in c) * self.in_max + b for c, b in zip(cols, bias))
        return lo, hi

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
        if self.bias:
            acc += self._bcast(self.bias)
        return self._finish(acc)


@dataclass(frozen=True)
class Stencil(_Rounding):
    """A 2-D weighted sum with one weight per tap, then floor division and a clamp.

    ``out[i, j, c] = clamp(floor((sum_t weight[t] * x[rows[t][i], cols[t][j], c] + offset)
    / divisor), 0, 255)``: a correlation whose taps are any (row, column) index maps (borders
    are whatever the maps say, e.g. replicated), weights of either sign.
    """

    rows: Tuple[Tuple[int, ...], ...]  # T taps × H_out
    cols: Tuple[Tuple[int, ...], ...]  # T taps × W_out
    weight: Tuple[int, ...]  # T taps
    divisor: int = 1
    offset: int = 0
    in_max: int = 255
    clamp: bool = True

    def __post_init__(self) -> None:
        t = len(self.weight)
        if t == 0 or len(self.rows) != t or len(self.cols) != t:
            raise ValueError("Stencil needs matching, non-empty rows, cols and weights")
        if any(len(r) != len(self.rows[0]) for r in self.rows) or any(len(c) != len(self.cols[0]) for c in self.cols):
            raise ValueError("Stencil taps must all have the same length")
        if not self.clamp:
            raise ValueError("a Stencil clamps its output")
        self._check_rounding()

    @property
    def taps(self) -> int:
        return len(self.weight)

    def _compute_range(self) -> Tuple[int, int]:
        return (sum(min(w, 0) for w in self.weight) * self.in_max,
                sum(max(w, 0) for w in self.weight) * self.in_max)

    def out_shape(self, shape: Shape) -> Shape:
        return (len(self.rows[0]), len(self.cols[0]), shape[2])

    def run(self, x: np.ndarray) -> np.ndarray:
        acc = np.zeros(self.out_shape(x.shape), dtype=np.int64)
        for r, c, w in zip(self.rows, self.cols, self.weight):
            acc += x[np.ix_(np.asarray(r, dtype=np.int64), np.asarray(c, dtype=np.int64))] * w
        return self._finish(acc)


@dataclass(frozen=True)
class BlockMean:
    """Means over a grid of rectangular cells, each cell's mean repeated over the cell.

    ``row_cells``/``col_cells`` list each cell's input rows/columns; output row ``i`` belongs
    to cell ``row_of[i]``, output column ``j`` to ``col_of[j]``. With ``R = row_cells[row_of[i]]``,
    ``C = col_cells[col_of[j]]`` and ``D = len(R)·len(C)``::

        out[i, j, c] = floor((sum of x[R × C, c] + D // 2) / D)      (round half up)
    """

    row_cells: Tuple[Tuple[int, ...], ...]
    col_cells: Tuple[Tuple[int, ...], ...]
    row_of: Tuple[int, ...]
    col_of: Tuple[int, ...]

    def __post_init__(self) -> None:
        for cells, of in ((self.row_cells, self.row_of), (self.col_cells, self.col_of)):
            if not cells or not all(cells) or not of or not all(0 <= k < len(cells) for k in of):
                raise ValueError("BlockMean needs non-empty cells and an owner cell per output")
        if self.cell_size_max > 4096:
            raise ValueError("a BlockMean cell holds at most 4096 pixels")

    @property
    def cell_size_max(self) -> int:
        return max(map(len, self.row_cells)) * max(map(len, self.col_cells))

    def cell_sizes(self) -> np.ndarray:
        """``D`` per cell: a (rows cells) × (column cells) × 1 int64 array."""
        return np.outer([len(r) for r in self.row_cells], [len(c) for c in self.col_cells])[..., None]

    def out_shape(self, shape: Shape) -> Shape:
        return (len(self.row_of), len(self.col_of), shape[2])

    def run(self, x: np.ndarray) -> np.ndarray:
        rows = np.stack([x[np.asarray(r)].sum(axis=0) for r in self.row_cells])  # cells × W × C
        sums = np.stack([rows[:, np.asarray(c)].sum(axis=1) for c in self.col_cells], axis=1)
        d = self.cell_sizes()
        means = (sums + d // 2) // d
        return cast(np.ndarray, means[np.ix_(np.asarray(self.row_of), np.asarray(self.col_of))])


@dataclass(frozen=True)
class Fill:
    """``out[..., c] = values[c]`` (one value per channel, each in [0, 255]): reads nothing."""

    values: Tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.values or any(not 0 <= v <= 255 for v in self.values):
            raise ValueError("Fill needs one value in [0, 255] per channel")

    def out_shape(self, shape: Shape) -> Shape:
        if shape[2] != len(self.values):
            raise ValueError("Fill needs one value per channel")
        return shape

    def run(self, x: np.ndarray) -> np.ndarray:
        return np.tile(np.asarray(self.values, dtype=np.int64), x.shape[:2] + (1,))


@dataclass(frozen=True)
class Select:
    """``out = where(mask, run_all(inner, x), run_all(keep, x))``, the same shape as both.

    ``mask`` is the union of ``boxes``, each ``(top, bottom, left, right)``: output rows
    ``[top, bottom)`` × columns ``[left, right)``. Every value comes from exactly one branch:
    in the mask nothing of ``keep`` reaches the output (and with ``inner = (Fill,)``, nothing
    of ``x``).
    """

    boxes: Tuple[Tuple[int, int, int, int], ...]
    inner: Tuple["Primitive", ...]
    keep: Tuple["Primitive", ...] = ()

    def __post_init__(self) -> None:
        if not self.boxes or any(len(b) != 4 or not 0 <= b[0] < b[1] or not 0 <= b[2] < b[3] for b in self.boxes):
            raise ValueError("Select needs non-empty boxes (top, bottom, left, right)")

    def out_shape(self, shape: Shape) -> Shape:
        out = out_shape_all(self.keep, shape)
        if out_shape_all(self.inner, shape) != out or any(b[1] > out[0] or b[3] > out[1] for b in self.boxes):
            raise ValueError("Select's branches must have one shape that holds its boxes")
        return out

    def mask(self, shape: Shape) -> np.ndarray:
        """The mask as an H×W×1 int64 array of 0/1."""
        m = np.zeros((shape[0], shape[1], 1), dtype=np.int64)
        for top, bottom, left, right in self.boxes:
            m[top:bottom, left:right] = 1
        return m

    def run(self, x: np.ndarray) -> np.ndarray:
        keep = run_all(self.keep, x)
        return np.where(self.mask(keep.shape) == 1, run_all(self.inner, x), keep)


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


Primitive = Union[Take, Transpose, WeightedSum, Lookup, Stencil, BlockMean, Fill, Select]


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


Builder = Callable[[Tuple[int, ...], Tuple[int, ...]], Tuple[Primitive, ...]]
Step = Tuple[Tuple[int, ...], Tuple[int, ...], Builder]


def _select(pos: Dict[int, int], wanted: Tuple[int, ...], axis: int) -> Tuple[Primitive, ...]:
    """A Take of ``wanted`` out of the positions ``pos`` (nothing if it is all of them, in order)."""
    index = tuple(pos[i] for i in wanted)
    return () if index == tuple(range(len(pos))) else (Take(axis, index),)


def _restrict_one(p: Primitive, rows: Tuple[int, ...], cols: Tuple[int, ...]) -> Step:
    """Backward step: needed output (rows, cols) of ``p`` → needed input (rows, cols) and a
    builder of the local primitives given the needed input index lists."""
    if isinstance(p, (Lookup, Fill)) or (isinstance(p, (Take, WeightedSum)) and p.axis == 2):
        return rows, cols, lambda r, c: (p,)
    if isinstance(p, Transpose):
        if p.perm != (1, 0, 2):
            raise ValueError("only row/column transposes can be tiled")
        return cols, rows, lambda r, c: (p,)
    if isinstance(p, Stencil):
        return _restrict_stencil(p, rows, cols)
    if isinstance(p, BlockMean):
        return _restrict_block_mean(p, rows, cols)
    if isinstance(p, Select):
        return _restrict_select(p, rows, cols)
    out_idx = rows if p.axis == 0 else cols
    if isinstance(p, Take):
        need = tuple(sorted({p.index[j] for j in out_idx}))

        def local_take(r: Tuple[int, ...], c: Tuple[int, ...]) -> Tuple[Primitive, ...]:
            pos = _positions(r if p.axis == 0 else c)
            return (Take(p.axis, tuple(pos[p.index[j]] for j in out_idx)),)
        build: Builder = local_take
    else:
        assert isinstance(p, WeightedSum)
        need = tuple(sorted({idx[j] for idx in p.index for j in out_idx}))

        def local_sum(r: Tuple[int, ...], c: Tuple[int, ...]) -> Tuple[Primitive, ...]:
            pos = _positions(r if p.axis == 0 else c)
            return (WeightedSum(p.axis, tuple(tuple(pos[idx[j]] for j in out_idx) for idx in p.index),
                                tuple(tuple(w[j] for j in out_idx) for w in p.weight),
                                p.divisor, p.offset, p.in_max, p.clamp,
                                tuple(p.bias[j] for j in out_idx) if p.bias else ()),)
        build = local_sum
    if p.axis == 0:
        return need, cols, build
    return rows, need, build


def _restrict_stencil(p: Stencil, rows: Tuple[int, ...], cols: Tuple[int, ...]) -> Step:
    need_r = tuple(sorted({t[i] for t in p.rows for i in rows}))
    need_c = tuple(sorted({t[j] for t in p.cols for j in cols}))

    def build(r: Tuple[int, ...], c: Tuple[int, ...]) -> Tuple[Primitive, ...]:
        pr, pc = _positions(r), _positions(c)
        return (Stencil(tuple(tuple(pr[t[i]] for i in rows) for t in p.rows),
                        tuple(tuple(pc[t[j]] for j in cols) for t in p.cols),
                        p.weight, p.divisor, p.offset, p.in_max, p.clamp),)
    return need_r, need_c, build


def _restrict_block_mean(p: BlockMean, rows: Tuple[int, ...], cols: Tuple[int, ...]) -> Step:
    cells_r = sorted({p.row_of[i] for i in rows})
    cells_c = sorted({p.col_of[j] for j in cols})
    need_r = tuple(sorted({i for k in cells_r for i in p.row_cells[k]}))
    need_c = tuple(sorted({j for k in cells_c for j in p.col_cells[k]}))

    def build(r: Tuple[int, ...], c: Tuple[int, ...]) -> Tuple[Primitive, ...]:
        pr, pc = _positions(r), _positions(c)
        kr, kc = _positions(tuple(cells_r)), _positions(tuple(cells_c))
        return (BlockMean(tuple(tuple(pr[i] for i in p.row_cells[k]) for k in cells_r),
                          tuple(tuple(pc[j] for j in p.col_cells[k]) for k in cells_c),
                          tuple(kr[p.row_of[i]] for i in rows), tuple(kc[p.col_of[j]] for j in cols)),)
    return need_r, need_c, build


def _restrict_select(p: Select, rows: Tuple[int, ...], cols: Tuple[int, ...]) -> Step:
    """Boxes the window misses are dropped; with none left only ``keep`` is restricted (a
    window no box touches costs what ``keep`` costs), with the whole window in a box only
    ``inner``. ``rows``/``cols`` are sorted, so a box's part of the window is a box again."""
    boxes = []
    for top, bottom, left, right in p.boxes:
        r0, r1 = bisect_left(rows, top), bisect_left(rows, bottom)
        c0, c1 = bisect_left(cols, left), bisect_left(cols, right)
        if r0 < r1 and c0 < c1:
            boxes.append((r0, r1, c0, c1))
    if not boxes:
        keep, kr, kc = restrict(p.keep, rows, cols)
        return kr, kc, lambda r, c: _select(_positions(r), kr, 0) + _select(_positions(c), kc, 1) + keep
    inner, ir, ic = restrict(p.inner, rows, cols)
    if (0, len(rows), 0, len(cols)) in boxes:
        return ir, ic, lambda r, c: _select(_positions(r), ir, 0) + _select(_positions(c), ic, 1) + inner
    keep, kr, kc = restrict(p.keep, rows, cols)
    need_r, need_c = tuple(sorted(set(ir) | set(kr))), tuple(sorted(set(ic) | set(kc)))

    def build(r: Tuple[int, ...], c: Tuple[int, ...]) -> Tuple[Primitive, ...]:
        pr, pc = _positions(r), _positions(c)
        return (Select(tuple(boxes), _select(pr, ir, 0) + _select(pc, ic, 1) + inner,
                       _select(pr, kr, 0) + _select(pc, kc, 1) + keep),)
    return need_r, need_c, build


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
    local = tuple(q for i, build in enumerate(builders) for q in build(*needed[i]))
    return local, needed[0][0], needed[0][1]

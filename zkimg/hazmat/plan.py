"""Tile planner: cut a whole-image pipeline into tile jobs with exact global semantics.

Every output tile becomes one circuit whose hidden inputs are the committed *cells* (see
:mod:`zkimg.hazmat.tiles`) that its receptive field touches, and whose primitives are the
pipeline restricted to that tile (:func:`zkimg.hazmat.primitives.restrict`). The tiled result is
therefore ``pipeline.apply(image)`` pixel for pixel, whatever the crop offsets, resize
ratios or blur halos.

Output tiles follow the input tiles: along each axis, output rows are grouped by the input
tile that holds the centre of their receptive field, so a job reads one input tile plus
thin border cells of its neighbours. That keeps the number of hashed values per input value
near 1 (reported by :attr:`Plan.hashed_per_input`); runs longer than ``max_out`` are split.
With ``tiles_per_job = n`` the output columns of ``n`` consecutive input tiles (along the
image's width) form one run, so each job proves ``n`` tiles: fewer, larger proofs (a smaller
bundle, fewer verifier calls) for the same hashing; a run is still at most ``max_out`` long.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, List, Optional, Sequence, Tuple, cast

import numpy as np

from .._validate import as_int
from ..errors import InvalidParameter
from ..limits import MAX_OUTPUT_TILE, MAX_TILES_PER_JOB
from ..pipeline import Pipeline
from .commitments import CommitmentScheme, SchemeParams
from .lowering import CircuitSpec
from .primitives import Primitive, Transpose, restrict
from .tiles import TileLayout

DEFAULT_MAX_OUT = 64
DEFAULT_TILES_PER_JOB = 1
#: Index visits charged for restricting one primitive, whatever its size (measured: the
#: per-call cost of ``restrict`` for a single output position).
_PRIMITIVE_OVERHEAD = 64


@dataclass(frozen=True)
class PlannedJob:
    """One proof: output window ``rows × cols`` computed from ``cells`` of the input layout."""

    index: int
    rows: Tuple[int, int]  # [r0, r1) in the output image
    cols: Tuple[int, int]
    cells: Tuple[int, ...]  # indices into the input layout's cells, ascending
    spec: CircuitSpec


def _runs(anchors: Sequence[int], tile: int, max_out: int) -> List[Tuple[int, int]]:
    """Consecutive output indices whose anchors share an input tile, split to ≤ max_out."""
    runs: List[Tuple[int, int]] = []
    start = 0
    for i in range(1, len(anchors) + 1):
        if i == len(anchors) or anchors[i] // tile != anchors[start] // tile:
            n = i - start
            pieces = -(-n // max_out)
            for k in range(pieces):
                runs.append((start + k * n // pieces, start + (k + 1) * n // pieces))
            start = i
    return runs


@dataclass(frozen=True)
class Plan:
    """The tile jobs of one pipeline over one committed input layout."""

    pipeline: Pipeline
    layout: TileLayout
    hidden_output: bool = False
    max_out: int = DEFAULT_MAX_OUT
    output_tile: Optional[int] = None  # fixed output grid (a hidden intermediate's tiles)
    tiles_per_job: int = DEFAULT_TILES_PER_JOB  # input tiles along the width per job (no fixed grid)

    def __post_init__(self) -> None:
        if not isinstance(self.layout, TileLayout):
            raise InvalidParameter("layout", "expected a TileLayout")
        as_int(self.max_out, "max_out", 1, MAX_OUTPUT_TILE)
        as_int(self.tiles_per_job, "tiles_per_job", 1, MAX_TILES_PER_JOB)
        if self.output_tile is not None and self.tiles_per_job != 1:
            raise InvalidParameter("tiles_per_job", "a plan on a fixed output grid proves one tile per job")
        if self.output_tile is not None:
            as_int(self.output_tile, "output_tile", 1, MAX_OUTPUT_TILE)
        self.pipeline.shapes(self.input_shape)

    @property
    def scheme(self) -> CommitmentScheme:
        """The commitment scheme of the input layout's capture format (every job's)."""
        return self.layout.scheme

    @property
    def input_shape(self) -> Tuple[int, int, int]:
        return (self.layout.height, self.layout.width, self.layout.channels)

    @property
    def output_shape(self) -> Tuple[int, int, int]:
        return self.pipeline.output_shape(self.input_shape)

    @cached_property
    def primitives(self) -> Tuple[Primitive, ...]:
        return self.pipeline.primitives(self.input_shape)

    @cached_property
    def runs(self) -> Tuple[Tuple[Tuple[int, int], ...], Tuple[Tuple[int, int], ...]]:
        """The output row runs and column runs; every job is one row run × one column run.
        Costs one anchor per output row and column (see :attr:`anchor_work`), no job."""
        oh, ow, _ = self.output_shape
        if self.output_tile is not None:  # the output layout's tiles, in raster order
            t = self.output_tile
            return (tuple((r, min(r + t, oh)) for r in range(0, oh, t)),
                    tuple((c, min(c + t, ow)) for c in range(0, ow, t)))
        row_dep_axis, col_dep_axis = self._dep_axis(0), self._dep_axis(1)
        return (tuple(_runs(self._axis_anchors(0, oh, row_dep_axis), self._group(row_dep_axis), self.max_out)),
                tuple(_runs(self._axis_anchors(1, ow, col_dep_axis), self._group(col_dep_axis), self.max_out)))

    @property
    def job_count(self) -> int:
        """Number of jobs, from :attr:`runs` alone (no job is built)."""
        rows, cols = self.runs
        return len(rows) * len(cols)

    def iter_jobs(self) -> Iterator[PlannedJob]:
        """The jobs in raster order, built one at a time (a verifier stops at the first bad proof)."""
        rows, cols = self.runs
        oc = self.output_shape[2]
        cell_index = self.layout.cell_index()
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                yield self._job(i * len(cols) + j, (r0, r1), (c0, c1), cell_index, oc)

    @cached_property
    def jobs(self) -> Tuple[PlannedJob, ...]:
        return tuple(self.iter_jobs())

    # ----- work bounds, arithmetic: what planning costs before any of it is done

    def _receptive(self, rows: int, cols: int) -> Tuple[int, int, int]:
        """Upper bounds for a ``rows × cols`` output window: (index visits of restricting the
        pipeline to it, input rows, input columns it reads), walking the steps backwards with
        each step's :meth:`~zkimg.transforms.Transform.span`."""
        shapes = self.pipeline.shapes(self.input_shape)
        work, wr, wc = 0, rows, cols
        for step, (h, w, _), (oh, ow, _) in zip(reversed(self.pipeline.steps), reversed(shapes[:-1]),
                                                 reversed(shapes[1:])):
            if step.transposes:
                wr, wc, oh, ow = wc, wr, ow, oh
            work += 2 * (step.taps * (wr + wc) + _PRIMITIVE_OVERHEAD)  # two primitives a step at most
            wr, wc = step.span(wr, h, oh), step.span(wc, w, ow)
        return work + wr * wc, wr, wc  # + the input window's cell lookup

    @property
    def anchor_work(self) -> int:
        """Upper bound on the work of :attr:`runs`: the steps' primitives (index tuples of
        ``taps × side``) plus one single-position restriction per output row and column."""
        shapes = self.pipeline.shapes(self.input_shape)
        build = sum(2 * step.taps * (h + w) for step, (h, w, _) in zip(self.pipeline.steps, shapes[1:]))
        oh, ow, _ = shapes[-1]
        return build + (0 if self.output_tile is not None else (oh + ow) * self._receptive(1, 1)[0])

    @property
    def max_job_values(self) -> int:
        """An upper bound on one job's hashed input values plus output values, without
        building a job, exact on each part: cells are a grid of row bands × column bands, so a
        job hashes (the heights of the row bands its row run reads) × (the widths of the
        column bands its column run reads) × channels, each found by restricting the pipeline
        along one axis; the largest of each is taken. Under a scheme whose cells are committed
        columns (KZG) nothing is hashed: the bound counts the input positions the job reads."""
        rows, cols = self.runs
        hashed = self._axis_hashed(0, rows) * self._axis_hashed(1, cols) * self.layout.channels
        return hashed + max(b - a for a, b in rows) * max(b - a for a, b in cols) * self.output_shape[2]

    def _axis_hashed(self, axis: int, runs: Sequence[Tuple[int, int]]) -> int:
        """The most input positions, in whole bands, that one run along output ``axis`` hashes."""
        dep = self._dep_axis(axis)
        bands = [b for tile in (self.layout.row_bands() if dep == 0 else self.layout.col_bands()) for b in tile]
        starts = [b0 for b0, _ in bands]
        columns = not self.layout.scheme.commits_natively  # committed columns: what is read, not whole cells
        most = 0
        for a, b in runs:
            window = (range(a, b), (0,)) if axis == 0 else ((0,), range(a, b))
            _, in_rows, in_cols = restrict(self.primitives, *window)
            read = in_rows if dep == 0 else in_cols
            if columns:
                most = max(most, len(set(read)))
                continue
            touched = {bisect_right(starts, i) - 1 for i in read}
            most = max(most, sum(bands[k][1] - bands[k][0] for k in touched))
        return most

    def _group(self, dep_axis: int) -> int:
        """Input pixels whose outputs may share a job along ``dep_axis`` (the width: n tiles)."""
        return self.layout.tile * (self.tiles_per_job if dep_axis == 1 else 1)

    def _dep_axis(self, axis: int) -> int:
        """Which input axis the output ``axis`` depends on (they swap under a transpose)."""
        swaps = sum(1 for p in self.primitives if isinstance(p, Transpose))
        return axis if swaps % 2 == 0 else 1 - axis

    def _axis_anchors(self, axis: int, n_out: int, dep_axis: int) -> List[int]:
        out = []
        for i in range(n_out):
            rows, cols = ((i,), (0,)) if axis == 0 else ((0,), (i,))
            _, in_rows, in_cols = restrict(self.primitives, rows, cols)
            dep = in_rows if dep_axis == 0 else in_cols
            out.append(dep[len(dep) // 2])
        return out

    def _job(self, index: int, rows: Tuple[int, int], cols: Tuple[int, int], cell_index: np.ndarray,
             channels: int) -> PlannedJob:
        local, in_rows, in_cols = restrict(self.primitives, range(*rows), range(*cols))
        owner = cell_index[np.ix_(in_rows, in_cols)]  # cell of every needed pixel
        used = tuple(int(k) for k in np.unique(owner))
        cells = self.layout.cells
        c = self.layout.channels
        # Per used cell: where its values start in the concatenated parts, its origin, width.
        sizes = np.asarray([cells[k].shape2[0] * cells[k].shape2[1] * c for k in used], dtype=np.int64)
        per_cell = np.zeros((4, len(cells)), dtype=np.int64)
        per_cell[:, list(used)] = cast(Any, [np.concatenate([[0], np.cumsum(sizes)[:-1]]), [cells[k].r0 for k in used],
                                             [cells[k].c0 for k in used], [cells[k].c1 - cells[k].c0 for k in used]])
        base, r0, c0, wid = per_cell[:, owner]
        r = np.asarray(in_rows, dtype=np.int64)[:, None]
        q = np.asarray(in_cols, dtype=np.int64)[None, :]
        pix = base + ((r - r0) * wid + (q - c0)) * c
        region_index = (pix[..., None] + np.arange(c)).ravel()
        spec = CircuitSpec(
            part_sizes=tuple(int(n) for n in sizes),
            region_shape=(len(in_rows), len(in_cols), c),
            region_index=tuple(region_index.tolist()),
            primitives=local,
            output_shape=(rows[1] - rows[0], cols[1] - cols[0], channels),
            hidden_output=self.hidden_output,
            scheme=self.layout.scheme.name,
            scheme_params=self.layout.scheme.params,
        )
        return PlannedJob(index, rows, cols, used, spec)

    @property
    def hashed_per_input(self) -> float:
        """Input values hashed by all jobs together, per input value (1.0 = each once)."""
        h, w, c = self.input_shape
        return sum(sum(j.spec.part_sizes) for j in self.jobs) / (h * w * c)

    @property
    def distinct_circuits(self) -> int:
        return len({j.spec for j in self.jobs})



def intermediate_layout(shape: Tuple[int, int, int], tile: int, version: int = 1,
                        scheme_params: SchemeParams = ()) -> TileLayout:
    """Layout of a hidden intermediate image: ``tile``-sized tiles, one cell each (no border),
    committed in capture format ``version`` with the capture's ``scheme_params`` (the input's:
    its commitments are the producing circuit's output commitments; under KZG producer and
    consumer share ``K``, the salt slots and the SRS)."""
    h, w, c = shape
    return TileLayout(w, h, c, tile, 0, version, scheme_params)


def split_pipeline(pipeline: Pipeline, segments: Optional[Sequence[int]]) -> List[Pipeline]:
    """Cut ``pipeline`` into consecutive segments of ``segments[i]`` steps (None: one segment).

    Each segment is proved by its own circuits; the image between two segments is a hidden
    intermediate, committed tile by tile with fresh salts.
    """
    if segments is None:
        return [pipeline]
    counts = list(segments)
    if (not counts or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in counts)
            or sum(counts) != len(pipeline)):
        raise InvalidParameter("segments", f"positive step counts summing to {len(pipeline)}, got {segments!r}")
    out, i = [], 0
    for n in counts:
        out.append(Pipeline(pipeline.steps[i:i + n]))
        i += n
    return out


def segment_workdir(workdir: "Path | str", index: int) -> Path:
    """The work folder of plan ``index`` of a chain, inside a run's ``workdir``."""
    return Path(workdir) / f"segment-{index}"


def chain_plans(pipeline: Pipeline, layout: TileLayout, *, hidden_output: bool, max_out: int,
                segments: Optional[Sequence[int]], tiles_per_job: int = DEFAULT_TILES_PER_JOB) -> List[Plan]:
    """The plans of a (possibly segmented) pipeline over ``layout``, first to last.

    Every plan but the last has a hidden output on a ``layout.tile`` grid, which is the next
    plan's committed input (:func:`intermediate_layout`); ``tiles_per_job`` applies to the
    last plan only (the others follow that grid). Prover and verifier both use this.
    """
    parts = split_pipeline(pipeline, segments)
    plans: List[Plan] = []
    for i, seg in enumerate(parts):
        last = i == len(parts) - 1
        plans.append(Plan(seg, layout, hidden_output if last else True, max_out, None if last else layout.tile,
                          tiles_per_job if last else DEFAULT_TILES_PER_JOB))
        if not last:
            layout = intermediate_layout(plans[-1].output_shape, layout.tile, layout.version, layout.scheme_params)
    return plans

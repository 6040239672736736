"""Tiled commitments of whole images.

An H×W×C image is cut into a grid of ``tile × tile`` tiles (edge tiles are smaller; nothing
is padded). Each tile is further cut into *cells*: along each axis a tile of extent ``n``
has bands ``[0, b)``, ``[b, n−b)``, ``[n−b, n)`` when ``n > 2b`` (``b`` = ``border``), else a
single band. Every cell is committed on its own with a fresh salt under the commitment
scheme the layout's ``version`` names (version 1: ``Poseidon(pack(cell pixels ‖ salt16))``);
a proof that needs only a neighbour's border (a blur halo, a bilinear footprint) then
commits to that thin cell, not the whole tile. With ``fold`` the scheme's folding hash
(version 1: ezkl's Poseidon, computed natively; the circuit only ever sees cells):

* tile commitment = ``fold(cell commitments in raster order)``
* image root = ``fold(version, width, height, channels, tile, border, tile commitments in
  raster order)``
"""

from __future__ import annotations

import functools
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._validate import as_int
from ..errors import InvalidImage, InvalidParameter
from ..limits import MAX_CELLS, MAX_CHANNELS, MAX_SIDE, MAX_TILE
from ..progress import ProgressCallback, report
from .commitments import CommitmentScheme, SchemeParams, scheme_for_layout


@functools.lru_cache(maxsize=64)
def _configured(version: int, params: SchemeParams) -> CommitmentScheme:
    return scheme_for_layout(version).configure(params)

LAYOUT_VERSION = 1  # the capture format; names the commitment scheme (1: Poseidon)
COMMIT_CHUNK = 256  # cells per executor task when committing in parallel


def _split(n: int, border: int) -> bool:
    """Whether a tile of extent ``n`` gets separate border bands."""
    return bool(border) and n > 2 * border


def _bands(start: int, n: int, border: int) -> List[Tuple[int, int]]:
    if _split(n, border):
        return [(start, start + border), (start + border, start + n - border), (start + n - border, start + n)]
    return [(start, start + n)]


@dataclass(frozen=True)
class Cell:
    """A committed rectangle ``[r0, r1) × [c0, c1)`` of one tile (``tile`` = grid index)."""

    tile: Tuple[int, int]
    r0: int
    r1: int
    c0: int
    c1: int

    @property
    def shape2(self) -> Tuple[int, int]:
        return (self.r1 - self.r0, self.c1 - self.c0)


@dataclass(frozen=True)
class TileLayout:
    """Geometry of a tiled commitment: image size, tile side and cell border (pixels)."""

    width: int
    height: int
    channels: int
    tile: int
    border: int
    version: int = LAYOUT_VERSION  # the capture format: names the commitment scheme
    scheme_params: SchemeParams = ()  # the scheme's capture parameters (signed with the layout)

    def __post_init__(self) -> None:
        as_int(self.width, "width", 1, MAX_SIDE)
        as_int(self.height, "height", 1, MAX_SIDE)
        as_int(self.channels, "channels", 1, MAX_CHANNELS)
        as_int(self.tile, "tile", 4, MAX_TILE)
        scheme_for_layout(as_int(self.version, "version"))
        if not isinstance(self.scheme_params, tuple):
            raise InvalidParameter("scheme_params", "must be a tuple of (name, value) pairs")
        object.__setattr__(self, "scheme_params", tuple(sorted(self.scheme_params)))
        self.scheme  # noqa: B018  # validates the parameters
        as_int(self.border, "border", 0, self.tile // 4)
        if self.cell_count > MAX_CELLS:  # counted, not enumerated: sizes may be hostile
            raise InvalidParameter("tile", f"more than {MAX_CELLS} cells; use larger tiles")

    @property
    def cell_count(self) -> int:
        """Number of cells, computed without enumerating them."""

        def bands(extent: int) -> int:
            full, rest = divmod(extent, self.tile)
            per: Callable[[int], int] = lambda n: 3 if _split(n, self.border) else 1  # noqa: E731
            return full * per(self.tile) + (per(rest) if rest else 0)

        return bands(self.height) * bands(self.width)

    @property
    def grid(self) -> Tuple[int, int]:
        return (-(-self.height // self.tile), -(-self.width // self.tile))

    def row_bands(self) -> List[List[Tuple[int, int]]]:
        return [_bands(r, min(self.tile, self.height - r), self.border) for r in range(0, self.height, self.tile)]

    def col_bands(self) -> List[List[Tuple[int, int]]]:
        return [_bands(c, min(self.tile, self.width - c), self.border) for c in range(0, self.width, self.tile)]

    @cached_property
    def cells(self) -> Tuple[Cell, ...]:
        """All cells, tile by tile in raster order, raster order inside a tile."""
        out: List[Cell] = []
        rows, cols = self.row_bands(), self.col_bands()
        for ti, rb in enumerate(rows):
            for tj, cb in enumerate(cols):
                out.extend(Cell((ti, tj), r0, r1, c0, c1) for r0, r1 in rb for c0, c1 in cb)
        return tuple(out)

    def cell_index(self) -> "np.ndarray":
        """An H×W array of the index (into ``cells``) of the cell holding each pixel."""
        idx = np.empty((self.height, self.width), dtype=np.int32)  # ≤ 2^20 cells; half the memory of int64
        for i, c in enumerate(self.cells):
            idx[c.r0:c.r1, c.c0:c.c1] = i
        return idx

    @property
    def scheme(self) -> CommitmentScheme:
        """The commitment scheme of this layout's capture format, with its parameters."""
        return _configured(self.version, self.scheme_params)

    def to_json(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"version": self.version, "width": self.width, "height": self.height,
                             "channels": self.channels, "tile": self.tile, "border": self.border}
        if self.scheme_params:
            d["scheme"] = dict(self.scheme_params)
        return d

    def cell_pixels(self, image: np.ndarray, cell: Cell) -> np.ndarray:
        return np.ascontiguousarray(image[cell.r0:cell.r1, cell.c0:cell.c1])

    def check_image(self, image: np.ndarray) -> None:
        if image.shape != (self.height, self.width, self.channels) or image.dtype != np.uint8:
            raise InvalidImage(f"expected a uint8 {self.height}×{self.width}×{self.channels} image, "
                               f"got {image.dtype} {image.shape}")

    def commit_cells(self, image: np.ndarray, salts: Sequence[bytes],
                     progress: Optional[ProgressCallback] = None, executor: Optional[Executor] = None) -> List[int]:
        """Commitment of every cell of ``image`` under its salt (``salts[i]`` for ``cells[i]``);
        ``progress("commit", done, total)`` as cells are done. With ``executor`` the cells are
        hashed in chunks on it (same results, in cell order)."""
        self.check_image(image)
        total = len(self.cells)
        if len(salts) != total:
            raise InvalidParameter("salts", f"need {total} salts, got {len(salts)}")
        out: List[int] = []
        report(progress, "commit", 0, total)
        if executor is None:
            for c, s in zip(self.cells, salts):
                out.append(self.scheme.commit(self.cell_pixels(image, c), s))
                report(progress, "commit", len(out), total)
            return out
        step = max(1, min(COMMIT_CHUNK, -(-total // 64)))
        futures = [executor.submit(self.scheme.commit_many, [self.cell_pixels(image, c) for c in self.cells[i:i + step]],
                                   list(salts[i:i + step])) for i in range(0, total, step)]
        for f in futures:
            out.extend(f.result())
            report(progress, "commit", len(out), total)
        return out

    def tile_commitments(self, cell_commitments: Sequence[int]) -> List[int]:
        """Fold cell commitments into one commitment per tile (raster order)."""
        if len(cell_commitments) != len(self.cells):
            raise InvalidParameter("cell_commitments", f"need {len(self.cells)}, got {len(cell_commitments)}")
        group: List[int]
        out, group, current = [], [], self.cells[0].tile
        for cell, c in zip(self.cells, cell_commitments):
            if cell.tile != current:
                out.append(self.scheme.fold(group))
                group, current = [], cell.tile
            group.append(c)
        out.append(self.scheme.fold(group))
        return out

    def root(self, cell_commitments: Sequence[int]) -> int:
        """The image commitment signed by the camera."""
        header = [self.version, self.width, self.height, self.channels, self.tile, self.border]
        return self.scheme.fold(header + self.scheme.header_values() + self.tile_commitments(cell_commitments))

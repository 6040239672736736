"""Resource limits for untrusted input: bundles, tile proofs, capture secrets files.

Every size that untrusted bytes declare (image size, cell and proof counts, proof bytes,
array shapes) is compared with these bounds *before* anything of that size is allocated
or enumerated; exceeding one raises :class:`~zkimg.errors.InvalidBundle` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .errors import InvalidParameter


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what a parser accepts. Defaults admit 8K UHD images (7680×4320,
    33 M pixels) with 4 px tiles' worth of cells to spare; raise them deliberately."""

    max_bundle_bytes: int = 256 << 20  # a bundle file or string, in bytes
    max_image_pixels: int = 1 << 26  # width × height of the declared original (67 M)
    max_cells: int = 1 << 20  # committed cells of the declared layout
    max_proofs: int = 1 << 18  # tile proofs in one bundle, all segments together
    max_proof_bytes: int = 1 << 16  # one decoded tile proof (ezkl's are ≈ 5 KB here)
    max_pipeline_steps: int = 64

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InvalidParameter(f.name, f"must be a positive integer, got {v!r}")


DEFAULT_LIMITS = Limits()

"""Resource limits for untrusted input: bundles, tile proofs, capture records and secrets.

Every size that untrusted bytes declare (image size, cell and proof counts, proof bytes,
array shapes, the work a declared pipeline and plan imply) is compared with these bounds
*before* anything of that size is allocated, enumerated or built; exceeding one raises
:class:`~zkimg.errors.InvalidBundle` naming it. ``verify()`` orders its work by cost (see
its docstring), so a bundle is refused by the cheapest check that can refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .errors import InvalidParameter


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what a parser or the verifier accepts; raise them deliberately.

    The defaults admit a 1280×720 frame in 4 px tiles and an 8K UHD frame (7680×4320) in
    32 px tiles (border 2: 9 cells a tile), the shipped pipelines on them, and tile jobs of
    up to 2^17 rows (the shipped workloads need 2^16; two 64 px tiles a job, 2^17).
    """

    max_bundle_bytes: int = 256 << 20  # a bundle, capture record or manifest payload, in bytes
    max_image_pixels: int = 1 << 26  # width × height of the declared original (67 M)
    max_cells: int = 1 << 20  # committed cells of the declared layout
    max_proofs: int = 1 << 18  # tile proofs (= planned jobs) in one bundle, all segments together
    max_proof_bytes: int = 1 << 16  # one decoded tile proof (ezkl's are ≈ 3–6 KB here)
    max_pipeline_steps: int = 64
    #: Index visits planning may make: building the steps' primitives, finding each output
    #: row's and column's anchor, and restricting the pipeline to every job's window — an
    #: upper bound computed arithmetically from the declared pipeline and plan (``Plan.work``).
    max_plan_work: int = 1 << 23
    max_job_values: int = 1 << 16  # hashed input plus output values of one tile job (≈ 5 rows each)
    max_circuits: int = 64  # distinct circuits (each a compile and a key setup) in one bundle
    max_logrows: int = 17  # rows of one circuit, 2^max_logrows; checked after compile, before setup

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InvalidParameter(f.name, f"must be a positive integer, got {v!r}")


DEFAULT_LIMITS = Limits()

"""Every bound zkimg enforces, in one place.

Two kinds:

* **Format bounds** (module constants): what the formats and circuits can represent at all —
  an image side, channels, a tile job's values, a circuit's rows. Constructors and parsers
  refuse anything beyond them whatever the caller's policy.
* **Policy bounds** (:class:`Limits`): what a parser or the verifier accepts from untrusted
  bytes. Each is at most its format bound (checked on construction). Every size a bundle
  declares (image size, cell and proof counts, proof bytes, array shapes, the work a declared
  pipeline and plan imply) is compared with these *before* anything of that size is
  allocated, enumerated or built; exceeding one raises the reader's
  :class:`~zkimg.errors.MalformedInput` naming it (``InvalidBundle`` for bundles,
  ``InvalidRecord`` for capture records and secrets). ``verify()`` orders its work by cost, so a bundle is refused by the cheapest
  check that can refuse it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from .errors import InvalidParameter

# --------------------------------------------------------------------------- format bounds
MAX_SIDE = 1 << 16  #: largest image side (px) accepted anywhere
MAX_CHANNELS = 4  #: channels of an image (grey, grey+alpha, RGB, RGBA)
MAX_PIPELINE_STEPS = 64  #: transforms in one pipeline
MAX_BOXES = 16  #: rectangles one region edit names
MAX_CELLS = 1 << 20  #: committed cells of one tile layout
MAX_JOB_ELEMENTS = 1 << 22  #: input values of one tile job
MAX_TILE = 4096  #: side (px) of a capture tile
MAX_OUTPUT_TILE = 4096  #: side (px) of the output tile one proof covers
MAX_TILES_PER_JOB = 16  #: output tiles along a row that one proof covers
MAX_PROOF_BYTES = 1 << 20  #: one tile proof, decoded
MAX_LOGROWS = 24  #: rows of one circuit, as 2^logrows (ezkl's SRS files go to 2^26)
MAX_KEY_BYTES = 16 * 1024  #: a camera or public key file (PEM or DER)
MAX_PIPELINE_BYTES = 1 << 20  #: a pipeline file or pipeline JSON text
MAX_PEM_BYTES = 1 << 20  #: a C2PA certificate chain, signing key or trust-anchor file

#: The format bound of each :class:`Limits` field that has one.
_CEILINGS = {"max_cells": MAX_CELLS, "max_proof_bytes": MAX_PROOF_BYTES,
             "max_pipeline_steps": MAX_PIPELINE_STEPS, "max_logrows": MAX_LOGROWS,
             "max_image_pixels": MAX_SIDE * MAX_SIDE, "max_job_values": 2 * MAX_JOB_ELEMENTS}


@dataclass(frozen=True)
class Limits:
    """Upper bounds on what a parser or the verifier accepts; raise them deliberately.

    The defaults admit a 1280×720 frame in 4 px tiles and an 8K UHD frame (7680×4320) in
    32 px tiles (border 2: 291,600 cells), the shipped pipelines on them, and tile jobs of up to 2^17 rows
    (the shipped workloads need 2^16; two 64 px tiles a job, 2^17) and 2^17 values (the README
    example under KZG at ``logrows=15``, two 96 px tiles a job, reads 72,624).
    """

    max_bundle_bytes: int = 256 << 20  # a bundle, capture record or manifest payload, in bytes
    max_image_pixels: int = 1 << 26  # width × height of the declared original (67 M)
    max_cells: int = MAX_CELLS  # committed cells of the declared layout
    max_proofs: int = 1 << 18  # tile proofs (= planned jobs) in one bundle, all segments together
    max_proof_bytes: int = 1 << 16  # one decoded tile proof (ezkl's are ≈ 3–6 KB here)
    max_pipeline_steps: int = MAX_PIPELINE_STEPS
    #: Index visits planning may make: building the steps' primitives, finding each output
    #: row's and column's anchor, and restricting the pipeline to every job's window — an
    #: upper bound computed arithmetically from the declared pipeline and plan (``Plan.work``).
    max_plan_work: int = 1 << 23
    max_job_values: int = 1 << 17  # hashed (Poseidon) or read (KZG) input plus output values of one tile job
    max_circuits: int = 64  # distinct circuits (each a compile and a key setup) in one bundle
    max_logrows: int = 17  # rows of one circuit, 2^max_logrows; checked after compile, before setup

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InvalidParameter(f.name, f"must be a positive integer, got {v!r}")
            ceiling = _CEILINGS.get(f.name)
            if ceiling is not None and v > ceiling:
                raise InvalidParameter(f.name, f"must be at most {ceiling:,} (a format bound), got {v:,}")


DEFAULT_LIMITS = Limits()

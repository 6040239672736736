"""The attestation bundle: a versioned, self-describing, canonical JSON document, saved
gzip-compressed (:meth:`Attestation.save`; both forms load).

It holds the pipeline, the camera's signed capture record (layout, cell commitments, root,
signature, public key), the plan parameters, the SRS digests, and one proof per tile job
(base64) without its public instances — never pixels, salts or keys of any circuit. Its size grows
with the number of tiles, not pixels. Every field is validated on load; anything
malformed raises :class:`~zkimg.errors.InvalidBundle`.
"""

from __future__ import annotations

import base64
import gzip
import re
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

from ._codec import canonical_json, parse_json, require_keys
from ._fileio import read_bounded
from ._validate import check_hex64
from .camera import SignedCapture
from .errors import InvalidBundle, MalformedInput
from .hazmat.commitments import CommitmentScheme
from .hazmat.plan import DEFAULT_TILES_PER_JOB
from .limits import DEFAULT_LIMITS, MAX_LOGROWS, MAX_OUTPUT_TILE, MAX_SIDE, MAX_TILES_PER_JOB, Limits
from .pipeline import Pipeline

MEDIA_TYPE = "application/vnd.zkimg.attestation+json"
SCHEMA_VERSION = 2  # 2: plan.tiles_per_job
_GZIP_MAGIC = b"\x1f\x8b"
_LOGROWS = re.compile(r"[0-9]{1,2}")  # ASCII digits (str.isdigit() admits "²", which int() refuses)


@dataclass(frozen=True)
class Segment:
    """Proofs of consecutive pipeline steps proved together.

    ``output_commitments``: for a hidden intermediate, one commitment per tile of the
    intermediate image (the next segment's inputs); for the final segment, one per output
    tile if the output is hidden, else ``None``.
    """

    steps: int
    proofs: Tuple[bytes, ...]
    output_commitments: Optional[Tuple[int, ...]] = None


@dataclass(frozen=True)
class Attestation:
    """What :func:`zkimg.prove` produces and :func:`zkimg.verify` checks."""

    pipeline: Pipeline
    capture: SignedCapture
    max_out: int
    output_shape: Tuple[int, int, int]
    srs_digests: Dict[int, str]  # logrows → SHA-256 of the SRS file used
    development_srs: bool
    segments: Tuple[Segment, ...]
    output_salts: Optional[Tuple[bytes, ...]] = field(default=None, repr=False, compare=False)  # secret, never saved
    tiles_per_job: int = DEFAULT_TILES_PER_JOB  # plan parameter: input tiles along the width per job

    @property
    def hidden_output(self) -> bool:
        return self.segments[-1].output_commitments is not None

    @property
    def output_commitments(self) -> Optional[Tuple[int, ...]]:
        return self.segments[-1].output_commitments

    @property
    def proofs(self) -> Tuple[bytes, ...]:
        return tuple(p for seg in self.segments for p in seg.proofs)

    def to_json(self) -> Dict[str, Any]:
        c = self.capture
        return {
            "media_type": MEDIA_TYPE,
            "schema_version": SCHEMA_VERSION,
            "pipeline": self.pipeline.to_json(),
            "capture": c.to_json(),
            "plan": {"max_out": self.max_out, "tiles_per_job": self.tiles_per_job},
            "output_shape": list(self.output_shape),
            "srs": {"development": self.development_srs,
                    "digests": {str(k): v for k, v in sorted(self.srs_digests.items())}},
            "segments": [{
                "steps": seg.steps,
                "proofs": [base64.b64encode(p).decode() for p in seg.proofs],
                "output_commitments": (None if seg.output_commitments is None
                                       else [c.layout.scheme.commitment_to_hex(x) for x in seg.output_commitments]),
            } for seg in self.segments],
        }

    def dumps(self, compress: bool = False) -> bytes:
        """The canonical JSON document; with ``compress``, that document gzip-compressed
        (deterministically: no file name, mtime 0) — the form :meth:`save` writes, about a
        quarter smaller (the proofs' base64 shrinks back to about their raw size)."""
        data = canonical_json(self.to_json())
        return gzip.compress(data, compresslevel=9, mtime=0) if compress else data

    def save(self, path: str | Path, compress: bool = True) -> None:
        Path(path).write_bytes(self.dumps(compress))

    @classmethod
    def load(cls, path: str | Path, limits: Limits = DEFAULT_LIMITS) -> "Attestation":
        """Read and validate a bundle file (sizes checked against ``limits`` first)."""
        return cls.loads(read_bounded(path, limits.max_bundle_bytes, "bundle", InvalidBundle), limits)

    @classmethod
    def loads(cls, data: str | bytes, limits: Limits = DEFAULT_LIMITS) -> "Attestation":
        """Parse and validate bundle bytes (the JSON document, or its gzip form); anything
        malformed or over ``limits`` is InvalidBundle. ``limits.max_bundle_bytes`` bounds both
        the compressed and the decompressed size."""
        if isinstance(data, (bytes, bytearray)) and bytes(data[:2]) == _GZIP_MAGIC:
            if len(data) > limits.max_bundle_bytes:
                raise InvalidBundle(f"bundle larger than max_bundle_bytes={limits.max_bundle_bytes}")
            data = _gunzip(bytes(data), limits.max_bundle_bytes)
        return cls.from_json(parse_json(data, limits.max_bundle_bytes, "attestation bundle", InvalidBundle), limits)

    @classmethod
    def from_json(cls, d: Any, limits: Limits = DEFAULT_LIMITS) -> "Attestation":
        require_keys(d, {"media_type", "schema_version", "pipeline", "capture", "plan", "output_shape", "srs", "segments"},
                     "bundle", InvalidBundle)
        if d["media_type"] != MEDIA_TYPE:
            raise InvalidBundle(f"not a zkimg attestation (media type {d['media_type']!r})")
        if d["schema_version"] != SCHEMA_VERSION or isinstance(d["schema_version"], (bool, float)):
            raise InvalidBundle(f"unsupported schema version {d['schema_version']!r}")
        steps = d["pipeline"].get("steps") if isinstance(d["pipeline"], dict) else None
        if isinstance(steps, list) and len(steps) > limits.max_pipeline_steps:
            raise InvalidBundle(f"more than max_pipeline_steps={limits.max_pipeline_steps} steps")
        with _part_of_bundle("pipeline"):
            pipeline = Pipeline.from_json(d["pipeline"])
        with _part_of_bundle("capture"):
            capture = SignedCapture.from_json(d["capture"], limits)
        require_keys(d["plan"], {"max_out", "tiles_per_job"}, "plan", InvalidBundle)
        for key, hi in (("max_out", MAX_OUTPUT_TILE), ("tiles_per_job", MAX_TILES_PER_JOB)):
            v = d["plan"][key]
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= hi:
                raise InvalidBundle(f"plan.{key} must be an integer in [1, {hi}]")
        max_out, tiles_per_job = d["plan"]["max_out"], d["plan"]["tiles_per_job"]
        shape = d["output_shape"]
        if (not isinstance(shape, list) or len(shape) != 3
                or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIDE for v in shape)):
            raise InvalidBundle("output_shape must be [height, width, channels]")
        srs = d["srs"]
        require_keys(srs, {"development", "digests"}, "srs", InvalidBundle)
        if not isinstance(srs["development"], bool) or not isinstance(srs["digests"], dict) or len(srs["digests"]) > MAX_LOGROWS:
            raise InvalidBundle("malformed srs record")
        digests: Dict[int, str] = {}
        for k, v in srs["digests"].items():
            if not (isinstance(k, str) and _LOGROWS.fullmatch(k) and 1 <= int(k) <= MAX_LOGROWS):
                raise InvalidBundle(f"srs digests map logrows in [1, {MAX_LOGROWS}] to 64 hex digits")
            digests[int(k)] = check_hex64(v, f"srs digest for logrows {k}", InvalidBundle)
        segs = d["segments"]
        if not isinstance(segs, list) or not 1 <= len(segs) <= len(pipeline):
            raise InvalidBundle("segments must be a non-empty list, at most one per pipeline step")
        if sum(len(seg["proofs"]) for seg in segs if isinstance(seg, dict) and isinstance(seg.get("proofs"), list)) \
                > limits.max_proofs:
            raise InvalidBundle(f"more than max_proofs={limits.max_proofs} proofs")
        segments = tuple(_segment(seg, i == len(segs) - 1, limits, capture.layout.scheme) for i, seg in enumerate(segs))
        if sum(seg.steps for seg in segments) != len(pipeline):
            raise InvalidBundle("segment step counts must add up to the pipeline's length")
        return cls(pipeline, capture, max_out, (shape[0], shape[1], shape[2]), digests, srs["development"],
                   segments, tiles_per_job=tiles_per_job)


@contextmanager
def _part_of_bundle(part: str) -> Iterator[None]:
    """A malformed part (pipeline, capture record) makes the bundle malformed: re-raised as
    InvalidBundle naming the part, the part's own error kept as the cause."""
    try:
        yield
    except MalformedInput as e:
        if isinstance(e, InvalidBundle):
            raise
        raise InvalidBundle(f"{part}: {e}") from e


def _gunzip(data: bytes, limit: int) -> bytes:
    """Exactly one gzip member, inflated to at most ``limit`` bytes (CRC and length checked
    by zlib); anything else is InvalidBundle."""
    inflater = zlib.decompressobj(wbits=31)  # gzip framing only
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as e:
        raise InvalidBundle(f"corrupt compressed bundle: {e}") from e
    if len(out) > limit:
        raise InvalidBundle(f"compressed bundle inflates past max_bundle_bytes={limit}")
    if not inflater.eof or inflater.unused_data:
        raise InvalidBundle("compressed bundle is truncated or has trailing bytes")
    return out


def _segment(d: Any, last: bool, limits: Limits, scheme: CommitmentScheme) -> Segment:
    """One segment; its output commitments are in the capture's scheme (intermediates are
    committed as the capture's cells are)."""
    require_keys(d, {"steps", "proofs", "output_commitments"}, "segment", InvalidBundle)
    steps = d["steps"]
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise InvalidBundle("segment steps must be a positive integer")
    proofs = d["proofs"]
    if not isinstance(proofs, list) or not proofs:  # the total is bounded by the caller
        raise InvalidBundle("proofs must be a non-empty list")
    out = []
    for p in proofs:
        if not isinstance(p, str) or not 0 < len(p) <= -(-limits.max_proof_bytes // 3) * 4:
            raise InvalidBundle(f"each proof is a non-empty base64 string of at most max_proof_bytes="
                                f"{limits.max_proof_bytes} bytes")
        try:
            raw = base64.b64decode(p, validate=True)
        except ValueError as e:
            raise InvalidBundle("proof is not base64") from e
        if base64.b64encode(raw).decode() != p:
            raise InvalidBundle("proof is not canonical base64")
        out.append(raw)
    commitments = d["output_commitments"]
    outs = None
    if commitments is not None:
        if not isinstance(commitments, list) or len(commitments) != len(out):
            raise InvalidBundle("output_commitments must list one commitment per proof")
        outs = tuple(scheme.commitment_from_hex(c, "an output commitment", InvalidBundle) for c in commitments)
    elif not last:
        raise InvalidBundle("an intermediate segment must list its output commitments")
    return Segment(steps, tuple(out), outs)


__all__ = ["Attestation", "Segment", "MEDIA_TYPE", "SCHEMA_VERSION"]

"""Verification: one tile proof (:func:`verify_tile`) or a whole attestation (:func:`verify`).
The verifier rebuilds circuits and keys from the jobs it expects, computes every public
instance itself, never uses a key or an instance supplied by the prover, and orders its work
by cost so that a hostile bundle is refused by the cheapest check that can refuse it."""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .camera import PublicKey
from .circuits import Circuit, CircuitStore, Keys, weakest_trust
from .commitments import hash_public
from .errors import (CircuitMismatch, CommitmentMismatch, InvalidBundle, InvalidImage, InvalidParameter,
                     OutputMismatch, ProofInvalid, SRSMismatch, UntrustedKey)
from .limits import DEFAULT_LIMITS, Limits
from .lowering import CircuitSpec, TileJob
from .pipeline import Pipeline
from .plan import chain_plans
from .pool import executor_for
from .progress import ProgressCallback, report
from .prove import TileProof, ezkl_proof_json
from .transforms import check_image

if TYPE_CHECKING:
    from .bundle import Attestation


@dataclass(frozen=True)
class TileVerification:
    """What an accepted tile proof established."""

    job: TileJob
    input_commitment: int
    output_commitment: int  # the hidden output's commitment, or the public output's hash
    development_srs: bool


def verify_tile(proof: TileProof, job: TileJob, *, input_commitment: int,
                output: Optional[np.ndarray] = None, output_commitment: Optional[int] = None,
                store: Optional[CircuitStore] = None) -> TileVerification:
    """Check that ``proof`` shows ``job`` maps the input committed as ``input_commitment``
    to ``output`` (public) or to the output committed as ``output_commitment`` (hidden).

    Returns a :class:`TileVerification`; raises a :class:`~zkimg.errors.VerificationError`
    subclass naming the first failed check. Never returns a falsy value.
    """
    store = store if store is not None else CircuitStore()
    # 1. The proof must claim exactly the job the verifier expects.
    if proof.job != job:
        raise CircuitMismatch(f"proof is for job {proof.job.digest[:16]}, expected {job.digest[:16]}")
    # 2. Circuit and keys are rebuilt from the expected job alone.
    circuit = store.circuit(job)
    keys = store.keys(circuit, proving=False)
    # 3. Same SRS as the prover's.
    if proof.srs_digest != keys.srs_digest:
        raise SRSMismatch(f"proof used SRS {proof.srs_digest[:16]}, verifier has {keys.srs_digest[:16]}")
    # 4. The input commitment comes from the caller (e.g. the camera's signed list).
    if proof.input_commitment != input_commitment:
        raise CommitmentMismatch("the proof's input commitment is not the expected one")
    # 5. The output instance is computed here, from the published pixels or given commitment.
    if job.hidden_output:
        if output is not None or output_commitment is None:
            raise OutputMismatch("a hidden-output job is verified against an output commitment, not pixels")
        if proof.output_commitment != output_commitment:
            raise CommitmentMismatch("the proof's output commitment is not the expected one")
        out_instance = output_commitment
    else:
        if output_commitment is not None:
            raise OutputMismatch("a public-output job is verified against the published pixels")
        out_instance = hash_public(_published(output, job.output_shape))
    # 6. The proof itself, against the verifier's own instances, key and SRS.
    check_proof(circuit, keys, proof.proof, (input_commitment, out_instance))
    return TileVerification(job, input_commitment, out_instance, store.srs.development)  # the verifier's SRS


def _published(image: Optional[np.ndarray], shape: Tuple[int, int, int]) -> np.ndarray:
    """The published output, checked to be a uint8 array of the planned ``shape``."""
    if image is None:
        raise OutputMismatch("the output is public: pass the published image")
    try:
        check_image(image, "published")
    except InvalidImage as e:
        raise OutputMismatch(str(e)) from e
    if image.shape != shape:
        raise OutputMismatch(f"published image is {image.shape}, the pipeline makes {shape}")
    return image


def check_proof(circuit: Circuit, keys: Keys, proof: bytes, instances: Sequence[int], what: str = "proof") -> None:
    """Run ezkl's verifier on ``proof`` with instances, key and SRS all supplied by the verifier."""
    import ezkl

    with tempfile.TemporaryDirectory(prefix="zkimg-verify-") as tmp:
        path = Path(tmp) / "proof.json"
        path.write_text(json.dumps(ezkl_proof_json(proof, tuple(instances))))
        try:
            ok = ezkl.verify(str(path), str(circuit.settings_path), str(keys.vk_path), srs_path=str(keys.srs_path))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # ezkl reports a failed proof as an exception or a panic
            raise ProofInvalid(f"{what} does not verify: {e}") from e
    if ok is not True:
        raise ProofInvalid(f"{what} does not verify")


#: ``verify()`` checks proofs on a local process pool from this many tiles on (ezkl's
#: verifier holds the GIL and reloads key and SRS on every call, ≈ 20–100 ms per proof).
PARALLEL_VERIFY_TILES = 64
#: Proofs queued before they are checked (a batch for the pool); a batch is also checked
#: before each new circuit is built, so a bad proof costs at most one circuit setup.
VERIFY_BATCH = 4 * PARALLEL_VERIFY_TILES

#: (circuit, keys, proof, input instances, output instance or the public pixels it hashes, name)
_ProofCheck = Tuple[Circuit, Keys, bytes, Tuple[int, ...], "int | np.ndarray", str]


def _check(circuit: Circuit, keys: Keys, proof: bytes, inputs: Tuple[int, ...], output: "int | np.ndarray",
           what: str) -> None:
    """:func:`check_proof`, hashing a public output tile first (in the worker, in parallel)."""
    out_instance = hash_public(output) if isinstance(output, np.ndarray) else output
    check_proof(circuit, keys, proof, inputs + (out_instance,), what)


class _ProofQueue:
    """Tile proofs waiting to be checked, in plan order; :meth:`flush` checks them (on ``pool``
    if any) and raises the first failure in that order."""

    def __init__(self, pool: Optional[Executor], total: int, progress: Optional[ProgressCallback]) -> None:
        self.pool, self.total, self.progress = pool, total, progress
        self.pending: List[_ProofCheck] = []
        self.done = 0
        report(progress, "verify", 0, total)

    def add(self, check: _ProofCheck) -> None:
        self.pending.append(check)
        if len(self.pending) >= VERIFY_BATCH:
            self.flush()

    def flush(self) -> None:
        checks, self.pending = self.pending, []
        if self.pool is None:
            for check in checks:
                _check(*check)
                self._tick()
            return
        futures = [self.pool.submit(_check, *check) for check in checks]
        try:
            for f in futures:
                f.result()
                self._tick()
        finally:
            for f in futures:  # after a failure, checks not yet started are not run
                f.cancel()

    def _tick(self) -> None:
        self.done += 1
        report(self.progress, "verify", self.done, self.total)


@dataclass(frozen=True)
class Verification:
    """What an accepted attestation established (``verify`` never returns anything falsy).

    ``srs_trust`` is the weakest trust of the SRS files the proofs were checked with, judged by
    the verifier's own files: ``"ceremony"`` (SHA-256 equals the published digest of ezkl's
    public ceremony file), ``"pinned"`` (equals a digest the caller pinned), ``"unpinned"``
    (neither: whoever made the file may know its trapdoor) or ``"development"`` (generated
    locally: not trustworthy). Anything but ceremony or pinned deserves a warning.
    """

    pipeline: Pipeline
    input_size: Tuple[int, int, int]  # height, width, channels of the hidden original
    output_size: Tuple[int, int, int]
    camera_key_id: str
    root: int
    tiles: int
    development_srs: bool
    hidden_output: bool
    srs_trust: str


def _limit(value: int, bound: int, name: str, what: str) -> None:
    if value > bound:
        raise InvalidBundle(f"{what} ({value:,}) exceeds {name}={bound:,}")


def verify(attestation: "Attestation | str | Path | bytes", published: Optional[np.ndarray], *,
           trusted_keys: Iterable[PublicKey], store: Optional[CircuitStore] = None,
           limits: Limits = DEFAULT_LIMITS, progress: Optional[ProgressCallback] = None,
           executor: Optional[Executor] = None) -> Verification:
    """Check an attestation against the published image and the trusted camera keys.

    Work is ordered by cost, so a hostile bundle is refused by the cheapest check that can
    refuse it. In order (the first failure raises the named error): a path or bytes are parsed
    under ``limits`` (:class:`zkimg.Limits`; ``InvalidBundle``); the camera key is trusted
    (``UntrustedKey``); it signed the declared layout and root (``SignatureInvalid``); the cell
    commitments hash to that root (``RootMismatch``); the published image has the declared size
    (``OutputMismatch``; for a hidden output pass ``published=None``: the bundle's output
    commitments stand in for it); the bundle's development-SRS flag is the verifier's
    (``SRSMismatch``); per segment, the planning work the declared pipeline implies is within
    ``limits.max_plan_work``, the bundle has one proof per planned job, counted without
    building a job (``InvalidBundle``), and no job exceeds ``limits.max_job_values``
    (``InvalidBundle``). Then the jobs are built one at a time: a job needing a new circuit
    first has every queued proof checked; then, within ``limits.max_circuits``, its circuit is
    compiled here from the job alone, within ``limits.max_logrows`` (``InvalidBundle``); the
    bundle must record an SRS for that circuit's size (``CircuitMismatch``) equal to the
    verifier's (``SRSMismatch``); only then is it keyed, and its proofs queued. Every tile proof verifies
    against the verifier's circuit, key and SRS and instances computed here from the signed
    cell commitments, the bundle's commitments of hidden tiles and the published pixels
    (``ProofInvalid``). So a bundle whose first proof is not genuine costs one circuit setup.
    ``progress("verify", done, total)`` is called as tile proofs are checked. Proofs are
    checked on ``executor`` (any ``concurrent.futures.Executor``; by default a local process
    pool from :data:`PARALLEL_VERIFY_TILES` tiles on, else in this process); the first failing
    tile in plan order is the one reported.
    """
    from .bundle import Attestation

    if not isinstance(limits, Limits):
        raise InvalidParameter("limits", "expected a zkimg.Limits")
    if isinstance(attestation, (str, Path)):
        attestation = Attestation.load(attestation, limits)
    elif isinstance(attestation, (bytes, bytearray)):
        attestation = Attestation.loads(bytes(attestation), limits)
    if not isinstance(attestation, Attestation):
        raise InvalidParameter("attestation", "expected an Attestation, a path or bundle bytes")
    store = store if store is not None else CircuitStore()
    cap = attestation.capture
    trusted = list(trusted_keys)
    if not any(isinstance(k, PublicKey) and k == cap.camera_key for k in trusted):
        raise UntrustedKey(f"camera key {cap.camera_key.key_id[:16]}… is not trusted")
    cap.check_signature()  # cheap, before anything the record declares is hashed
    _limit(cap.layout.cell_count, limits.max_cells, "max_cells", "cells of the signed layout")
    cap.check_root()
    hidden = attestation.hidden_output
    input_shape = (cap.layout.height, cap.layout.width, cap.layout.channels)
    final_shape = attestation.pipeline.output_shape(input_shape)
    if tuple(attestation.output_shape) != final_shape:
        raise OutputMismatch(f"bundle declares output {attestation.output_shape}, the pipeline makes {final_shape}")
    if hidden:
        if published is not None:
            raise OutputMismatch("this attestation hides its output: verify it with published=None")
    else:
        published = _published(published, final_shape)
    if attestation.development_srs != store.srs.development:  # reported from the verifier's SRS, not the bundle
        raise SRSMismatch(f"bundle says development SRS = {attestation.development_srs}, the verifier's is "
                          f"{store.srs.development}")
    plans = chain_plans(attestation.pipeline, cap.layout, hidden_output=hidden, max_out=attestation.max_out,
                        segments=[seg.steps for seg in attestation.segments],
                        tiles_per_job=attestation.tiles_per_job)
    for i, (plan, seg) in enumerate(zip(plans, attestation.segments)):  # arithmetic only: no job is built
        _limit(plan.anchor_work, limits.max_plan_work, "max_plan_work", f"segment {i}'s planning work")
        if len(seg.proofs) != plan.job_count:
            raise InvalidBundle(f"segment {i} has {len(seg.proofs)} proofs for {plan.job_count} planned tiles")
        _limit(plan.max_job_values, limits.max_job_values, "max_job_values", f"segment {i}'s largest job")
    total = sum(len(seg.proofs) for seg in attestation.segments)
    circuits: Dict[CircuitSpec, Tuple[Circuit, Keys]] = {}
    trust: List[str] = []
    inputs = cap.cell_commitments
    with executor_for(executor, total, PARALLEL_VERIFY_TILES) as pool:
        queue = _ProofQueue(pool, total, progress)
        for i, (plan, seg) in enumerate(zip(plans, attestation.segments)):
            for job, proof in zip(plan.iter_jobs(), seg.proofs):
                if job.spec not in circuits:
                    queue.flush()  # a bad proof already queued costs no further setup
                    _limit(len(circuits) + 1, limits.max_circuits, "max_circuits", "distinct circuits")
                    circuits[job.spec] = _circuit_for(store, job.spec, attestation.srs_digests, limits, job.index)
                    trust.append(store.srs.trust(circuits[job.spec][0].logrows))
                circuit, keys = circuits[job.spec]
                output: "int | np.ndarray"  # the output instance, or the pixels it is hashed from
                if seg.output_commitments is not None:  # hidden: intermediate tile or hidden output tile
                    output = seg.output_commitments[job.index]
                else:
                    assert published is not None
                    output = np.ascontiguousarray(published[job.rows[0]:job.rows[1], job.cols[0]:job.cols[1]])
                queue.add((circuit, keys, proof, tuple(inputs[k] for k in job.cells), output,
                           f"segment {i} tile {job.index} proof"))
            if i < len(plans) - 1:  # chain link: this segment's output commitments are the next one's inputs
                assert seg.output_commitments is not None and len(seg.output_commitments) == plans[i + 1].layout.cell_count
                inputs = seg.output_commitments
        queue.flush()
    return Verification(attestation.pipeline, input_shape, final_shape, cap.camera_key.key_id,
                        cap.root, total, store.srs.development, hidden, weakest_trust(trust))


def _circuit_for(store: CircuitStore, spec: CircuitSpec, claimed: Dict[int, str], limits: Limits,
                 index: int) -> Tuple[Circuit, Keys]:
    """The verifier's own circuit and verifying key for ``spec``, after the size and SRS checks."""
    circuit = store.circuit(spec)
    _limit(circuit.logrows, limits.max_logrows, "max_logrows", f"tile {index}'s circuit logrows")
    claimed_srs = claimed.get(circuit.logrows)
    if claimed_srs is None:  # no proof in the bundle was made for a circuit of this size
        raise CircuitMismatch(f"tile {index}: its circuit has 2^{circuit.logrows} rows, and the bundle "
                              f"records no proof made for that size")
    if claimed_srs != store.srs.digest(circuit.logrows):  # before the setup
        raise SRSMismatch(f"tile {index} was proved with another SRS for logrows {circuit.logrows}")
    return circuit, store.keys(circuit, proving=False)

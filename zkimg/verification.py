"""Verification of a whole attestation (:func:`verify`; one tile: :mod:`zkimg.hazmat.verifying`).
The verifier rebuilds circuits and keys from the jobs it expects, computes every public
instance itself, never uses a key or an instance supplied by the prover, and orders its work
by cost so that a hostile bundle is refused by the cheapest check that can refuse it."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

import numpy as np

from ._pool import PoolOnDemand
from .errors import (
    CircuitMismatch,
    InvalidBundle,
    InvalidParameter,
    LinkInvalid,
    OutputMismatch,
    ProofInvalid,
    SRSMismatch,
    TileCountMismatch,
    VerificationError,
)
from .hazmat.circuits import Circuit, CircuitStore, Keys, sha256_file, weakest_trust
from .hazmat.commitments import CommitmentScheme, ProofContext
from .hazmat.lowering import CircuitSpec
from .hazmat.plan import chain_plans
from .hazmat.verifying import check_proof, check_published
from .limits import DEFAULT_LIMITS, Limits
from .pipeline import Pipeline
from .policy import VerificationPolicy
from .progress import ProgressCallback, report

if TYPE_CHECKING:
    from .bundle import Attestation


#: Without an executor, ``verify()`` checks proofs in this process until the ones left would
#: take longer than this (seconds), then on a local process pool. ezkl's verifier holds the GIL
#: and reloads key and domain on every call. A pool of 2 checks its first proof ≈ 1 s after it
#: starts (0.55 s to spawn, 0.4 s to import zkimg), then twice as fast as one process: it pays
#: from about 2 s of work on. So a 720p bundle (60–900 proofs) is checked on the pool, a
#: handful of small ones here.
POOL_AFTER_S = 2.0
#: What checking a proof is taken to cost until one is measured: seconds per row of its
#: circuit's ``2^K`` (measured on one core: 0.06–0.13 s at 2^14, ≈ 0.01 s at 2^10), so that
#: a pool a large bundle needs starts before the first proof, while the parent still plans.
VERIFY_S_PER_ROW = 3e-6
#: Proofs queued before they are checked (a batch for the pool); a batch is also checked
#: before each new circuit is built, so a bad proof costs at most one circuit setup.
VERIFY_BATCH = 256

#: (scheme, circuit, keys, proof record, input instances, output instance or the public pixels it
#: hashes, name, what the scheme binds the proof to)
_ProofCheck = Tuple[CommitmentScheme, Circuit, Keys, bytes, Tuple[int, ...], "int | np.ndarray", str,
                    Optional[ProofContext]]


def _check(scheme: CommitmentScheme, circuit: Circuit, keys: Keys, record: bytes, inputs: Tuple[int, ...],
           output: "int | np.ndarray", what: str, context: Optional[ProofContext]) -> None:
    """:func:`check_proof`, after the scheme's own checks (the KZG links) and hashing a public
    output tile (in the worker, in parallel). A public tile that fails says where and why it
    most likely failed: its published pixels are checked by this very proof, so a re-encoded
    or edited image fails here."""
    proof = record
    if context is not None:
        try:
            proof = scheme.open(record, dataclasses.replace(context, srs_path=keys.srs_path))
        except VerificationError as e:
            raise type(e)(f"{what}: {e}") from e
    if not isinstance(output, np.ndarray):
        check_proof(circuit, keys, proof, scheme.instances(inputs, output), what)
        return
    try:
        check_proof(circuit, keys, proof, scheme.public_instances(inputs, output), what)
    except ProofInvalid as e:
        raise ProofInvalid(f"{what}: the published pixels there are not the ones proved (or the proof is corrupt); "
                           "was the image re-encoded (JPEG, a colour profile), resized or edited after proving?"
                           ) from e.__cause__


def _ready() -> None:
    """A pool worker's first task: nothing (unpickling it imports this module, and so zkimg,
    while the parent is still planning)."""


class _ProofQueue:
    """Tile proofs waiting to be checked, in plan order; :meth:`flush` checks them and raises
    the first failure in that order. They are checked on ``executor`` if the caller gave one;
    else here while that is cheaper, then on ``pool`` (:data:`POOL_AFTER_S`)."""

    def __init__(self, executor: Optional[Executor], pool: PoolOnDemand, total: int,
                 progress: Optional[ProgressCallback]) -> None:
        self.executor, self.pool, self.total, self.progress = executor, pool, total, progress
        self.pending: List[_ProofCheck] = []
        self.done = 0
        self.here_s, self.here = 0.0, 0  # time and count of the proofs checked in this process
        report(progress, "verify", 0, total)

    def add(self, check: _ProofCheck) -> None:
        self.pending.append(check)
        self._executor(check)  # a pool the bundle needs starts now, while the parent plans on
        if len(self.pending) >= VERIFY_BATCH:
            self.flush()

    def _executor(self, check: _ProofCheck) -> Optional[Executor]:
        """Where ``check`` and the rest go: the caller's executor, or the pool once the proofs
        left would take longer than :data:`POOL_AFTER_S` here (at the measured rate, or the
        estimate from ``check``'s circuit before any was measured), else here (``None``)."""
        if self.executor is not None:
            return self.executor
        left = self.total - self.done
        rate = self.here_s / self.here if self.here else VERIFY_S_PER_ROW * 2 ** check[1].logrows
        if self.pool.pool is None and left * rate > POOL_AFTER_S:
            self.pool.start(left, warm=_ready)
        return self.pool.pool

    def flush(self) -> None:
        checks, self.pending = self.pending, []
        while checks and self._executor(checks[0]) is None:
            t = time.perf_counter()
            _check(*checks.pop(0))
            self.here_s += time.perf_counter() - t
            self.here += 1
            self._tick()
        if not checks:
            return
        executor = self._executor(checks[0])
        assert executor is not None
        futures = [executor.submit(_check, *check) for check in checks]
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


def verify(attestation: "Attestation | str | Path | bytes", published: Optional[np.ndarray],
           policy: VerificationPolicy, *, store: Optional[CircuitStore] = None,
           limits: Limits = DEFAULT_LIMITS, progress: Optional[ProgressCallback] = None,
           executor: Optional[Executor] = None) -> Verification:
    """Check an attestation against the published image under ``policy`` (which camera keys
    and which SRS trust to accept, e.g. :class:`zkimg.TrustedCameras`).

    Work is ordered by cost, so a hostile bundle is refused by the cheapest check that can
    refuse it. In order (the first failure raises the named error): a path or bytes are parsed
    under ``limits`` (:class:`zkimg.Limits`; ``InvalidBundle``); the policy trusts the camera
    key (``UntrustedKey``) and, if the verifier's SRS is a development one, opted in to it
    (``UntrustedSRS``); the key signed the declared layout and root (``SignatureInvalid``); the
    bundle's development-SRS flag is the verifier's (``SRSMismatch``); the cell commitments
    hash to that root (``RootMismatch``); the published image has the declared size
    (``OutputMismatch``; for a hidden output pass ``published=None``: the bundle's output
    commitments stand in for it); per segment, the planning work the declared pipeline implies is within
    ``limits.max_plan_work`` (``InvalidBundle``), the bundle has one proof per planned job,
    counted without building a job (``TileCountMismatch``), and no job exceeds ``limits.max_job_values``
    (``InvalidBundle``). Then the jobs are built one at a time: a job needing a new circuit
    first has every queued proof checked; then, within ``limits.max_circuits``, its circuit is
    compiled here from the job alone, within ``limits.max_logrows`` (``InvalidBundle``); the
    bundle must record an SRS for that circuit's size (``CircuitMismatch``) equal to the
    verifier's (``SRSMismatch``), whose trust the policy accepts (``UntrustedSRS``); only then is it keyed, and its proofs queued. Every tile proof verifies
    against the verifier's circuit, key and SRS and instances computed here from the signed
    cell commitments, the bundle's commitments of hidden tiles and the published pixels
    (``ProofInvalid``). So a bundle whose first proof is not genuine costs one circuit setup.
    ``progress("verify", done, total)`` is called as tile proofs are checked. Proofs are
    checked on ``executor`` (any ``concurrent.futures.Executor``); by default in this process
    until the ones left would take longer than :data:`POOL_AFTER_S`, then on a local process
    pool (one process per core, ezkl on one thread each). The first
    failing tile in plan order is the one reported.
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
    if not isinstance(policy, VerificationPolicy):
        raise InvalidParameter("policy", "expected a VerificationPolicy such as zkimg.TrustedCameras(keys)")
    store = store if store is not None else CircuitStore()
    cap = attestation.capture
    policy.check_camera(cap.camera_key)
    if store.srs.development:  # the verifier's own SRS: refused before anything the bundle declares is read
        policy.check_srs("development", "this verifier")
    cap.check_signature()  # cheap, before anything the record declares is hashed
    if attestation.development_srs != store.srs.development:  # reported from the verifier's SRS, not the bundle
        raise SRSMismatch(f"bundle says development SRS = {attestation.development_srs}, the verifier's is "
                          f"{store.srs.development}")
    _limit(cap.layout.cell_count, limits.max_cells, "max_cells", "cells of the signed layout")
    cap.check_root()
    scheme = cap.layout.scheme
    if not scheme.commits_natively:  # the capture signed the SRS its columns are committed under
        _check_capture_srs(store, scheme, policy)
    hidden = attestation.hidden_output
    input_shape = (cap.layout.height, cap.layout.width, cap.layout.channels)
    final_shape = attestation.pipeline.output_shape(input_shape)
    if tuple(attestation.output_shape) != final_shape:
        raise OutputMismatch(f"bundle declares output {attestation.output_shape}, the pipeline makes {final_shape}")
    if hidden:
        if published is not None:
            raise OutputMismatch("this attestation hides its output: verify it with published=None")
    else:
        published = check_published(published, final_shape)
    plans = chain_plans(attestation.pipeline, cap.layout, hidden_output=hidden, max_out=attestation.max_out,
                        segments=[seg.steps for seg in attestation.segments],
                        tiles_per_job=attestation.tiles_per_job)
    for i, (plan, seg) in enumerate(zip(plans, attestation.segments)):  # arithmetic only: no job is built
        _limit(plan.anchor_work, limits.max_plan_work, "max_plan_work", f"segment {i}'s planning work")
        if len(seg.proofs) != plan.job_count:
            raise TileCountMismatch(f"segment {i} has {len(seg.proofs)} proofs for {plan.job_count} planned tiles")
        _limit(plan.max_job_values, limits.max_job_values, "max_job_values", f"segment {i}'s largest job")
    total = sum(len(seg.proofs) for seg in attestation.segments)
    circuits: Dict[CircuitSpec, Tuple[Circuit, Keys]] = {}
    trust: List[str] = []
    points: Set[bytes] = set()  # every re-randomised input point of the bundle (must all differ)
    vk_digests: Dict[CircuitSpec, str] = {}
    inputs = cap.cell_commitments
    with PoolOnDemand(one_thread=True) as pool:
        queue = _ProofQueue(executor, pool, total, progress)
        for i, (plan, seg) in enumerate(zip(plans, attestation.segments)):
            for job, proof in zip(plan.iter_jobs(), seg.proofs):
                if job.spec not in circuits:
                    queue.flush()  # a bad proof already queued costs no further setup
                    _limit(len(circuits) + 1, limits.max_circuits, "max_circuits", "distinct circuits")
                    circuits[job.spec] = _circuit_for(store, job.spec, attestation.srs_digests, limits, policy,
                                                      job.index)
                    trust.append(store.srs.trust(circuits[job.spec][0].logrows))
                circuit, keys = circuits[job.spec]
                output: "int | np.ndarray"  # the output instance, or the pixels it is hashed from
                if seg.output_commitments is not None:  # hidden: intermediate tile or hidden output tile
                    output = seg.output_commitments[job.index]
                else:
                    assert published is not None
                    output = np.ascontiguousarray(published[job.rows[0]:job.rows[1], job.cols[0]:job.cols[1]])
                where = (f"segment {i} tile {job.index}" if seg.output_commitments is not None else
                         f"tile {job.index} (rows {job.rows[0]}–{job.rows[1] - 1}, columns {job.cols[0]}–{job.cols[1] - 1} "
                         "of the published image)")
                context = None
                job_scheme = job.spec.commitment_scheme
                if not job_scheme.commits_natively:  # what the links are bound to (the key: the verifier's)
                    if job.spec not in vk_digests:
                        vk_digests[job.spec] = sha256_file(keys.vk_path)
                    at = circuit.output_point
                    context = ProofContext(cap.root, job.index, job.cells, vk_digests[job.spec],
                                           tuple(inputs[k] for k in job.cells), job.spec.part_sizes,
                                           output=output if isinstance(output, int) and at is not None else None,
                                           output_point=at)
                    for point in job_scheme.proof_points(proof, len(job.cells)):
                        if point in points:
                            raise LinkInvalid(f"{where}: an input point repeats one of another proof (a reused "
                                              "re-randomisation reveals the difference of two columns)")
                        points.add(point)
                queue.add((job_scheme, circuit, keys, proof, tuple(inputs[k] for k in job.cells), output, where,
                           context))
            if i < len(plans) - 1:  # chain link: this segment's output commitments are the next one's inputs
                assert seg.output_commitments is not None and len(seg.output_commitments) == plans[i + 1].layout.cell_count
                inputs = seg.output_commitments
        queue.flush()
    return Verification(attestation.pipeline, input_shape, final_shape, cap.camera_key.key_id,
                        cap.root, total, store.srs.development, hidden, weakest_trust(trust))


def _check_capture_srs(store: CircuitStore, scheme: CommitmentScheme, policy: VerificationPolicy) -> None:
    """The capture's columns were committed under the SRS file it signs: the verifier's own file
    for that size must be the same (``SRSMismatch``) and trusted by the policy (``UntrustedSRS``)."""
    params = dict(scheme.params)
    logrows, digest = params["logrows"], params["srs_sha256"]
    if not (store.srs.directory / f"kzg{logrows}.srs").is_file() and not store.srs.development:
        raise SRSMismatch(f"the capture's columns are committed under a 2^{logrows} SRS this verifier does not have")
    if store.srs.digest(logrows) != digest:
        raise SRSMismatch(f"the capture's columns are committed under SRS {digest[:16]}, the verifier's 2^{logrows} "
                          f"SRS is {store.srs.digest(logrows)[:16]}")
    policy.check_srs(store.srs.trust(logrows), f"the capture's 2^{logrows} SRS")


def _circuit_for(store: CircuitStore, spec: CircuitSpec, claimed: Dict[int, str], limits: Limits,
                 policy: VerificationPolicy, index: int) -> Tuple[Circuit, Keys]:
    """The verifier's own circuit and verifying key for ``spec``, after the size and SRS checks."""
    circuit = store.circuit(spec)
    _limit(circuit.logrows, limits.max_logrows, "max_logrows", f"tile {index}'s circuit logrows")
    claimed_srs = claimed.get(circuit.logrows)
    if claimed_srs is None:  # no proof in the bundle was made for a circuit of this size
        raise CircuitMismatch(f"tile {index}: its circuit has 2^{circuit.logrows} rows, and the bundle "
                              f"records no proof made for that size")
    if claimed_srs != store.srs.digest(circuit.logrows):  # before the setup
        raise SRSMismatch(f"tile {index} was proved with another SRS for logrows {circuit.logrows}")
    policy.check_srs(store.srs.trust(circuit.logrows), f"tile {index}'s circuit (2^{circuit.logrows} rows)")
    return circuit, store.keys(circuit, proving=False)

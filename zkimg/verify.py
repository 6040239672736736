"""Verifying one tile proof. The verifier rebuilds the circuit and keys from the job it
expects, computes every public instance itself, and never uses a key or an instance
supplied by the prover."""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .camera import PublicKey
from .circuits import Circuit, CircuitStore, Keys
from .commitments import hash_public
from .errors import (CircuitMismatch, CommitmentMismatch, InvalidBundle, InvalidImage, InvalidParameter,
                     OutputMismatch, ProofInvalid, SRSMismatch, UntrustedKey)
from .limits import DEFAULT_LIMITS, Limits
from .lowering import TileJob
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
    return TileVerification(job, input_commitment, out_instance, proof.development_srs)


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

#: (circuit, keys, proof, input instances, output instance or the public pixels it hashes, name)
_ProofCheck = Tuple[Circuit, Keys, bytes, Tuple[int, ...], "int | np.ndarray", str]


def _check(circuit: Circuit, keys: Keys, proof: bytes, inputs: Tuple[int, ...], output: "int | np.ndarray",
           what: str) -> None:
    """:func:`check_proof`, hashing a public output tile first (in the worker, in parallel)."""
    out_instance = hash_public(output) if isinstance(output, np.ndarray) else output
    check_proof(circuit, keys, proof, inputs + (out_instance,), what)


def _check_proofs(checks: List[_ProofCheck], executor: Optional[Executor],
                  progress: Optional[ProgressCallback]) -> None:
    """Run :func:`_check` on every check; raise the first failure in list order."""
    total = len(checks)
    report(progress, "verify", 0, total)
    with executor_for(executor, total, PARALLEL_VERIFY_TILES) as pool:
        if pool is None:
            for n, check in enumerate(checks, 1):
                _check(*check)
                report(progress, "verify", n, total)
            return
        futures = [pool.submit(_check, *check) for check in checks]
        try:
            for n, f in enumerate(futures, 1):
                f.result()
                report(progress, "verify", n, total)
        finally:
            for f in futures:  # after a failure, checks not yet started are not run
                f.cancel()


@dataclass(frozen=True)
class Verification:
    """What an accepted attestation established (``verify`` never returns anything falsy)."""

    pipeline: Pipeline
    input_size: Tuple[int, int, int]  # height, width, channels of the hidden original
    output_size: Tuple[int, int, int]
    camera_key_id: str
    root: int
    tiles: int
    development_srs: bool
    hidden_output: bool


def verify(attestation: "Attestation | str | Path | bytes", published: Optional[np.ndarray], *,
           trusted_keys: Iterable[PublicKey], store: Optional[CircuitStore] = None,
           limits: Limits = DEFAULT_LIMITS, progress: Optional[ProgressCallback] = None,
           executor: Optional[Executor] = None) -> Verification:
    """Check an attestation against the published image and the trusted camera keys.

    Checks, in order (the first failure raises the named error): the camera key is trusted
    (``UntrustedKey``); the cell commitments hash to the root (``RootMismatch``); the camera
    signed that root (``SignatureInvalid``); the published image has the declared size
    (``OutputMismatch``; for a hidden output pass ``published=None``: the bundle's output
    commitments stand in for it); the bundle has one proof per planned job (``InvalidBundle``); it
    records an SRS for the size of every circuit rebuilt here (``CircuitMismatch``), and that SRS
    matches the verifier's (``SRSMismatch``); and every tile proof verifies against a
    circuit and key rebuilt here and instances computed here from the signed cell
    commitments and the published pixels (``ProofInvalid``). A path or bytes are parsed
    under ``limits`` (:class:`zkimg.Limits`) before anything they declare is allocated.
    ``progress("verify", done, total)`` is called as tile proofs are checked.
    Proofs are checked on ``executor`` (any ``concurrent.futures.Executor``; by default a
    local process pool from :data:`PARALLEL_VERIFY_TILES` tiles on, else in this process);
    the first failing tile in plan order is the one reported.
    """
    from .bundle import Attestation

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
    cap.verify()  # RootMismatch, SignatureInvalid
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
    for i, (plan, seg) in enumerate(zip(plans, attestation.segments)):
        if len(seg.proofs) != len(plan.jobs):
            raise InvalidBundle(f"segment {i} has {len(seg.proofs)} proofs for {len(plan.jobs)} planned tiles")
    checks: List[_ProofCheck] = []
    inputs = cap.cell_commitments
    for i, (plan, seg) in enumerate(zip(plans, attestation.segments)):
        for job, proof in zip(plan.jobs, seg.proofs):
            circuit = store.circuit(job.spec)
            keys = store.keys(circuit, proving=False)
            claimed = attestation.srs_digests.get(circuit.logrows)
            if claimed is None:  # no proof in the bundle was made for a circuit of this size
                raise CircuitMismatch(f"tile {job.index}: its circuit has 2^{circuit.logrows} rows, and the bundle "
                                      f"records no proof made for that size")
            if claimed != keys.srs_digest:
                raise SRSMismatch(f"tile {job.index} was proved with another SRS for logrows {circuit.logrows}")
            output: "int | np.ndarray"  # the output instance, or the pixels it is hashed from
            if seg.output_commitments is not None:  # hidden: intermediate tile or hidden output tile
                output = seg.output_commitments[job.index]
            else:
                assert published is not None
                output = np.ascontiguousarray(published[job.rows[0]:job.rows[1], job.cols[0]:job.cols[1]])
            checks.append((circuit, keys, proof, tuple(inputs[k] for k in job.cells), output,
                           f"segment {i} tile {job.index} proof"))
        if i < len(plans) - 1:  # chain link: this segment's output commitments are the next one's inputs
            assert seg.output_commitments is not None and len(seg.output_commitments) == len(plans[i + 1].layout.cells)
            inputs = seg.output_commitments
    _check_proofs(checks, executor, progress)
    tiles = len(checks)
    return Verification(attestation.pipeline, input_shape, final_shape, cap.camera_key.key_id,
                        cap.root, tiles, store.srs.development, hidden)

"""Verifying one tile proof. The verifier rebuilds the circuit and keys from the job it
expects, computes every public instance itself, and never uses a key or an instance
supplied by the prover."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .circuits import CircuitStore
from .commitments import hash_public
from .errors import (CircuitMismatch, CommitmentMismatch, InvalidImage, OutputMismatch, ProofInvalid,
                     SRSMismatch)
from .lowering import TileJob
from .prove import TileProof, ezkl_proof_json
from .transforms import check_image


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
    keys = store.keys(circuit)
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
        if output is None or output_commitment is not None:
            raise OutputMismatch("a public-output job is verified against the published pixels")
        try:
            check_image(output, "output")
        except InvalidImage as e:
            raise OutputMismatch(str(e)) from e
        if output.shape != job.output_shape:
            raise OutputMismatch(f"output shape {output.shape} differs from the job's {job.output_shape}")
        out_instance = hash_public(output)
    # 6. The proof itself, against the verifier's own instances, key and SRS.
    import ezkl

    with tempfile.TemporaryDirectory(prefix="zkimg-verify-") as tmp:
        path = Path(tmp) / "proof.json"
        path.write_text(json.dumps(ezkl_proof_json(proof.proof, (input_commitment, out_instance))))
        try:
            ok = ezkl.verify(str(path), str(circuit.settings_path), str(keys.vk_path), srs_path=str(keys.srs_path))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # ezkl reports a failed proof as an exception or a panic
            raise ProofInvalid(f"proof does not verify: {e}") from e
    if ok is not True:
        raise ProofInvalid("proof does not verify")
    return TileVerification(job, input_commitment, out_instance, proof.development_srs)

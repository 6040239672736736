"""Verifying one tile proof (:func:`verify_tile`) and the ezkl check every verifier runs
(:func:`check_proof`): circuit, key, SRS and instances all chosen by the verifier."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from .._validate import check_image
from ..errors import CircuitMismatch, CommitmentMismatch, InvalidImage, OutputMismatch, SRSMismatch
from . import _ezkl
from .circuits import Circuit, CircuitStore, Keys
from .lowering import TileJob
from .tile_proof import TileProof


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
    scheme = job.spec().commitment_scheme
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
        out_instance = scheme.hash_public(check_published(output, job.output_shape))
    # 6. The proof itself, against the verifier's own instances, key and SRS.
    check_proof(circuit, keys, proof.proof, scheme.instances((input_commitment,), out_instance))
    return TileVerification(job, input_commitment, out_instance, store.srs.development)  # the verifier's SRS


def check_published(image: Optional[np.ndarray], shape: Tuple[int, int, int]) -> np.ndarray:
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
    _ezkl.verify(proof, instances, circuit.settings_path, keys.vk_path, keys.srs_path, what)

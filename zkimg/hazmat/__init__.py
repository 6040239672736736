"""zkimg's parts: tile jobs, circuits, commitments, layouts, plans, tile proofs.

These are the layers :func:`zkimg.prove` and :func:`zkimg.verify` are built from, in the order
data flows:

* :mod:`~zkimg.hazmat.primitives` — the exact integer operations transforms are made of;
* :mod:`~zkimg.hazmat.lowering` — a :class:`TileJob` / :class:`CircuitSpec` lowered to ONNX
  (the circuit graph ezkl compiles, and the reference graph onnxruntime runs);
* :mod:`~zkimg.hazmat.circuits` — compiled circuits, keys and the :class:`SRS`, cached on disk
  (:class:`CircuitStore`); ezkl itself is called only from :mod:`zkimg.hazmat._ezkl`;
* :mod:`~zkimg.hazmat.commitments` — the :class:`CommitmentScheme` seam; the Poseidon
  scheme (:mod:`~zkimg.hazmat.poseidon_scheme`: :func:`commit`, :func:`pack`, :func:`hash_public`;
  capture formats 1 and 3) and the KZG scheme (:mod:`~zkimg.hazmat.kzg_scheme`:
  :class:`KZGScheme`, its link proofs; :mod:`~zkimg.hazmat.bn254` for the curve);
* :mod:`~zkimg.hazmat.tiles` — :class:`TileLayout`: cells, their commitments and the root;
* :mod:`~zkimg.hazmat.plan` — :class:`Plan`: which proofs cover a pipeline over a layout;
* :mod:`~zkimg.hazmat.proving` / :mod:`~zkimg.hazmat.verifying` — one tile job proved
  (:func:`prove_tile`) or checked (:func:`verify_tile`); :class:`TileProof` is its record.

Hazardous materials, as in pyca/cryptography: each part is correct on its own, but a tile
proof says nothing about a camera, a signature or the rest of an image. Using them safely
means repeating what :func:`zkimg.verify` checks (trusted key, signature, root, plan, every
instance computed by the verifier). Prefer the recipes at the top level.
"""

from .._codec import FIELD_MODULUS, felt_from_hex, felt_to_hex
from .circuits import SRS, Circuit, CircuitStore, DevelopmentSRSWarning, Keys
from .commitments import (
    SALT_BYTES,
    CommitmentScheme,
    ProofContext,
    check_salt,
    new_salt,
    scheme_for_layout,
    scheme_named,
)
from .kzg_scheme import KZGScheme
from .lowering import CircuitSpec, TileJob
from .plan import Plan, PlannedJob, chain_plans
from .poseidon_scheme import POSEIDON, POSEIDON_31, PoseidonScheme, commit, commit_many, hash_public, pack
from .proving import ProvedTile, prove_spec, prove_tile
from .tile_proof import TileProof
from .tiles import TileLayout
from .verifying import TileVerification, check_proof, verify_tile

__all__ = [
    "FIELD_MODULUS", "felt_from_hex", "felt_to_hex", "commit_many",
    "SRS", "Circuit", "CircuitStore", "DevelopmentSRSWarning", "Keys", "SALT_BYTES", "CommitmentScheme",
    "check_salt", "new_salt", "scheme_for_layout", "scheme_named", "CircuitSpec", "TileJob", "Plan",
    "PlannedJob", "chain_plans", "POSEIDON", "PoseidonScheme", "commit", "hash_public", "pack",
    "ProvedTile", "prove_spec", "prove_tile", "TileProof", "TileLayout", "TileVerification", "check_proof",
    "verify_tile", "KZGScheme", "ProofContext", "POSEIDON_31",
]

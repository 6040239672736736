"""zkimg — zero-knowledge attestations of exact image edits.

Layers, in the order data flows: transforms → pipeline → lowering (ONNX) → circuits
(ezkl) → commitments → prove → verify → manifest (C2PA) → CLI; images reads and writes files.
"""

from .camera import Camera, Capture, CaptureSecrets, PublicKey, SignedCapture
from .circuits import SRS, CircuitStore, DevelopmentSRSWarning
from .commitments import commit, hash_public, new_salt, pack
from .errors import (CacheCorruption, CircuitError, CircuitMismatch, CommitmentMismatch, Error,
                     InvalidBundle, InvalidImage, InvalidParameter, LossyFormat, ManifestError, OutputMismatch, ProofInvalid,
                     ProvingError, RootMismatch, SignatureInvalid, SRSMismatch, UntrustedKey,
                     VerificationError)
from .limits import Limits
from .lowering import TileJob
from .pipeline import Pipeline
from .prove import ProvedTile, TileProof, prove_tile
from .transforms import (BoxBlur, Brightness, Contrast, Crop, Flip, GaussianBlur, Grayscale, Resize,
                         Rotate90, Transform, WhiteBalance)
from .tiles import TileLayout
from .verify import TileVerification, Verification, verify, verify_tile
from .attest import prove
from .bundle import Attestation
from .plan import Plan
from .images import read_image, write_image
from .pipeline import load_pipeline
from .progress import ProgressCallback

__version__ = "0.1.0"

__all__ = [
    "Transform", "Crop", "Resize", "BoxBlur", "GaussianBlur", "Grayscale", "Brightness", "Contrast",
    "WhiteBalance", "Flip", "Rotate90", "Pipeline", "TileJob", "CircuitStore", "SRS",
    "DevelopmentSRSWarning", "pack", "commit", "hash_public", "new_salt", "prove_tile", "ProvedTile",
    "TileProof", "verify_tile", "TileVerification", "Error", "InvalidParameter", "InvalidImage",
    "InvalidBundle", "CircuitError", "ProvingError", "CacheCorruption", "VerificationError",
    "OutputMismatch", "CircuitMismatch", "CommitmentMismatch", "ProofInvalid", "SRSMismatch",
    "SignatureInvalid", "RootMismatch", "UntrustedKey", "Camera", "Capture", "CaptureSecrets", "PublicKey",
    "SignedCapture", "TileLayout", "prove", "verify", "Verification", "Attestation", "Plan", "Limits",
    "LossyFormat", "ManifestError", "read_image", "write_image", "load_pipeline", "ProgressCallback",
]

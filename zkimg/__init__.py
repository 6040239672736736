"""zkimg — zero-knowledge attestations of exact image edits.

The recipe: a :class:`Camera` signs a commitment to a photo (:meth:`Camera.capture`); an
editor applies a :class:`Pipeline` of transforms and calls :func:`prove`, which makes an
:class:`Attestation`; anyone checks it with :func:`verify` under a policy such as
:class:`TrustedCameras`. :func:`estimate` says beforehand what a ``prove`` will cost. Files: :func:`read_image`, :func:`write_image`, :func:`load_pipeline`.
Every error is a :class:`zkimg.errors.Error`.

Modules in the order data flows: :mod:`~zkimg.transforms` → :mod:`~zkimg.pipeline` →
(:mod:`zkimg.hazmat`: lowering → circuits → commitments & tiles → plan → tile proofs) →
:mod:`~zkimg.camera` → :mod:`~zkimg.costs` (``estimate``) → :mod:`~zkimg.attest` (``prove``) → :mod:`~zkimg.bundle` →
:mod:`~zkimg.verification` (``verify``, under a :mod:`~zkimg.policy`) → :mod:`~zkimg.manifest`
(C2PA) → :mod:`~zkimg.cli`. The parts live under :mod:`zkimg.hazmat`.
"""

from .attest import prove
from .bundle import Attestation
from .camera import Camera, Capture, CaptureSecrets, PublicKey, SignedCapture
from .costs import Estimate, estimate
from .errors import (
                     CacheCorruption,
                     CircuitError,
                     CircuitMismatch,
                     CommitmentMismatch,
                     Error,
                     InvalidBundle,
                     InvalidImage,
                     InvalidKey,
                     InvalidParameter,
                     InvalidPipelineFile,
                     InvalidRecord,
                     LinkInvalid,
                     LossyFormat,
                     MalformedInput,
                     ManifestError,
                     OutputMismatch,
                     ProofInvalid,
                     ProvingError,
                     RootMismatch,
                     SignatureInvalid,
                     SRSMismatch,
                     TileCountMismatch,
                     UntrustedKey,
                     UntrustedSRS,
                     VerificationError,
)
from .hazmat.circuits import SRS, CircuitStore, DevelopmentSRSWarning
from .images import read_image, write_image
from .limits import Limits
from .pipeline import Pipeline, load_pipeline
from .policy import TrustedCameras, VerificationPolicy
from .progress import ProgressCallback
from .transforms import REGISTRY as _REGISTRY
from .transforms import (
                     BoxBlur,
                     Brightness,
                     Contrast,
                     Crop,
                     Flip,
                     GaussianBlur,
                     Grayscale,
                     Resize,
                     Rotate90,
                     Transform,
                     WhiteBalance,
)
from .verification import Verification, verify

__version__ = "0.1.0"

__all__ = [
    # recipe
    "Camera", "Capture", "CaptureSecrets", "PublicKey", "SignedCapture", "prove", "estimate", "Estimate", "verify",
    "Attestation",
    "Verification", "VerificationPolicy", "TrustedCameras", "Limits", "SRS", "CircuitStore",
    "DevelopmentSRSWarning", "ProgressCallback", "read_image", "write_image", "load_pipeline",
    # transforms
    "Pipeline", "Transform", "Crop", "Resize", "BoxBlur", "GaussianBlur", "Grayscale", "Brightness", "Contrast",
    "WhiteBalance", "Flip", "Rotate90",
    # errors
    "Error", "InvalidParameter", "InvalidImage", "LossyFormat", "MalformedInput", "InvalidBundle", "InvalidKey",
    "InvalidPipelineFile", "InvalidRecord", "ManifestError", "CircuitError", "ProvingError", "CacheCorruption",
    "VerificationError", "UntrustedKey", "UntrustedSRS", "SignatureInvalid", "RootMismatch", "OutputMismatch",
    "TileCountMismatch", "CircuitMismatch", "CommitmentMismatch", "SRSMismatch", "ProofInvalid", "LinkInvalid",
]

# Every registered transform is part of the recipe, including one added to transforms.py
# without an import here (the explicit imports above are for static type checkers).
for _transform in _REGISTRY.values():
    if _transform.__name__ not in __all__:
        globals()[_transform.__name__] = _transform
        __all__.append(_transform.__name__)
del _transform

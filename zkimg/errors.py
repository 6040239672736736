"""Typed errors. Every failure zkimg reports is an instance of :class:`Error`."""

from __future__ import annotations


class Error(Exception):
    """Base class of every error raised by zkimg."""


class InvalidParameter(Error, ValueError):
    """A transform, pipeline or job parameter is out of its documented domain.

    ``parameter`` names the offending parameter (e.g. ``"width"``, ``"image"``).
    """

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


class InvalidImage(InvalidParameter):
    """An image array has the wrong dtype, rank, channel count or size."""

    def __init__(self, message: str, parameter: str = "image") -> None:
        super().__init__(parameter, message)


class LossyFormat(InvalidParameter):
    """An output format would change pixels (JPEG, ...), so the file would not match its proof."""

    def __init__(self, message: str) -> None:
        super().__init__("format", message)


class ManifestError(Error):
    """A C2PA manifest could not be written, or read back with a zkimg attestation in it."""


class MalformedInput(Error, ValueError):
    """Bytes or decoded data from outside (a file, a JSON value) cannot be parsed, are not in
    canonical form, or exceed a :class:`~zkimg.Limits` bound. Raised by parsers, before
    anything is verified; subclasses name what was being read."""


class InvalidBundle(MalformedInput):
    """An attestation bundle, a tile proof or a C2PA payload is malformed or over a limit."""


class InvalidKey(MalformedInput):
    """A camera key or public-key file cannot be parsed (or is the wrong kind of key)."""


class InvalidPipelineFile(MalformedInput):
    """A pipeline file (YAML or JSON) or a transform's JSON object is malformed."""


class InvalidRecord(MalformedInput):
    """A signed capture record or a capture-secrets file is malformed."""


class CircuitError(Error):
    """The circuit backend (ONNX lowering, ezkl compile or setup) failed."""


class ProvingError(Error):
    """A witness could not be generated or proved (e.g. a pixel outside [0, 255])."""


class CacheCorruption(Error):
    """An on-disk artifact failed its checksum; it is discarded and rebuilt, never used."""


class VerificationError(Error):
    """A verification check failed. Subclasses name the check; ``check`` is a short id."""

    check = "verification"


class OutputMismatch(VerificationError):
    """The published output does not have the shape/dtype the declared job produces."""

    check = "output"


class TileCountMismatch(VerificationError):
    """The bundle does not hold exactly one proof per tile job its declared plan makes."""

    check = "tiles"


class CircuitMismatch(VerificationError):
    """The proof was made for a different circuit than the one rebuilt from the declaration."""

    check = "circuit"


class CommitmentMismatch(VerificationError):
    """A commitment given to the verifier is malformed or differs from the one expected."""

    check = "commitment"


class ProofInvalid(VerificationError):
    """The zero-knowledge proof does not verify against the instances the verifier computed."""

    check = "proof"


class LinkInvalid(VerificationError):
    """A KZG proof's committed input is not linked to the camera's signed commitment (a link
    proof that is missing, malformed or false, or a point not re-randomised or repeated)."""

    check = "link"


class SRSMismatch(VerificationError):
    """The proof was made with a structured reference string other than the verifier's."""

    check = "srs"


class SignatureInvalid(VerificationError):
    """The camera signature over the capture root does not verify."""

    check = "signature"


class RootMismatch(VerificationError):
    """The cell commitments do not hash to the signed image root."""

    check = "root"


class UntrustedKey(VerificationError):
    """The capture was signed by a key the verification policy does not trust."""

    check = "trusted_keys"


class UntrustedSRS(VerificationError):
    """The verifier's SRS is below the trust the verification policy requires (e.g. a
    development SRS without an explicit opt-in)."""

    check = "srs_trust"

"""What a verifier trusts, as a policy object (modelled on sigstore-python's policies).

``verify()`` establishes that the proofs are sound *relative to* a camera key and an SRS; the
policy says which keys and which SRS files that may be. Both are checked first of all, before
anything a bundle declares is read further: the camera key, then a development SRS (the
verifier's own); per circuit, before its setup, the trust of the SRS file for that
circuit's size.

SRS trust levels, weakest first (:data:`~zkimg.hazmat.circuits.SRS_TRUST`):
``"development"`` (generated on this machine: whoever made it can forge proofs),
``"unpinned"`` (files of unknown origin), ``"pinned"`` (SHA-256 equal to a digest the caller
pinned), ``"ceremony"`` (SHA-256 equal to the published digest of ezkl's public ceremony).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Iterable, Tuple

from .camera import PublicKey
from .errors import InvalidParameter, UntrustedKey, UntrustedSRS
from .hazmat.circuits import SRS_TRUST


class VerificationPolicy(abc.ABC):
    """The verifier's trust decisions; raise a :class:`~zkimg.errors.VerificationError` to refuse."""

    @abc.abstractmethod
    def check_camera(self, key: PublicKey) -> None:
        """Refuse (``UntrustedKey``) a capture signed by ``key`` unless the policy trusts it."""

    @abc.abstractmethod
    def check_srs(self, trust: str, where: str) -> None:
        """Refuse (``UntrustedSRS``) an SRS of trust level ``trust`` (one of ``SRS_TRUST``)."""


@dataclass(frozen=True, init=False)
class TrustedCameras(VerificationPolicy):
    """Accept captures signed by one of ``keys``, checked with an SRS of at least
    ``minimum_srs_trust`` (``"pinned"`` by default: the public ceremony's files, known to zkimg
    by SHA-256, or files whose digests the verifier pinned; ``"ceremony"`` is stricter). The two
    weaker kinds are each accepted only on its own explicit opt-in, whatever the minimum:
    ``allow_unpinned_srs=True`` (files of unknown origin) and ``allow_development_srs=True`` (a
    locally generated SRS: tests and demos only).
    """

    keys: Tuple[PublicKey, ...]
    minimum_srs_trust: str
    allow_development_srs: bool
    allow_unpinned_srs: bool

    def __init__(self, keys: "Iterable[PublicKey] | PublicKey", *, allow_development_srs: bool = False,
                 allow_unpinned_srs: bool = False, minimum_srs_trust: str = "pinned") -> None:
        try:
            keys = (keys,) if isinstance(keys, PublicKey) else tuple(keys)
        except TypeError:
            keys = ()
        if not keys or not all(isinstance(k, PublicKey) for k in keys):
            raise InvalidParameter("keys", "expected one or more zkimg.PublicKey (load them with PublicKey.load)")
        if minimum_srs_trust not in ("pinned", "ceremony"):
            raise InvalidParameter("minimum_srs_trust", f"expected 'pinned' or 'ceremony' (weaker SRS files need "
                                                        f"their own opt-in), got {minimum_srs_trust!r}")
        for name, flag in (("allow_development_srs", allow_development_srs), ("allow_unpinned_srs", allow_unpinned_srs)):
            if not isinstance(flag, bool):
                raise InvalidParameter(name, "must be a bool")
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "minimum_srs_trust", minimum_srs_trust)
        object.__setattr__(self, "allow_development_srs", allow_development_srs)
        object.__setattr__(self, "allow_unpinned_srs", allow_unpinned_srs)

    def check_camera(self, key: PublicKey) -> None:
        if not any(k == key for k in self.keys):
            raise UntrustedKey(f"camera key {key.key_id[:16]}… is not trusted")

    def check_srs(self, trust: str, where: str) -> None:
        if trust not in SRS_TRUST:
            raise UntrustedSRS(f"{where}: unknown SRS trust level {trust!r}")
        if trust == "development" and self.allow_development_srs:
            return
        if trust == "unpinned" and self.allow_unpinned_srs:
            return
        if SRS_TRUST.index(trust) < SRS_TRUST.index(self.minimum_srs_trust):
            hint = {"development": " (a development SRS is accepted only with allow_development_srs=True, CLI "
                                   "--allow-dev-srs: tests and demos)",
                    "unpinned": " (pin its SHA-256, use the ceremony's files, or opt in with "
                                "allow_unpinned_srs=True, CLI --allow-unpinned-srs)"}.get(trust, "")
            raise UntrustedSRS(f"{where}: the verifier's SRS is {trust}, the policy requires at least "
                               f"{self.minimum_srs_trust}{hint}")

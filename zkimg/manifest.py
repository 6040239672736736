"""C2PA manifests that carry a zkimg attestation (through c2pa-python).

:func:`embed` signs a C2PA manifest into a published image (PNG, TIFF or WebP) holding:

* the custom assertion ``org.zkimg.attestation``: ``{"media_type": <bundle media type>,
  "bundle": <base64 of the saved (gzip) bundle>}``; or, when the bundle would push the manifest
  JSON past c2pa's 1 MiB cap, ``{"media_type": ..., "sidecar": {"name": <file name>,
  "sha256": <hex>, "bytes": <size>}}`` with the bundle written beside the image;
* ``c2pa.actions``: ``c2pa.opened`` of the hidden original, then one action per pipeline step;
* a ``parentOf`` ingredient naming the original only by its signed capture root
  (``instance_id = "zkimg:capture-root:<hex>"``): no pixels, no thumbnail, no file hash.

:func:`read` returns the attestation and c2pa's validation state. The zkimg proof is checked
separately, by :func:`zkimg.verify` on the decoded pixels; the C2PA signature only says who
published the manifest. Signing needs an X.509 certificate whose chain c2pa accepts
(``ManifestSigner.from_files``); :func:`development_signer` makes a local root CA and a leaf
for tests and demos — trusted only where that CA is given as a trust anchor.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import json
import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._codec import felt_to_hex
from ._fileio import check_regular, read_bounded, write_files, write_private
from .bundle import MEDIA_TYPE, Attestation
from .errors import InvalidBundle, InvalidParameter, ManifestError
from .images import media_type
from .limits import DEFAULT_LIMITS, MAX_PEM_BYTES, Limits

ASSERTION_LABEL = "org.zkimg.attestation"
MAX_MANIFEST_JSON = 1 << 20  # c2pa-rs rejects a longer manifest definition ("StringTooLong")
ORIGINAL_LABEL = "zkimg-original"
ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")

def _c2pa() -> Any:
    try:
        import c2pa
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ManifestError("C2PA support needs c2pa-python: pip install 'zkimg[c2pa]'") from e
    return c2pa


@dataclass(frozen=True)
class ManifestSigner:
    """The C2PA signing credential: a PEM certificate chain (leaf first) and its PEM private
    key. ``tsa_url`` (an RFC 3161 timestamp authority) is optional; none is used offline."""

    certificate_chain: bytes
    private_key: bytes = b""
    algorithm: str = "es256"
    tsa_url: Optional[str] = None

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise InvalidParameter("algorithm", f"must be one of {ALGORITHMS}")
        if b"BEGIN CERTIFICATE" not in self.certificate_chain or b"PRIVATE KEY" not in self.private_key:
            raise InvalidParameter("certificate_chain", "expected a PEM certificate chain and a PEM private key")

    def __repr__(self) -> str:  # never print the key
        return f"ManifestSigner(algorithm={self.algorithm!r}, tsa_url={self.tsa_url!r})"

    @classmethod
    def from_files(cls, certificate_chain: "str | Path", private_key: "str | Path", algorithm: str = "es256",
                   tsa_url: Optional[str] = None) -> "ManifestSigner":
        return cls(read_bounded(certificate_chain, MAX_PEM_BYTES, "certificate chain", ManifestError),
                   read_bounded(private_key, MAX_PEM_BYTES, "signing key", ManifestError), algorithm, tsa_url)

    def c2pa_signer(self) -> Any:
        """This credential as c2pa-python's ``Signer`` (ManifestError if c2pa refuses it)."""
        c2pa = _c2pa()
        info = c2pa.C2paSignerInfo(self.algorithm, self.certificate_chain, self.private_key, self.tsa_url)
        try:
            return c2pa.Signer.from_info(info)
        except c2pa.C2paError as e:
            raise ManifestError(f"cannot make a C2PA signer from this certificate and key: {e}") from e


def development_signer(directory: "str | Path") -> Tuple[ManifestSigner, Path]:
    """Make a local root CA and a P-256 leaf it issued (AKI/SKI, EKU emailProtection), write
    ``ca.pem``, ``signer-chain.pem`` and ``signer-key.pem`` (0600) to ``directory``, and
    return the signer and the CA's path (pass it as a trust anchor to :func:`read`).

    For tests and demos only: nobody else trusts this CA.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    now = _dt.datetime.now(_dt.timezone.utc)

    def cert(subject: str, key: Any, issuer: Any, issuer_key: Any, ca: bool) -> Any:
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        aki = x509.SubjectKeyIdentifier.from_public_key(issuer_key.public_key())
        usage = dict(digital_signature=True, content_commitment=False, key_encipherment=False,
                     data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                     encipher_only=False, decipher_only=False)
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "zkimg development"),
                                      x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
             .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - _dt.timedelta(days=1)).not_valid_after(now + _dt.timedelta(days=365))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(**usage), critical=True)
             .add_extension(ski, critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(aki), critical=False))
        if not ca:
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "zkimg development"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "zkimg development root CA")])
    ca = cert("zkimg development root CA", ca_key, ca_name, ca_key, True)
    leaf = cert("zkimg development signer", leaf_key, ca_name, ca_key, False)
    pem: Callable[[Any], bytes] = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    key = leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    (d / "ca.pem").write_bytes(pem(ca))
    (d / "signer-chain.pem").write_bytes(pem(leaf) + pem(ca))
    write_private(d / "signer-key.pem", key)
    return ManifestSigner(pem(leaf) + pem(ca), key), d / "ca.pem"


def manifest_definition(att: Attestation, title: str, fmt: str, payload: Dict[str, Any]) -> Dict[str, Any]:
    """The C2PA manifest definition (JSON-able) :func:`embed` signs for ``att``."""
    from . import __version__

    cap = att.capture
    steps: List[Dict[str, Any]] = [{"action": "c2pa.opened", "parameters": {"ingredientIds": [ORIGINAL_LABEL]}}]
    for t in att.pipeline:
        steps.append({"action": t.c2pa_action,
                      "description": f"zkimg {t.describe()}, proved in zero knowledge"})
    return {
        "claim_generator_info": [{"name": "zkimg", "version": __version__}],
        "title": title,
        "format": fmt,
        "ingredients": [{
            "title": f"original {cap.layout.width}×{cap.layout.height} (hidden; committed by camera "
                     f"{cap.camera_key.key_id[:16]})",
            "format": fmt, "relationship": "parentOf", "label": ORIGINAL_LABEL,
            "instance_id": f"zkimg:capture-root:{felt_to_hex(cap.root)}",
        }],
        "assertions": [{"label": "c2pa.actions", "data": {"actions": steps}},
                       {"label": ASSERTION_LABEL, "data": payload}],
    }


@dataclass(frozen=True)
class Embedded:
    """Where :func:`embed` put the bundle: in the manifest, or in ``sidecar`` beside the image."""

    image: Path
    sidecar: Optional[Path]


@dataclass(frozen=True)
class SignedImage:
    """The bytes :func:`sign_image` made: the image with its manifest, and the sidecar bundle
    (``sidecar_name``, ``sidecar``) when the bundle did not fit in the manifest."""

    image: bytes
    sidecar_name: Optional[str]
    sidecar: Optional[bytes]

    def files(self, dest: "str | Path") -> List[Tuple[Path, bytes, bool]]:
        """``(path, bytes, private)`` of every file to write for an image saved at ``dest``."""
        out = Path(dest)
        files = [(out, self.image, False)]
        if self.sidecar is not None and self.sidecar_name is not None:
            files.append((out.with_name(self.sidecar_name), self.sidecar, False))
        return files


def sidecar_path(dest: "str | Path") -> Path:
    """Where the bundle goes when it does not fit in the manifest of the image at ``dest``."""
    out = Path(dest)
    return out.with_name(out.name + ".zkimg")


def sign_image(data: bytes, fmt: str, attestation: Attestation, signer: ManifestSigner, *, name: str,
               title: Optional[str] = None) -> SignedImage:
    """Sign a C2PA manifest carrying ``attestation`` into the image bytes ``data`` (media type
    ``fmt``; its pixels are not changed), for a file to be saved as ``name``. Nothing is written:
    :func:`embed` writes the result. If the bundle does not fit c2pa's 1 MiB manifest cap it goes
    to a sidecar ``<name>.zkimg`` and the manifest holds that name and its SHA-256 instead."""
    import io

    c2pa = _c2pa()
    bundle = attestation.dumps(compress=True)  # the saved (gzip) form
    title = title or name
    payload: Dict[str, Any] = {"media_type": MEDIA_TYPE, "bundle": base64.b64encode(bundle).decode()}
    sidecar_name = None
    if len(json.dumps(manifest_definition(attestation, title, fmt, payload))) > MAX_MANIFEST_JSON - 4096:
        sidecar_name = sidecar_path(name).name
        payload = {"media_type": MEDIA_TYPE, "sidecar": {"name": sidecar_name, "bytes": len(bundle),
                                                          "sha256": hashlib.sha256(bundle).hexdigest()}}
    settings = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    try:
        builder = c2pa.Builder(manifest_definition(attestation, title, fmt, payload), settings)
        dest = io.BytesIO()
        builder.sign(signer.c2pa_signer(), fmt, io.BytesIO(data), dest)
    except c2pa.C2paError as e:
        raise ManifestError(f"C2PA signing failed: {e}") from e
    return SignedImage(dest.getvalue(), sidecar_name, bundle if sidecar_name else None)


def embed(image: "str | Path", attestation: Attestation, signer: ManifestSigner, dest: "str | Path", *,
          title: Optional[str] = None) -> Embedded:
    """Sign a C2PA manifest carrying ``attestation`` into a copy of ``image`` at ``dest``
    (:func:`sign_image`); the image and its sidecar, if any, are written together, atomically."""
    src, out = Path(image), Path(dest)
    fmt = media_type(out)
    if media_type(src) != fmt:
        raise InvalidParameter("dest", "the signed copy must keep the image's format")
    signed = sign_image(src.read_bytes(), fmt, attestation, signer, name=out.name, title=title)
    write_files(signed.files(out))
    return Embedded(out, sidecar_path(out) if signed.sidecar is not None else None)


@dataclass(frozen=True)
class ManifestReading:
    """What :func:`read` found: the attestation, c2pa's validation state (``"Trusted"``,
    ``"Valid"`` or ``"Invalid"``), its failure codes, the signer's certificate subject, and
    the sidecar used, if any."""

    attestation: Attestation
    validation_state: str
    failures: Tuple[str, ...]
    signer: str
    sidecar: Optional[Path]


def read(image: "str | Path", *, trust_anchors: Optional[bytes] = None,
         limits: Limits = DEFAULT_LIMITS) -> ManifestReading:
    """Read the zkimg attestation from ``image``'s active C2PA manifest.

    ``trust_anchors``: PEM root certificates c2pa should trust (else a valid manifest reads
    as ``"Valid"``, not ``"Trusted"``). Raises :class:`ManifestError` if there is no
    manifest or no zkimg assertion, :class:`InvalidBundle` if the bundle is malformed.
    Everything read is untrusted until :func:`zkimg.verify` has checked it.
    """
    c2pa = _c2pa()
    path = Path(image)
    check_regular(path, "image", ManifestError)
    ctx = c2pa.Context.from_dict({"trust": {"trust_anchors": trust_anchors.decode()}}) if trust_anchors else None
    try:
        with c2pa.Reader(str(path), context=ctx) as r:
            store = json.loads(r.json())
            state = r.get_validation_state() or "Invalid"
            results = r.get_validation_results() or {}
    except c2pa.C2paError as e:
        if "ManifestNotFound" in type(e).__name__ or "ManifestNotFound" in str(e):
            raise ManifestError(f"{path.name} has no C2PA manifest") from e
        raise ManifestError(f"cannot read the C2PA manifest of {path.name}: {e}") from e
    except (OSError, ValueError) as e:
        raise ManifestError(f"cannot read the C2PA manifest of {path.name}: {e}") from e
    manifest = _get(_get(store, "manifests", dict), store.get("active_manifest"), dict)
    data = None
    for a in manifest.get("assertions", []) if isinstance(manifest.get("assertions"), list) else []:
        if isinstance(a, dict) and a.get("label") == ASSERTION_LABEL:
            data = a.get("data")
    if data is None:
        raise ManifestError(f"{path.name}'s C2PA manifest has no {ASSERTION_LABEL} assertion")
    if not isinstance(data, dict) or data.get("media_type") != MEDIA_TYPE:
        raise InvalidBundle(f"the {ASSERTION_LABEL} assertion does not hold a zkimg bundle")
    sidecar = None
    if "bundle" in data:
        text = data["bundle"]
        if not isinstance(text, str) or len(text) > (limits.max_bundle_bytes * 4) // 3 + 4:
            raise InvalidBundle("the embedded bundle is not a base64 string within max_bundle_bytes")
        try:
            bundle = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as e:
            raise InvalidBundle(f"the embedded bundle is not valid base64: {e}") from e
    else:
        bundle, sidecar = _sidecar(path, data.get("sidecar"), limits)
    failures = tuple(str(f.get("code")) for f in
                     _get(_get(results, "activeManifest", dict), "failure", list) if isinstance(f, dict))
    sig = manifest.get("signature_info")
    signer = str(sig.get("common_name") or sig.get("issuer") or "") if isinstance(sig, dict) else ""
    return ManifestReading(Attestation.loads(bundle, limits), str(state), failures, signer, sidecar)


def _get(d: Any, key: Any, kind: type) -> Any:
    v = d.get(key) if isinstance(d, dict) and isinstance(key, str) else None
    if not isinstance(v, kind):
        if kind is list:
            return []
        raise ManifestError("the C2PA manifest store has no active manifest")
    return v


def _sidecar(image: Path, ref: Any, limits: Limits) -> Tuple[bytes, Path]:
    """The bundle file a manifest names: a bare file name beside the image, checked by SHA-256."""
    if not (isinstance(ref, dict) and isinstance(ref.get("name"), str) and isinstance(ref.get("sha256"), str)):
        raise InvalidBundle("the zkimg assertion names neither an embedded bundle nor a sidecar")
    name = ref["name"]
    if (name != Path(name).name or name in ("", ".", "..") or len(name) > 255
            or any(ord(ch) < 32 or ord(ch) == 127 for ch in name)):  # a bare, printable file name beside the image
        raise InvalidBundle(f"sidecar name {reprlib.repr(name)} must be a bare file name")
    p = image.with_name(name)
    data = read_bounded(p, limits.max_bundle_bytes, "sidecar bundle", ManifestError)
    if hashlib.sha256(data).hexdigest() != ref["sha256"].lower():
        raise InvalidBundle(f"sidecar {name} does not match the SHA-256 in the signed manifest")
    return data, p

"""The attested device: a signing key that commits to photos tile by tile and signs the root.

Keys are Ed25519 (default) or ECDSA P-256 through pycryptodome, stored as PEM. A capture's
public part (:class:`SignedCapture`: layout, cell commitments, root, signature, camera key)
and its secret part (:class:`CaptureSecrets`: pixels and salts) are kept apart; the secret
file is written owner-only.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import zipfile
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Dict, Optional, Tuple

import numpy as np
from Crypto.Hash import SHA256
from Crypto.PublicKey import ECC
from Crypto.Signature import DSS, eddsa

from ._codec import canonical_json, felt_from_hex, felt_to_hex, parse_json, require_keys
from ._fileio import open_regular, read_bounded, write_atomic, write_private
from ._pool import executor_for
from ._validate import as_int, check_image
from .errors import InvalidImage, InvalidKey, InvalidParameter, InvalidRecord, RootMismatch, SignatureInvalid
from .hazmat.circuits import CircuitStore
from .hazmat.commitments import DEFAULT_SCHEME, SALT_BYTES, new_salt, scheme_for_layout
from .hazmat.tiles import TileLayout
from .limits import DEFAULT_LIMITS, MAX_CHANNELS, MAX_KEY_BYTES, MAX_LOGROWS, MAX_TILE, Limits
from .progress import ProgressCallback, report

SIGNATURE_DOMAIN = b"zkimg/capture-root/v1\x00"
CAPTURE_MEDIA_TYPE = "application/vnd.zkimg.capture+json"
CURVES = {"Ed25519": "Ed25519", "P-256": "NIST P-256"}
DEFAULT_TILE = 32
PARALLEL_CELLS = 2048  # below this, starting worker processes costs more than it saves
PARALLEL_KZG_CELLS = 256  # KZG columns cost far more each (a column of 2^K rows, most of it padding)
DEFAULT_BORDER = 2  # covers 3×3 and 5×5 blur halos; 1 + 4·2/32 ≈ 1.25 values hashed per value
#: The capture format of new Poseidon captures: 3 (31 bytes per field element); format 1
#: captures (16 bytes) still verify.
POSEIDON_FORMAT = 3


def capture_message(layout: TileLayout, root: int) -> bytes:
    """The exact bytes a camera signs: domain tag, layout (with the scheme's parameters, if
    any, as canonical JSON), then the root (32 bytes, little-endian)."""
    header = struct.pack(">6I", layout.version, layout.width, layout.height, layout.channels,
                         layout.tile, layout.border)
    if layout.scheme_params:  # a scheme's capture parameters (format 2 on), length-prefixed
        params = canonical_json(dict(layout.scheme_params))
        header += struct.pack(">I", len(params)) + params
    return SIGNATURE_DOMAIN + header + root.to_bytes(32, "little")


class PublicKey:
    """A camera's public key. ``key_id`` is the SHA-256 (hex) of its DER SubjectPublicKeyInfo."""

    def __init__(self, key: ECC.EccKey) -> None:
        if key.has_private():
            key = key.public_key()
        if key.curve not in CURVES.values():
            raise InvalidParameter("key", f"unsupported curve {key.curve}")
        self._key = key

    @property
    def curve(self) -> str:
        return "Ed25519" if self._key.curve == "Ed25519" else "P-256"

    def der(self) -> bytes:
        return self._key.export_key(format="DER")

    def pem(self) -> str:
        return self._key.export_key(format="PEM")

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.der()).hexdigest()

    @classmethod
    def from_pem(cls, data: str | bytes) -> "PublicKey":
        return cls(_import_key(data, private=False))

    @classmethod
    def from_der(cls, data: bytes) -> "PublicKey":
        return cls(_import_key(data, private=False))

    @classmethod
    def load(cls, path: str | Path) -> "PublicKey":
        """Read a public key file (PEM or DER). A private key is refused: a verifier's trust
        list holds public keys only, and a private key there is a key leaked or mixed up."""
        data = read_bounded(path, MAX_KEY_BYTES, "public key", InvalidKey)
        try:
            key = _import_key(data, private=False)
        except InvalidKey as e:
            raise InvalidKey(f"public key {path}: {e}") from e
        if key.has_private():
            raise InvalidKey(f"{path} holds a private key: pass the camera's public key (.pub.pem)")
        return cls(key)

    def verify(self, message: bytes, signature: bytes) -> None:
        """Raise :class:`SignatureInvalid` unless ``signature`` is valid for ``message``."""
        try:
            if self.curve == "Ed25519":
                eddsa.new(self._key, "rfc8032").verify(message, signature)
            else:
                DSS.new(self._key, "fips-186-3").verify(SHA256.new(message), signature)
        except (ValueError, TypeError) as e:
            raise SignatureInvalid("the camera signature does not verify") from e

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and self.der() == other.der()

    def __hash__(self) -> int:
        return hash(self.der())

    def __repr__(self) -> str:
        return f"PublicKey({self.curve}, id={self.key_id[:16]})"


def _import_key(data: str | bytes, private: bool, passphrase: Optional[str] = None) -> ECC.EccKey:
    if not isinstance(data, (str, bytes)) or len(data) > MAX_KEY_BYTES:
        raise InvalidKey("a key is PEM/DER data of bounded size")
    if not data.strip():
        raise InvalidKey("the file is empty: expected an Ed25519 or P-256 key in PEM or DER form")
    try:
        key = ECC.import_key(data, passphrase=passphrase)
    except (ValueError, IndexError, TypeError, KeyError) as e:
        encrypted = b"ENCRYPTED" in (data.encode() if isinstance(data, str) else data)
        if encrypted:
            hint = ("the key is encrypted and the passphrase is missing or wrong" if not passphrase
                    else "the passphrase is wrong")
        else:
            hint = "not an Ed25519 or P-256 key in PEM or DER form"
        raise InvalidKey(hint) from e
    if private and not key.has_private():
        raise InvalidKey("this is a public key; signing needs the camera's private key (not the .pub.pem)")
    if key.curve not in CURVES.values():
        raise InvalidKey(f"unsupported curve {key.curve}")
    return key


@dataclass(frozen=True)
class SignedCapture:
    """The public record of a capture: what a verifier needs besides the bundle's proofs."""

    layout: TileLayout
    cell_commitments: Tuple[int, ...]
    root: int
    signature: bytes
    camera_key: PublicKey

    def to_json(self) -> Dict[str, Any]:
        return {
            "layout": self.layout.to_json(),
            "cell_commitments": [self.layout.scheme.commitment_to_hex(x) for x in self.cell_commitments],
            "root": felt_to_hex(self.root),
            "signature": self.signature.hex(),
            "camera_key": self.camera_key.der().hex(),
        }

    @classmethod
    def from_json(cls, c: Any, limits: Limits = DEFAULT_LIMITS) -> "SignedCapture":
        """Parse an untrusted capture record (InvalidRecord if malformed or over ``limits``).

        Parsing does not check the root or the signature: :meth:`verify` does.
        """
        require_keys(c, {"layout", "cell_commitments", "root", "signature", "camera_key"}, "capture", InvalidRecord)
        lay = c["layout"]
        keys = {"version", "width", "height", "channels", "tile", "border"}
        if not isinstance(lay, dict) or type(lay.get("version")) is not int:  # True == 1 in Python
            raise InvalidRecord("layout must be an object with an integer version")
        try:
            scheme_for_layout(lay["version"])
        except InvalidParameter as e:
            raise InvalidRecord(f"unsupported layout version {lay['version']!r}: {e}") from e
        require_keys(lay, keys | ({"scheme"} if "scheme" in lay else set()), "layout", InvalidRecord)
        params = lay.get("scheme", {})
        if "scheme" in lay and (not isinstance(params, dict) or not 0 < len(params) <= 16):
            raise InvalidRecord("layout.scheme, present only for a scheme with parameters, is an object of them")
        w, h = lay["width"], lay["height"]
        if (isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0
                and w * h > limits.max_image_pixels):
            raise InvalidRecord(f"declared image of {w}×{h} pixels exceeds max_image_pixels={limits.max_image_pixels}")
        try:
            layout = TileLayout(w, h, lay["channels"], lay["tile"], lay["border"], lay["version"],
                                tuple(sorted(params.items())))
        except (InvalidParameter, TypeError) as e:
            raise InvalidRecord(f"invalid layout: {e}") from e
        if layout.cell_count > limits.max_cells:
            raise InvalidRecord(f"declared layout has {layout.cell_count} cells, over max_cells={limits.max_cells}")
        cells = c["cell_commitments"]
        if not isinstance(cells, list) or len(cells) != layout.cell_count:
            raise InvalidRecord("cell_commitments must list one commitment per cell of the layout")
        sig = c["signature"]
        if not isinstance(sig, str) or not 0 < len(sig) <= 512:
            raise InvalidRecord("signature must be a short hex string")
        key_hex = c["camera_key"]
        if not isinstance(key_hex, str) or len(key_hex) > 1024:
            raise InvalidRecord("camera_key must be a short hex string")
        try:
            commitments = tuple(layout.scheme.commitment_from_hex(x, "a cell commitment", InvalidRecord) for x in cells)
            root = felt_from_hex(c["root"], "root", InvalidRecord)
            return cls(layout, commitments, root, bytes.fromhex(sig), PublicKey.from_der(bytes.fromhex(key_hex)))
        except InvalidRecord:
            raise
        except (InvalidKey, ValueError) as e:  # a key or hex that does not parse
            raise InvalidRecord(f"malformed capture record: {e}") from e

    def dumps(self) -> bytes:
        """The public capture record as canonical JSON (safe to publish)."""
        return canonical_json({"media_type": CAPTURE_MEDIA_TYPE, "capture": self.to_json()})

    def save(self, path: str | Path) -> None:
        """Write :meth:`dumps` to ``path``, atomically."""
        write_atomic(path, self.dumps())

    @classmethod
    def load(cls, path: str | Path, limits: Limits = DEFAULT_LIMITS) -> "SignedCapture":
        data = read_bounded(path, limits.max_bundle_bytes, "capture record", InvalidRecord)
        d = parse_json(data, limits.max_bundle_bytes, "capture record", InvalidRecord)
        require_keys(d, {"media_type", "capture"}, "capture record file", InvalidRecord)
        if d["media_type"] != CAPTURE_MEDIA_TYPE:
            raise InvalidRecord(f"not a zkimg capture record (media type {d['media_type']!r})")
        return cls.from_json(d["capture"], limits)

    def verify(self) -> None:
        """Check the signature over the declared layout and root (cheap), then the root
        against the cell commitments (one hash per cell): a forged record costs one signature
        check, whatever it declares."""
        self.check_signature()
        self.check_root()

    def check_signature(self) -> None:
        """:class:`SignatureInvalid` unless the camera key signed this layout and root."""
        self.camera_key.verify(capture_message(self.layout, self.root), self.signature)

    def check_root(self) -> None:
        """:class:`RootMismatch` unless the cell commitments hash to the root."""
        if self.layout.root(self.cell_commitments) != self.root:
            raise RootMismatch("the cell commitments do not hash to the signed root")


@dataclass(frozen=True)
class CaptureSecrets:
    """The image owner's secrets: the pixels and one salt per cell. Never publish these."""

    pixels: np.ndarray
    salts: Tuple[bytes, ...]

    def dumps(self) -> bytes:
        """The secrets as an ``.npz`` archive (pixels, salts). Secret: keep it owner-only."""
        buf = io.BytesIO()
        salts = np.frombuffer(b"".join(self.salts), dtype=np.uint8)
        if self.salts and len(self.salts[0]) != SALT_BYTES:  # one row per cell (the KZG scheme's salts)
            salts = salts.reshape(len(self.salts), -1)
        np.savez(buf, pixels=self.pixels, salts=salts)
        return buf.getvalue()

    def save(self, path: str | Path) -> None:
        """Write to ``path`` with owner-only permissions (0600), atomically."""
        write_private(path, self.dumps())

    @classmethod
    def load(cls, path: str | Path, limits: Limits = DEFAULT_LIMITS) -> "CaptureSecrets":
        """Read a secrets file; declared array sizes are checked against ``limits`` before loading."""
        bounds = {"pixels.npy": limits.max_image_pixels * MAX_CHANNELS, "salts.npy": limits.max_cells * SALT_BYTES}
        with open_regular(path, "capture secrets file", InvalidRecord) as handle:
            return cls._read(handle, bounds)

    @classmethod
    def _read(cls, handle: BinaryIO, bounds: Dict[str, int]) -> "CaptureSecrets":
        try:
            with zipfile.ZipFile(handle) as z:
                if sorted(z.namelist()) != sorted(bounds):
                    raise InvalidRecord("a capture secrets file holds exactly 'pixels' and 'salts'")
                for name, bound in bounds.items():
                    with z.open(name) as f:
                        major, _ = np.lib.format.read_magic(f)
                        read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                        shape, _, dtype = read(f)
                    if dtype != np.uint8 or math.prod(shape) > bound:
                        raise InvalidRecord(f"capture secrets: {name} is not uint8 or larger than the limits allow")
            handle.seek(0)
            with np.load(handle, allow_pickle=False) as z:
                pixels, salts = z["pixels"], z["salts"]
        except InvalidRecord:
            raise
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, NotImplementedError) as e:
            raise InvalidRecord(f"not a capture secrets file: {e}") from e
        try:
            check_image(pixels, "pixels")
        except InvalidImage as e:
            raise InvalidRecord(f"capture secrets: {e}") from e
        if salts.dtype != np.uint8 or salts.ndim not in (1, 2) or (salts.ndim == 1 and salts.size % SALT_BYTES):
            raise InvalidRecord("malformed salts in capture secrets file")
        if salts.ndim == 2:  # one row per cell
            return cls(pixels, tuple(bytes(row) for row in salts))
        raw = salts.tobytes()
        return cls(pixels, tuple(raw[i:i + SALT_BYTES] for i in range(0, len(raw), SALT_BYTES)))


@dataclass(frozen=True)
class Capture:
    """A capture: the public :class:`SignedCapture` plus the owner's :class:`CaptureSecrets`.

    Construction checks that the two belong together (image shape, one salt per cell, and
    the first and last cells' commitments), so mismatched files fail at once, not after
    hours of proving.
    """

    signed: SignedCapture
    secrets: CaptureSecrets

    def __post_init__(self) -> None:
        lay, px, salts = self.signed.layout, self.secrets.pixels, self.secrets.salts
        if px.shape != (lay.height, lay.width, lay.channels) or len(salts) != len(self.signed.cell_commitments):
            raise InvalidParameter("secrets", "these capture secrets are not the ones of this capture record "
                                   f"(pixels {px.shape}, {len(salts)} salts)")
        for salt in salts:
            lay.scheme.check_salt(salt, "secrets")
        if not lay.scheme.commits_natively:  # checked by the prover against its first proof
            return
        for i in {0, len(salts) - 1}:
            if lay.scheme.commit(lay.cell_pixels(px, lay.cells[i]), salts[i]) != self.signed.cell_commitments[i]:
                raise InvalidParameter("secrets", "these capture secrets are not the ones of this capture "
                                       f"record (cell {i} does not open its commitment)")


class Camera:
    """A signing key that attests photos."""

    def __init__(self, key: ECC.EccKey) -> None:
        if not key.has_private():
            raise InvalidParameter("key", "a camera needs a private key")
        self._key = key
        self.public_key = PublicKey(key.public_key())

    @classmethod
    def generate(cls, curve: str = "Ed25519") -> "Camera":
        if curve not in CURVES:
            raise InvalidParameter("curve", f"must be one of {sorted(CURVES)}")
        return cls(ECC.generate(curve=CURVES[curve]))

    def private_pem(self, passphrase: Optional[str] = None) -> bytes:
        """The private key as PKCS#8 PEM; encrypted if ``passphrase``. Secret: keep it owner-only."""
        if passphrase:
            pem = self._key.export_key(format="PEM", passphrase=passphrase, use_pkcs8=True,
                                       protection="PBKDF2WithHMAC-SHA512AndAES256-CBC")
        else:
            pem = self._key.export_key(format="PEM")
        return str(pem).encode()

    def save(self, path: str | Path, passphrase: Optional[str] = None) -> None:
        """Write the private key as PKCS#8 PEM, owner-only (0600); encrypted if ``passphrase``."""
        write_private(path, self.private_pem(passphrase))

    @classmethod
    def load(cls, path: str | Path, passphrase: Optional[str] = None) -> "Camera":
        """Read a private camera key file (PEM or DER, as :meth:`save` writes it)."""
        data = read_bounded(path, MAX_KEY_BYTES, "camera key", InvalidKey)
        try:
            return cls(_import_key(data, private=True, passphrase=passphrase))
        except InvalidKey as e:
            raise InvalidKey(f"camera key {path}: {e}") from e

    def sign(self, message: bytes) -> bytes:
        if self.public_key.curve == "Ed25519":
            return eddsa.new(self._key, "rfc8032").sign(message)
        return DSS.new(self._key, "fips-186-3").sign(SHA256.new(message))

    def capture(self, image: np.ndarray, tile: int = DEFAULT_TILE, border: Optional[int] = None, *,
                scheme: str = DEFAULT_SCHEME, logrows: Optional[int] = None, store: Optional[CircuitStore] = None,
                progress: Optional[ProgressCallback] = None, executor: Optional[Executor] = None) -> Capture:
        """Commit to ``image`` (uint8 H×W×C) cell by cell with fresh salts and sign the root.

        ``tile``: tile side in pixels (default 32); ``border``: width of the separately
        committed border cells (default ``min(2, tile // 4)`` under Poseidon, 0 under KZG);
        ``progress("commit", done, total)`` as cells are committed. Hashing runs on
        ``executor`` if given; by default an image of at least ``PARALLEL_CELLS`` cells is
        hashed on a local process pool sized to the machine, a smaller one in this process.

        ``scheme``: ``"poseidon"`` (portable: salted Poseidon hashes, no SRS) or ``"kzg"``
        (fast proving: each cell a KZG column of ``2^logrows`` rows under ``store``'s SRS, whose
        digest the capture signs; ``logrows`` defaults to
        :func:`~zkimg.hazmat.kzg_scheme.default_logrows`). See the README for which to pick.
        """
        check_image(image)
        h, w, c = image.shape
        if scheme == "kzg":
            return self._capture_kzg(image, tile, border, logrows, store, progress, executor)
        if scheme != "poseidon":
            raise InvalidParameter("scheme", f"must be 'poseidon' or 'kzg', got {scheme!r}")
        if logrows is not None:
            raise InvalidParameter("logrows", "only the kzg scheme has a column height")
        if border is None:
            border = min(DEFAULT_BORDER, tile // 4) if isinstance(tile, int) else DEFAULT_BORDER
        layout = TileLayout(w, h, c, tile, border, POSEIDON_FORMAT)
        salts = tuple(new_salt() for _ in layout.cells)
        with executor_for(executor, layout.cell_count, PARALLEL_CELLS) as pool:
            cells = tuple(layout.commit_cells(image, salts, progress, pool))
        return self._sign(layout, image, cells, salts)

    def _capture_kzg(self, image: np.ndarray, tile: int, border: Optional[int], logrows: Optional[int],
                     store: Optional[CircuitStore], progress: Optional[ProgressCallback],
                     executor: Optional[Executor]) -> Capture:
        from .hazmat.kzg_scheme import KZGScheme, commit_cells, default_logrows

        h, w, c = image.shape
        store = store if store is not None else CircuitStore()
        if logrows is None:
            logrows = default_logrows(as_int(tile, "tile", 4, MAX_TILE), c)
        k = as_int(logrows, "logrows", 8, MAX_LOGROWS)
        scheme = KZGScheme(k, srs_sha256=store.srs.digest(k))
        layout = TileLayout(w, h, c, tile, 0 if border is None else border, scheme.layout_version, scheme.params)
        scheme.check_cells(layout)
        salts = tuple(scheme.new_salt() for _ in layout.cells)
        report(progress, "commit", 0, layout.cell_count)
        with executor_for(executor, layout.cell_count, PARALLEL_KZG_CELLS) as pool:
            cells = tuple(commit_cells(layout, image, salts, store, pool))
        report(progress, "commit", layout.cell_count, layout.cell_count)
        return self._sign(layout, image, cells, salts)

    def _sign(self, layout: TileLayout, image: np.ndarray, cells: Tuple[int, ...], salts: Tuple[bytes, ...]) -> Capture:
        root = layout.root(cells)
        signed = SignedCapture(layout, cells, root, self.sign(capture_message(layout, root)), self.public_key)
        return Capture(signed, CaptureSecrets(np.array(image, copy=True), salts))

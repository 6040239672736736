"""The fast scheme: KZG commitments to tile columns, re-randomised and linked per proof
(DESIGN.md, "Commitments (KZG): the fast scheme").

**Capture.** Parameters fixed and signed with the capture (:attr:`KZGScheme.params`): the
column height ``2^K`` (``logrows``), the salt slots ``s ≥ 5``, the unusable rows (6: ezkl
writes 1 into the last ``blinding factors + 1`` rows of an unblinded column) and the SHA-256
of the SRS file for ``K``. A cell of ``n`` values is the column ``w``: the values in raster
order (H, W, C) in rows ``[0, n)``, ``s`` uniformly random field elements (the cell's salt) in
rows ``J = [n, n + s)``, zeros up to row ``2^K − 6``, ones after. Its commitment is
``C = Σ w_i·L_i`` with ``L_i`` the SRS file's Lagrange points (:class:`LagrangeBasis`); the
camera computes it with ``ezkl.kzg_commit`` (the same function the prover's column goes
through), pinned to a pure-Python MSM and to ezkl's proofs by known-answer tests. A column
holds at most ``2^K − 8`` values (at ``2^K − 7`` ezkl adds a second column).
The image root is SHA-256 over the layout header, these parameters and every cell's point.

**Circuit.** Every input tensor is a ``polycommit`` column of its own (ezkl applies one
visibility to all inputs): ``part_i`` = cell ``i``'s values then ``s`` salt slots, and one
``hints`` tensor (every rounding hint, then ``s`` fresh random slots, so that the prover's
hints are hidden the same way). The graph reads only rows ``[0, n)`` (constant gathers); no
constraint touches a salt row. The circuit is laid out at exactly ``2^K`` rows. A public
output's values are the proof's instances, supplied by the verifier from the published image.

**Hidden outputs and chains.** A hidden output tile is a committed column of its own (ezkl's
``polycommit`` output, the proof's point after every input's): its ``m`` values in rows
``[0, m)``, then ``t``, ``s`` fresh random field elements (the output's salt, the prover's
secret), zeros, ones. ezkl copies the computed output cells into that column (copy
constraints: ``VarTensor::assign`` of assigned cells is ``copy_advice``), so rows ``[0, m)``
are the circuit's output. ``t`` enters as the input ``output_salt`` = ``t`` ‖ ``f`` (``s`` more
fresh slots): the verifier sees two points and two openings, four linear images of the ``2s``
fresh uniform values ``t, f``, which mask both columns; an output never reuses an input's salt
rows (that would reveal ``in(τ) − out(τ)``). The bundle
declares each output point; the verifier requires the proof's to be exactly it. A hidden
intermediate is then read by the next segment like a capture cell (same ``K``, salt slots and
SRS; ``n = m``): re-randomised and linked to the declared point. The consumer reads only rows
``[0, m)``, which the producer's circuit constrains; the other rows of a producer's column are
its own business (the link binds the whole column, the consumer's graph never reads them).
The owner of a hidden final output can open it later with the values and ``t``
(:meth:`KZGScheme.commit_with` reproduces the point).

**Per proof.** The prover draws fresh ``δ ∈ F_r^s`` (CSPRNG) and proves with salts ``r + δ``,
so the proof's first point for part ``i`` (bytes ``[64·i, 64·i + 64)`` of the proof ezkl
verifies) is ``C' = C + Σ δ_j·G_j`` with ``G_j = L_{n+j}``. It attaches a Schnorr proof of
knowledge of ``δ`` for ``C' − C`` (:func:`make_link`): nonce point ``T = Σ k_j·G_j``, challenge
``e = SHA-512(tag, SRS digest, K, n, s, root, job, cell, vk digest, input index, C, C', T) mod r``,
responses ``z_j = k_j + e·δ_j mod r``; 64 + 32·s bytes (224 for ``s = 5``).

**The verifier** derives ``J``, ``G_j`` (from its own SRS file, whose digest must be the
signed one), ``C`` (from the signed capture), reads ``C'`` from the proof bytes it hands to
ezkl, decodes every point strictly, refuses ``C' = C`` and a ``C'`` repeated in a bundle,
checks each link (:func:`check_link`), then the halo2 proof.

**Why it binds** (only while nobody knows the SRS's ``τ``): knowledge soundness of the halo2
proof yields the column ``w'`` with ``[w'(τ)] = C'``; the link yields ``δ`` with
``C' − C = [Σ δ_j·L_{n+j}(τ)]``; so ``w' − w − Σ δ_j·e_{n+j}`` commits to zero. If it were
not the zero vector it would be a non-zero polynomial of degree ``< 2^K`` vanishing at ``τ``,
and its roots reveal ``τ``. Hence every non-salt row of ``w'`` is the camera's. With an SRS
whose ``τ`` someone knows (a development SRS), a one-value forgery passes both ezkl and the
link (tests/test_kzg.py shows it), which is why the verifier's policy must opt in to such an SRS.

**Why it hides**, for any number of proofs: the column has only equality enabled, so each proof
opens it at one point ``x``; the verifier sees ``C'`` and ``w'(x)``. The ``s`` salt rows are
fresh uniform values in every proof (``r + δ`` with fresh ``δ``) and mask both as long as
``s ≥ 1 +`` the openings per proof (1 here); ``s = 5`` leaves margin. The same holds for the
``hints`` column. Reusing ``δ`` across proofs would repeat ``C'``: the verifier refuses that.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import threading
from concurrent.futures import Executor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .._codec import BYTE_HEX, felt_from_hex, felt_to_hex
from ..errors import CircuitError, CommitmentMismatch, InvalidParameter, LinkInvalid, ProvingError
from ..limits import MAX_LOGROWS
from . import bn254
from .commitments import CommitmentScheme, ProofContext, SchemeParams

if TYPE_CHECKING:
    from .circuits import CircuitStore
    from .lowering import CircuitSpec, GraphBuilder
    from .tiles import TileLayout

LAYOUT_VERSION = 2
MIN_SALT_SLOTS = 5
MAX_SALT_SLOTS = 64
DEFAULT_SALT_SLOTS = 5
#: Rows at the end of every unblinded column that ezkl fills with 1 (blinding factors + 1).
UNUSABLE_ROWS = 6
#: A column holds at most ``2^K − COLUMN_MARGIN`` values (more and ezkl adds a second column).
COLUMN_MARGIN = 8
MIN_LOGROWS = 8
LINK_DOMAIN = b"zkimg/kzg-link/v1\x00"
ROOT_DOMAIN = b"zkimg/kzg-root/v1\x00"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_PARAM_KEYS = ("logrows", "salt_slots", "srs_sha256", "unusable_rows")


def column_capacity(logrows: int) -> int:
    """Values one committed column of ``2^logrows`` rows holds (data and salt slots)."""
    return int(2 ** logrows) - COLUMN_MARGIN


def point_int(p: Tuple[int, int]) -> int:
    """A point as the integer zkimg stores commitments as: its 64-byte encoding, big-endian."""
    return int(int.from_bytes(bn254.encode(p), "big"))


def int_point(c: int, what: str = "a commitment", error: type = CircuitError) -> Tuple[int, int]:
    if not isinstance(c, int) or not 0 <= c < 1 << 512:
        raise error(f"{what} is not a 64-byte point")
    return bn254.decode(c.to_bytes(64, "big"), what, error)


# --------------------------------------------------------------------------- SRS points


class LagrangeBasis:
    """The Lagrange points of one SRS file (halo2's raw format: ``k`` as 4 bytes little-endian,
    ``2^k`` monomial points, ``2^k`` Lagrange points, then G2 points), read on demand."""

    def __init__(self, path: Path, logrows: int) -> None:
        self.path, self.logrows = Path(path), logrows
        with open(self.path, "rb") as f:
            head = f.read(4)
        if len(head) != 4 or int.from_bytes(head, "little") != logrows:
            raise CircuitError(f"{path} is not an SRS file for logrows={logrows}")
        if self.path.stat().st_size < 4 + 2 * 64 * 2 ** logrows:
            raise CircuitError(f"{path} is too short for an SRS of logrows={logrows}")
        self._points: Dict[int, Tuple[int, int]] = {}
        self._lock = threading.Lock()

    def point(self, row: int) -> Tuple[int, int]:
        """``L_row``, the commitment to the column with a single 1 in ``row``."""
        if not 0 <= row < 2 ** self.logrows:
            raise IndexError(row)
        with self._lock:
            known = self._points.get(row)
        if known is not None:
            return known
        with open(self.path, "rb") as f:
            f.seek(4 + 64 * 2 ** self.logrows + 64 * row)
            p = bn254.decode_srs(f.read(64), f"Lagrange point {row} of {self.path}", CircuitError)
        with self._lock:
            self._points[row] = p
        return p

    def commit(self, values: Sequence[int], salts: Sequence[int]) -> Tuple[int, int]:
        """The column commitment of ``values ‖ salts`` (pure Python: a reference for tests)."""
        n = 2 ** self.logrows
        column = list(values) + list(salts)
        rows = [i for i, v in enumerate(column) if v % bn254.R]
        unusable = list(range(n - UNUSABLE_ROWS, n))
        p = bn254.msm([column[i] for i in rows] + [1] * UNUSABLE_ROWS, [self.point(i) for i in rows + unusable])
        if p is None:
            raise CircuitError("a column commitment is the identity")
        return p


_BASES: Dict[Tuple[str, int, int, int], LagrangeBasis] = {}
_BASES_LOCK = threading.Lock()


def lagrange_basis(path: Path, logrows: int) -> LagrangeBasis:
    """The :class:`LagrangeBasis` of the SRS file at ``path`` (cached per file version)."""
    st = Path(path).stat()
    key = (str(path), logrows, st.st_size, st.st_mtime_ns)
    with _BASES_LOCK:
        if key not in _BASES:
            _BASES[key] = LagrangeBasis(Path(path), logrows)
        return _BASES[key]


# --------------------------------------------------------------------------- link proofs


def _salt_felts(salt: bytes) -> List[int]:
    return [int.from_bytes(salt[i:i + 32], "little") for i in range(0, len(salt), 32)]


def _challenge(scheme: "KZGScheme", n: int, context: ProofContext, index: int, c: bytes, c2: bytes, t: bytes) -> int:
    h = hashlib.sha512(LINK_DOMAIN)
    for part in (bytes.fromhex(scheme.srs_sha256), scheme.logrows.to_bytes(4, "big"), n.to_bytes(4, "big"),
                 scheme.salt_slots.to_bytes(4, "big"), context.root.to_bytes(64, "big"),
                 context.job.to_bytes(8, "big"), context.cells[index].to_bytes(8, "big"),
                 bytes.fromhex(context.vk_digest), index.to_bytes(4, "big"), c, c2, t):
        h.update(len(part).to_bytes(2, "big") + part)
    return int.from_bytes(h.digest(), "big") % bn254.R


def make_link(scheme: "KZGScheme", bases: Sequence[Tuple[int, int]], n: int, context: ProofContext, index: int,
              c: bytes, c2: bytes, deltas: Sequence[int]) -> bytes:
    """Schnorr proof of knowledge of ``deltas`` with ``C' − C = Σ δ_j·G_j``: ``T ‖ z_0 … z_{s−1}``."""
    while True:
        nonces = [secrets.randbelow(bn254.R) for _ in bases]
        t = bn254.msm(nonces, bases)
        if t is not None:
            break
    t_bytes = bn254.encode(t)
    e = _challenge(scheme, n, context, index, c, c2, t_bytes)
    return t_bytes + b"".join(((k + e * d) % bn254.R).to_bytes(32, "big") for k, d in zip(nonces, deltas))


def check_link(scheme: "KZGScheme", bases: Sequence[Tuple[int, int]], n: int, context: ProofContext, index: int,
               c: bytes, c2: bytes, link: bytes) -> None:
    """:class:`LinkInvalid` unless ``link`` proves knowledge of ``δ`` with ``C' − C = Σ δ_j·G_j``."""
    where = f"input {index} (cell {context.cells[index]})"
    if len(link) != scheme.link_bytes:
        raise LinkInvalid(f"{where}: a link proof is {scheme.link_bytes} bytes")
    t = bn254.decode(link[:64], f"{where}: the link's nonce point", LinkInvalid)
    z = [int.from_bytes(link[64 + 32 * j:96 + 32 * j], "big") for j in range(len(bases))]
    if any(v >= bn254.R for v in z):
        raise LinkInvalid(f"{where}: a link response is not below the group order")
    e = _challenge(scheme, n, context, index, c, c2, link[:64])
    diff = bn254.add(bn254.decode(c2, "C'", LinkInvalid), bn254.neg(bn254.decode(c, "C", LinkInvalid)))
    # Σ z_j·G_j − e·(C' − C) must be T.
    if bn254.msm(z + [bn254.R - e], list(bases) + [diff]) != t:
        raise LinkInvalid(f"{where}: the proof's committed input is not the signed commitment re-randomised "
                          "in its salt rows")


# --------------------------------------------------------------------------- the scheme


class KZGScheme(CommitmentScheme):
    """Cells committed as KZG columns; see the module docstring for the construction."""

    name: ClassVar[str] = "kzg"
    layout_version: ClassVar[int] = LAYOUT_VERSION
    commits_natively: ClassVar[bool] = False
    integer_graph: ClassVar[bool] = True  # int64 end to end: no Cast copies before lookups
    run_args: Mapping[str, Any]  # type: ignore[misc]  # per instance: logrows is the capture's

    def __init__(self, logrows: Optional[int] = None, salt_slots: int = DEFAULT_SALT_SLOTS,
                 srs_sha256: Optional[str] = None) -> None:
        self.logrows = logrows if logrows is not None else 0
        self.salt_slots = salt_slots
        self.srs_sha256 = srs_sha256 or ""
        self.salt_bytes = 32 * salt_slots
        self.hint_salt_slots = salt_slots
        self.run_args = {"input_visibility": "polycommit", "output_visibility": "public",
                         "param_visibility": "fixed", "logrows": self.logrows}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KZGScheme) and other.params == self.params

    def __hash__(self) -> int:
        return hash(self.params)

    def __repr__(self) -> str:
        return f"KZGScheme(logrows={self.logrows}, salt_slots={self.salt_slots}, srs={self.srs_sha256[:16]})"

    @property
    def configured(self) -> bool:
        return bool(self.logrows)

    def _require(self) -> None:
        if not self.configured:
            raise InvalidParameter("scheme", "the kzg scheme needs its capture parameters (logrows, SRS digest)")

    @property
    def params(self) -> SchemeParams:
        return (("logrows", self.logrows), ("salt_slots", self.salt_slots), ("srs_sha256", self.srs_sha256),
                ("unusable_rows", UNUSABLE_ROWS))

    def configure(self, params: SchemeParams) -> "KZGScheme":
        return KZGScheme.from_params(dict(params))

    @classmethod
    def from_params(cls, p: Mapping[str, Any]) -> "KZGScheme":
        """The scheme of a capture's parameters, validated as hostile input (InvalidParameter)."""
        if not isinstance(p, Mapping) or set(p) != set(_PARAM_KEYS):
            raise InvalidParameter("scheme_params", f"the kzg scheme's parameters are exactly {list(_PARAM_KEYS)}")
        k, s = p["logrows"], p["salt_slots"]
        if type(k) is not int or not MIN_LOGROWS <= k <= MAX_LOGROWS:
            raise InvalidParameter("logrows", f"must be an integer in [{MIN_LOGROWS}, {MAX_LOGROWS}]")
        if type(s) is not int or not MIN_SALT_SLOTS <= s <= MAX_SALT_SLOTS:
            raise InvalidParameter("salt_slots", f"must be an integer in [{MIN_SALT_SLOTS}, {MAX_SALT_SLOTS}]")
        if p["unusable_rows"] != UNUSABLE_ROWS or type(p["unusable_rows"]) is not int:
            raise InvalidParameter("unusable_rows", f"must be {UNUSABLE_ROWS} (what ezkl 23.0.5 writes)")
        digest = p["srs_sha256"]
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise InvalidParameter("srs_sha256", "must be 64 lowercase hex digits (the SRS file's SHA-256)")
        return cls(k, s, digest)

    def header_values(self) -> List[int]:
        self._require()
        return [self.logrows, self.salt_slots, UNUSABLE_ROWS, int(self.srs_sha256, 16)]

    @property
    def link_bytes(self) -> int:
        return 64 + 32 * self.salt_slots

    def check_cells(self, layout: "TileLayout") -> None:
        """InvalidParameter unless every cell of ``layout`` fits one column with its salt."""
        self._require()
        biggest = min(layout.tile, layout.height) * min(layout.tile, layout.width) * layout.channels
        if biggest + self.salt_slots > column_capacity(self.logrows):
            raise InvalidParameter("logrows", f"a {layout.tile} px tile of {layout.channels} channels needs "
                                              f"{biggest + self.salt_slots} rows; 2^{self.logrows} holds "
                                              f"{column_capacity(self.logrows)}")

    # ----- salts and native values

    def new_salt(self) -> bytes:
        return b"".join(secrets.randbelow(bn254.R).to_bytes(32, "little") for _ in range(self.salt_slots))

    def check_salt(self, salt: object, parameter: str = "salt") -> bytes:
        if not isinstance(salt, (bytes, bytearray)) or len(salt) != self.salt_bytes:
            raise InvalidParameter(parameter, f"must be {self.salt_bytes} bytes ({self.salt_slots} field elements)")
        if any(v >= bn254.R for v in _salt_felts(bytes(salt))):
            raise InvalidParameter(parameter, "every salt slot must be a field element (below r), little-endian")
        return bytes(salt)

    def commit(self, pixels: np.ndarray, salt: bytes) -> int:
        raise InvalidParameter("scheme", "a kzg commitment is made with an SRS: use kzg_scheme.commit_cells")

    def commit_with(self, basis: LagrangeBasis, pixels: np.ndarray, salt: bytes) -> int:
        """The cell commitment by a pure-Python MSM over ``basis`` (a reference; slow)."""
        return point_int(basis.commit([int(v) for v in np.asarray(pixels, np.uint8).ravel()],
                                      _salt_felts(self.check_salt(salt))))

    def hash_public(self, pixels: np.ndarray) -> int:
        raise InvalidParameter("scheme", "a kzg proof's public output is its pixels (public_instances)")

    def public_instances(self, inputs: Sequence[int], pixels: np.ndarray) -> Tuple[int, ...]:
        return tuple(np.asarray(pixels, np.uint8).ravel().tolist())

    def fold(self, values: Sequence[int]) -> int:
        h = hashlib.sha256(ROOT_DOMAIN + len(values).to_bytes(8, "big"))
        for v in values:
            h.update(int(v).to_bytes(64, "big"))
        return int.from_bytes(h.digest(), "big") % bn254.R

    def commitment_to_hex(self, c: int) -> str:
        return bn254.encode(int_point(c)).hex()

    def commitment_from_hex(self, s: Any, what: str, error: type) -> int:
        if not isinstance(s, str) or len(s) != 128 or not s.isascii():
            raise error(f"{what} must be 128 hex digits (a point: x ‖ y, big-endian)")
        try:
            data = bytes.fromhex(s)
        except ValueError as e:
            raise error(f"{what} must be hexadecimal") from e
        return point_int(bn254.decode(data, what, error))

    def committed_values(self, n_values: int) -> int:
        return 0  # nothing is hashed in the circuit

    # ----- circuit side

    def circuit_run_args(self, spec: "CircuitSpec") -> Mapping[str, Any]:
        """A hidden output is a committed column too (``polycommit``), else public."""
        return {**self.run_args, "output_visibility": "polycommit" if spec.hidden_output else "public"}

    def lower_circuit(self, g: "GraphBuilder", spec: "CircuitSpec", body: Callable[[str], str]) -> None:
        """Inputs ``part_i`` (values ‖ salt slots, one column each); the region is gathered from
        rows ``[0, n)`` only (wiring, no rows). No range check: each value read is, by the
        link and the binding argument above, the value committed in that row — a byte — which
        is what the lowering's tables assume. The output is public, or (hidden) the committed
        column ``values ‖ t``, with ``t`` the first ``s`` rows of the input ``output_salt``
        (``t`` ‖ ``s`` fresh slots that hide that input's own column)."""
        from .lowering import gather_region

        self._require()
        cap = column_capacity(self.logrows)
        sizes = [n + self.salt_slots for n in spec.part_sizes]
        if max(sizes) > cap:
            raise CircuitError(f"a part of {max(sizes) - self.salt_slots} values does not fit a column of 2^"
                               f"{self.logrows} rows")
        raw = [g.add_input(f"part_{i}", [n]) for i, n in enumerate(sizes)]
        salt_in = g.add_input("output_salt", [2 * self.salt_slots]) if spec.hidden_output else None
        starts = [0] + [int(x) for x in np.cumsum(sizes)]
        out = g.op("Reshape", [body(gather_region(g, g.concat(raw), starts, spec)),
                               g.const([int(np.prod(spec.output_shape))], np.int64)])
        n_out = int(np.prod(spec.output_shape))
        if salt_in is not None:
            if n_out + self.salt_slots > cap:
                raise CircuitError(f"a hidden output of {n_out} values does not fit a column of 2^{self.logrows} rows")
            t = g.op("Gather", [salt_in, g.const(np.arange(self.salt_slots), np.int64)], axis=0)
            g.add_output(g.op("Concat", [out, t], axis=0), "output", [n_out + self.salt_slots])
            return
        if n_out > cap:
            raise CircuitError(f"an output of {n_out} values does not fit 2^{self.logrows} instance rows")
        g.add_output(out, "output", [n_out])

    def check_input_sizes(self, sizes: Sequence[int]) -> None:
        if sizes and max(sizes) > column_capacity(self.logrows):
            raise CircuitError(f"a graph input of {max(sizes)} values does not fit a column of 2^{self.logrows} rows")

    def witness_inputs(self, parts: Sequence[np.ndarray], salts: Sequence[bytes], output_salt: Optional[bytes],
                       hints: Sequence[np.ndarray]) -> Tuple[List[List[Any]], Any]:
        deltas: List[List[int]] = []
        inputs: List[List[Any]] = []
        for p, salt in zip(parts, salts):
            d = [secrets.randbelow(bn254.R) for _ in range(self.salt_slots)]
            deltas.append(d)
            shifted = [felt_to_hex((r + e) % bn254.R) for r, e in zip(_salt_felts(self.check_salt(salt)), d)]
            inputs.append(np.asarray(p).ravel().tolist() + shifted)
        if output_salt is not None:  # t, then fresh slots hiding this input's own column
            inputs.append([felt_to_hex(x) for x in _salt_felts(self.check_salt(output_salt, "output_salt"))]
                          + [felt_to_hex(secrets.randbelow(bn254.R)) for _ in range(self.salt_slots)])
        if hints:
            pool = np.concatenate([h.ravel() for h in hints]).tolist()
            inputs.append(pool + [felt_to_hex(secrets.randbelow(bn254.R)) for _ in range(self.salt_slots)])
        return inputs, deltas

    def witness_output(self, witness: Mapping[str, Any], n_values: int) -> np.ndarray:
        column = witness["outputs"][-1]
        if len(column) not in (n_values, n_values + self.salt_slots):  # public, or values ‖ t
            raise ProvingError("the circuit's output is not the expected bytes")
        values = [felt_from_hex(h, "a witness output") for h in column[:n_values]]
        if any(v > 255 for v in values):
            raise ProvingError("the circuit's output is not the expected bytes")
        return np.asarray(values, dtype=np.uint8)

    def _bases(self, srs_path: Optional[Path], n: int) -> List[Tuple[int, int]]:
        if srs_path is None:
            raise CircuitError("the kzg scheme's links need the SRS file")
        basis = lagrange_basis(srs_path, self.logrows)
        return [basis.point(n + j) for j in range(self.salt_slots)]

    def seal(self, proof: bytes, state: Any, context: ProofContext) -> bytes:
        """Link proofs for every part (checked against the signed commitments first: secrets
        that do not open them fail here, not at the verifier), then ezkl's proof."""
        deltas: List[List[int]] = state
        links = []
        for i, (cell, d) in enumerate(zip(context.cells, deltas)):
            n = context.sizes[i]
            bases = self._bases(context.srs_path, n)
            c2 = bn254.decode(proof[64 * i:64 * i + 64], "the proof's point", ProvingError)
            c = bn254.add(c2, bn254.neg(bn254.msm(d, bases)))
            if c is None or point_int(c) != context.commitments[i]:
                raise ProvingError(f"cell {cell}: the capture's secrets do not open its signed commitment (or ezkl "
                                   "laid the column out differently)")
            links.append(make_link(self, bases, n, context, i, bn254.encode(c), bn254.encode(c2), d))
        return b"".join(links) + proof

    def split(self, record: bytes, n_parts: int) -> Tuple[List[bytes], bytes]:
        """(link proofs, ezkl's proof) of a proof record; LinkInvalid if it is too short."""
        head = n_parts * self.link_bytes
        if len(record) < head + 64 * n_parts:
            raise LinkInvalid("a kzg proof record holds one link per input, then a proof starting with each "
                              "input's point")
        return [record[i * self.link_bytes:(i + 1) * self.link_bytes] for i in range(n_parts)], record[head:]

    def proof_points(self, record: bytes, n_inputs: int) -> Tuple[bytes, ...]:
        _, proof = self.split(record, n_inputs)
        return tuple(proof[64 * i:64 * i + 64] for i in range(n_inputs))

    def instances(self, inputs: Sequence[int], output: int) -> Tuple[int, ...]:
        return ()  # a hidden output is the proof's own committed column (checked in :meth:`open`)

    def proved_output_commitment(self, record: bytes, pixels: np.ndarray, salt: bytes,
                                 context: Optional[ProofContext]) -> int:
        if context is None or context.output_point is None:
            raise ProvingError("a hidden kzg output's commitment is a point of its proof: its place is needed")
        _, proof = self.split(record, len(context.cells))
        return point_int(self._output_point(proof, context.output_point, ProvingError))

    @staticmethod
    def _output_point(proof: bytes, index: int, error: type) -> Tuple[int, int]:
        if len(proof) < 64 * index + 64:
            raise error("the proof is too short to hold its output's point")
        return bn254.decode(proof[64 * index:64 * index + 64], "the proof's output point", error)

    def open(self, record: bytes, context: ProofContext) -> bytes:
        links, proof = self.split(record, len(context.cells))
        if context.output is not None or context.output_point is not None:  # hidden: the column the bundle declares
            if context.output is None or context.output_point is None:
                raise CommitmentMismatch("a hidden output needs both its declared commitment and its circuit's point")
            if point_int(self._output_point(proof, context.output_point, CommitmentMismatch)) != context.output:
                raise CommitmentMismatch("the proof's output column is not the commitment the bundle declares")
        for i, link in enumerate(links):
            c2 = proof[64 * i:64 * i + 64]
            bn254.decode(c2, f"input {i}'s point in the proof", LinkInvalid)
            c = bn254.encode(int_point(context.commitments[i], "a signed commitment", LinkInvalid))
            if c2 == c:
                raise LinkInvalid(f"input {i} (cell {context.cells[i]}): the proof's point is the signed "
                                  "commitment itself (not re-randomised)")
            check_link(self, self._bases(context.srs_path, context.sizes[i]), context.sizes[i], context, i, c, c2,
                       link)
        return proof


#: The unconfigured scheme (for lookups by name and layout version).
KZG = KZGScheme()


# --------------------------------------------------------------------------- the camera's side


def _commit_chunk(vk: str, settings: str, srs: str, cells: List[Tuple[np.ndarray, bytes]], usable: int) -> List[int]:
    """Executor task: the commitments of ``cells`` (pixels, salt) by one ``ezkl.kzg_commit``
    call, each cell's column padded with zeros to the ``usable`` rows ezkl cuts columns at."""
    from . import _ezkl

    zero = BYTE_HEX[0]
    message: List[str] = []
    for pixels, salt in cells:
        column = [BYTE_HEX[v] for v in pixels.ravel().tolist()] + [felt_to_hex(x) for x in _salt_felts(salt)]
        message += column
        message += [zero] * (usable - len(column))
    points = _ezkl.kzg_commit(message, Path(vk), Path(settings), Path(srs))
    return [point_int(p) for p in points[:len(cells)]]


def commit_cells(layout: "TileLayout", image: np.ndarray, salts: Sequence[bytes], store: "CircuitStore",
                 executor: Optional[Executor] = None) -> List[int]:
    """Every cell's commitment (the camera's side), by ``ezkl.kzg_commit`` in chunks of about
    2^17 values (on ``executor`` if given). ezkl's call needs a verifying key at ``K`` only for
    its count of unusable rows: the key of the first cell's identity circuit, built once per
    store (the "commitment key")."""
    from .lowering import CircuitSpec

    scheme = layout.scheme
    if not isinstance(scheme, KZGScheme):
        raise InvalidParameter("layout", "not a kzg layout")
    layout.check_image(image)
    if len(salts) != len(layout.cells):
        raise InvalidParameter("salts", f"need {len(layout.cells)} salts, got {len(salts)}")
    first = layout.cells[0]
    shape = (*first.shape2, layout.channels)
    spec = CircuitSpec((math.prod(shape),), shape, None, (), shape, False, scheme.name, scheme.params)
    circuit = store.circuit(spec)
    keys = store.keys(circuit)
    if keys.srs_digest != scheme.srs_sha256:
        raise InvalidParameter("srs", "the store's SRS is not the one the layout names")
    usable = 2 ** scheme.logrows - UNUSABLE_ROWS
    cells = [(layout.cell_pixels(image, c), scheme.check_salt(s)) for c, s in zip(layout.cells, salts)]
    per_call = max(1, (1 << 17) // usable)
    chunks = [cells[i:i + per_call] for i in range(0, len(cells), per_call)]
    args = (str(keys.vk_path), str(circuit.settings_path), str(keys.srs_path))
    if executor is None:
        results = [_commit_chunk(*args, chunk, usable) for chunk in chunks]
    else:
        results = [f.result() for f in [executor.submit(_commit_chunk, *args, chunk, usable) for chunk in chunks]]
    return [c for r in results for c in r]


def default_logrows(tile: int, channels: int, salt_slots: int = DEFAULT_SALT_SLOTS) -> int:
    """The column height a ``tile`` px tile gets by default: the least that holds it with its
    salt. A job longer than the column is laid out in more columns side by side at the same
    height (measured fastest: benchmarks/RESULTS.md, "KZG tile commitments")."""
    need = tile * tile * channels + salt_slots
    return max(MIN_LOGROWS, math.ceil(math.log2(need + COLUMN_MARGIN)))

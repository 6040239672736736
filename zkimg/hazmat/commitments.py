"""The commitment-scheme seam: what a tile commitment is, natively and in the circuit.

A :class:`CommitmentScheme` fixes, for the captures made under it:

* the **native side** — :meth:`~CommitmentScheme.commit` of a tile (pixels ‖ salt) on the
  camera, and :meth:`~CommitmentScheme.hash_public` of a public output on the verifier;
* the **circuit side** — how the circuit graph exposes its committed inputs and outputs
  (:meth:`~CommitmentScheme.lower_commitments`, :attr:`~CommitmentScheme.run_args`), and how
  the commitments and the output are read back from ezkl's witness;
* what the **verifier compares** — the public instances of one proof, in order
  (:meth:`~CommitmentScheme.instances`);
* its **capture-format id** (:attr:`~CommitmentScheme.layout_version`), signed in every
  capture, so a capture names its scheme and a verifier cannot be talked into another.

Schemes are looked up with :func:`scheme_for_layout` / :func:`scheme_named`; a new scheme is
one module implementing this interface plus one line in :func:`_schemes`. A scheme may take
parameters fixed at capture and signed with it (:meth:`~CommitmentScheme.configure`; the KZG
scheme's column height, salt slots and SRS digest); the Poseidon scheme takes none.

The prover's and verifier's extra steps around ezkl go through :meth:`~CommitmentScheme.seal`
(what the prover attaches to ezkl's proof) and :meth:`~CommitmentScheme.open` (what the
verifier checks before handing ezkl the proof), both bound to a :class:`ProofContext`.
"""

from __future__ import annotations

import abc
import functools
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..errors import InvalidParameter

if TYPE_CHECKING:
    from .lowering import CircuitSpec, GraphBuilder

#: A scheme's capture parameters in hashable form: sorted ``(name, value)`` pairs.
SchemeParams = Tuple[Tuple[str, Any], ...]

#: Bytes of one commitment salt (every scheme's salts are this long).
SALT_BYTES = 16


def new_salt() -> bytes:
    """A fresh 16-byte salt from the operating system's CSPRNG."""
    return secrets.token_bytes(SALT_BYTES)


def check_salt(salt: object, parameter: str = "salt") -> bytes:
    """``salt`` as bytes if it is exactly :data:`SALT_BYTES` long, else InvalidParameter."""
    if not isinstance(salt, (bytes, bytearray)) or len(salt) != SALT_BYTES:
        raise InvalidParameter(parameter, f"must be {SALT_BYTES} bytes")
    return bytes(salt)


@dataclass(frozen=True)
class ProofContext:
    """Where one proof sits, for the statements a scheme binds to it (the KZG link proofs):
    the capture root, the job's index in its plan, the layout cells it reads (in input order),
    the SHA-256 of the job's verifying key, the signed commitment and the number of values of
    each cell read, and the SRS file the proof is made or checked with. For a hidden output,
    ``output`` is its commitment as the bundle declares it and ``output_point`` the index of
    its point among the proof's committed columns (:attr:`Circuit.committed_columns` − 1)."""

    root: int
    job: int
    cells: Tuple[int, ...]
    vk_digest: str
    commitments: Tuple[int, ...]
    sizes: Tuple[int, ...]
    srs_path: Optional[Path] = None
    output: Optional[int] = None
    output_point: Optional[int] = None


class CommitmentScheme(abc.ABC):
    """One way of committing to tiles; see the module docstring for the contract."""

    #: Short name, e.g. ``"poseidon"``.
    name: ClassVar[str]
    #: The capture-format id (``TileLayout`` version) captures under this scheme carry.
    layout_version: ClassVar[int]
    #: ezkl run arguments the scheme fixes (visibility of inputs, outputs and parameters).
    run_args: ClassVar[Mapping[str, Any]]

    #: Bytes of one cell's salt (capture secrets hold one per cell).
    salt_bytes: int = SALT_BYTES
    #: Whether :meth:`commit` works without other material (the KZG scheme needs an SRS).
    commits_natively: ClassVar[bool] = True

    @property
    def params(self) -> SchemeParams:
        """The capture parameters this instance was configured with (signed in the capture)."""
        return ()

    def configure(self, params: SchemeParams) -> "CommitmentScheme":
        """This scheme with capture ``params`` (validated; InvalidParameter if bad)."""
        if params:
            raise InvalidParameter("scheme_params", f"the {self.name} scheme takes no parameters")
        return self

    def header_values(self) -> List[int]:
        """Integers the image root folds in after the layout header (the parameters)."""
        return []

    def new_salt(self) -> bytes:
        """A fresh salt for one cell from the operating system's CSPRNG."""
        return new_salt()

    def check_salt(self, salt: object, parameter: str = "salt") -> bytes:
        return check_salt(salt, parameter)

    def commitment_to_hex(self, c: int) -> str:
        from .._codec import felt_to_hex

        return felt_to_hex(c)

    def commitment_from_hex(self, s: Any, what: str, error: type) -> int:
        from .._codec import felt_from_hex

        return felt_from_hex(s, what, error)

    def circuit_run_args(self, spec: "CircuitSpec") -> Mapping[str, Any]:
        """The visibilities of ``spec``'s circuit (default: :attr:`run_args` for every job)."""
        return self.run_args

    @abc.abstractmethod
    def lower_circuit(self, g: "GraphBuilder", spec: "CircuitSpec", body: Callable[[str], str]) -> None:
        """Add the circuit graph's inputs and outputs around ``body`` (region value → output
        value); the hint inputs are the lowering's."""

    #: Whether the circuit graph is all int64 (no ``Cast`` before lookups; see lowering).
    integer_graph: ClassVar[bool] = False
    #: Salt slots after the pooled rounding hints (``None``: one plain input per hint).
    hint_salt_slots: Optional[int] = None

    def witness_inputs(self, parts: Sequence[np.ndarray], salts: Sequence[bytes], output_salt: Optional[bytes],
                       hints: Sequence[np.ndarray]) -> Tuple[List[List[Any]], Any]:
        """ezkl's input lists for one proof, and the prover's state for :meth:`seal`."""
        inputs: List[List[Any]] = [np.asarray(p).ravel().tolist() + list(s) for p, s in zip(parts, salts)]
        if output_salt is not None:
            inputs.append(list(output_salt))
        return inputs + [h.ravel().tolist() for h in hints], None

    def seal(self, proof: bytes, state: Any, context: ProofContext) -> bytes:
        """The proof record the bundle stores, from ezkl's proof (Poseidon: ezkl's proof)."""
        return proof

    def open(self, record: bytes, context: ProofContext) -> bytes:
        """Check what :meth:`seal` attached (raising a VerificationError) and return ezkl's proof."""
        return record

    def check_input_sizes(self, sizes: Sequence[int]) -> None:
        """CircuitError unless the circuit's graph inputs (values each) suit the scheme."""
        return None

    def proof_points(self, record: bytes, n_inputs: int) -> Tuple[bytes, ...]:
        """Values a bundle must never repeat across its proofs (KZG: the re-randomised points)."""
        return ()

    def public_instances(self, inputs: Sequence[int], pixels: np.ndarray) -> Tuple[int, ...]:
        """The public instances of a proof whose output is the published ``pixels``."""
        return self.instances(inputs, self.hash_public(pixels))

    def proved_output_commitment(self, record: bytes, pixels: np.ndarray, salt: bytes,
                                 context: Optional[ProofContext]) -> int:
        """The commitment a proof ``record`` (at ``context``) makes to its hidden output
        ``pixels`` with ``salt`` (default: :meth:`commit`, the same value natively; KZG: the
        proof's output point)."""
        return self.commit(pixels, salt)

    @abc.abstractmethod
    def commit(self, pixels: np.ndarray, salt: bytes) -> int:
        """The salted commitment of a tile (pixels: uint8, any shape, H, W, C order)."""

    def commit_many(self, parts: Sequence[np.ndarray], salts: Sequence[bytes]) -> List[int]:
        """``[commit(p, s) for p, s in zip(parts, salts)]`` (an executor's task)."""
        return [self.commit(p, s) for p, s in zip(parts, salts)]

    @abc.abstractmethod
    def hash_public(self, pixels: np.ndarray) -> int:
        """The instance a public output tile (uint8) is checked against."""

    @abc.abstractmethod
    def fold(self, values: Sequence[int]) -> int:
        """One field element binding a sequence of field elements (cell commitments into a
        tile's, tile commitments and the layout header into the image root the camera signs)."""

    @abc.abstractmethod
    def committed_values(self, n_values: int) -> int:
        """How many field elements the commitment of ``n_values`` byte values absorbs."""

    def witness_commitments(self, witness: Mapping[str, Any]) -> List[int]:
        """The commitments ezkl computed, in graph-output order, from its witness JSON (none
        where the commitments are not the circuit's outputs)."""
        return []

    @abc.abstractmethod
    def witness_output(self, witness: Mapping[str, Any], n_values: int) -> np.ndarray:
        """The circuit's output values (uint8, flat) from its witness JSON."""

    def instances(self, inputs: Sequence[int], output: int) -> Tuple[int, ...]:
        """The public instances of one proof, in order: every input part's commitment, then
        the output's (commitment of a hidden output, :meth:`hash_public` of a public one)."""
        return (*inputs, output)


@functools.lru_cache(maxsize=None)
def _schemes() -> Dict[int, CommitmentScheme]:
    """Every scheme by capture-format id (imported here: the implementations import this module)."""
    from .kzg_scheme import KZG
    from .poseidon_scheme import POSEIDON, POSEIDON_31

    return {s.layout_version: s for s in (POSEIDON, KZG, POSEIDON_31)}


def scheme_for_layout(version: int) -> CommitmentScheme:
    """The scheme whose captures carry layout ``version``; InvalidParameter if none does."""
    scheme = _schemes().get(version)
    if scheme is None:
        raise InvalidParameter("version", f"no commitment scheme has capture format {version!r}")
    return scheme


def scheme_named(name: str) -> CommitmentScheme:
    """The scheme called ``name`` (e.g. ``"poseidon"``); InvalidParameter if unknown."""
    for s in _schemes().values():
        if s.name == name:
            return s
    raise InvalidParameter("scheme", f"unknown commitment scheme {name!r}; known: "
                                     f"{sorted({s.name for s in _schemes().values()})}")


#: The scheme new captures and tile jobs use unless told otherwise (by name: a new Poseidon
#: capture is format 3, a single :class:`~zkimg.hazmat.TileJob` format 1).
DEFAULT_SCHEME = "poseidon"

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
one module implementing this interface plus one line in :data:`_SCHEMES`.
"""

from __future__ import annotations

import abc
import functools
import secrets
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from ..errors import InvalidParameter

if TYPE_CHECKING:
    from .lowering import GraphBuilder

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


class CommitmentScheme(abc.ABC):
    """One way of committing to tiles; see the module docstring for the contract."""

    #: Short name, e.g. ``"poseidon"``.
    name: ClassVar[str]
    #: The capture-format id (``TileLayout`` version) captures under this scheme carry.
    layout_version: ClassVar[int]
    #: ezkl run arguments the scheme fixes (visibility of inputs, outputs and parameters).
    run_args: ClassVar[Mapping[str, Any]]

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
    def lower_commitments(self, g: "GraphBuilder", source: str, n_source: int,
                          streams: Sequence[np.ndarray], names: Sequence[str]) -> None:
        """Add the circuit graph's outputs: for each ``streams[i]`` (indices into the flat
        range-checked ``source`` of ``n_source`` values) the graph output ``names[i]`` that
        ezkl turns into that stream's commitment."""

    @abc.abstractmethod
    def committed_values(self, n_values: int) -> int:
        """How many field elements the commitment of ``n_values`` byte values absorbs."""

    @abc.abstractmethod
    def witness_commitments(self, witness: Mapping[str, Any]) -> List[int]:
        """The commitments ezkl computed, in graph-output order, from its witness JSON."""

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
    from .poseidon_scheme import POSEIDON

    return {s.layout_version: s for s in (POSEIDON,)}


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
                                     f"{sorted(s.name for s in _schemes().values())}")


#: The scheme new captures and tile jobs use unless told otherwise.
DEFAULT_SCHEME = "poseidon"

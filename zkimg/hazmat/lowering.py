"""Lowering of a tile job to ONNX.

A :class:`CircuitSpec` (committed input parts → region → primitives → output; a
:class:`TileJob` is the one-part case) lowers to two graphs built from the same code:

* the **circuit graph** that ezkl compiles. Its inputs and outputs are the commitment
  scheme's (:meth:`CommitmentScheme.lower_circuit`); the primitives in between are this
  module's. Under the **Poseidon** scheme the inputs are private, int64 at scale 0 (so that
  they index their range-check tables without a ``Cast``, which ezkl lays out as two copies
  of every value): ``part_i`` = the i-th input part's values followed by its 16 salt bytes;
  ``output_salt`` (hidden output only); one ``hint_i`` per rounding step; the outputs, one
  per committed stream (every part with its salt, then the output, with the output salt if
  hidden), are ``part_i_packed`` = pack(part_i ‖ salt_i) and ``output_packed``, each
  Poseidon-hashed by ezkl into the proof's public instances. Under the **KZG** scheme every
  input is a committed column (``part_i`` = values ‖ salt slots; one pooled ``hints`` input
  = every hint ‖ salt slots), the graph is int64 end to end (constants, tables and values:
  no ``Cast`` before any lookup), the region is read from the values' rows only, and the
  output is public (:mod:`zkimg.hazmat.kzg_scheme`; the range check below is replaced by
  the binding of each row to the camera's byte).
* the **reference graph** that onnxruntime runs: the same transform lowering on the
  H×W×C region with rounding done by ``Floor(Div)``; it returns the output and the hints.

Soundness of the circuit graph (each point is tested in tests/test_proofs.py):

* Range: every hidden input byte (all parts with their salts, and the output salt) goes
  through one ``Gather(arange(256), x)`` — a lookup into a 256-entry table — before
  anything reads it, so every value used downstream is an
  integer in [0, 255]. ``pack`` (Σ v_i·256^i over groups of 16 or 31) is injective on such
  digits, which makes the Poseidon commitment binding on the pixels. (KZG: each value read
  is the camera's committed byte in its row, by the link and the binding argument in
  kzg_scheme.py; no packing, so nothing to be injective.)
* Small roundings: weights, divisor and offset are first divided by their common factor
  (exact, :func:`reduce_weighted_sum`); when the numerator ``n = y + offset`` is then
  always below ``ROUNDING_TABLE_MAX``, the output is one lookup of the sum ``y`` into
  ``floor((v + offset) / d)`` over ``v ∈ [0, max y]`` (the offset lives in the table, not in
  an ``Add``). Membership of ``(y, out)`` in that table is the whole check: it forces ``y``
  to be an integer in range and ``out = floor((y + offset) / d)``. Used where every tap
  has one weight for all positions (a 2× bilinear downscale, a box blur): there it cut a
  32 px job by 15–40 % of its rows; with per-position weights ezkl's rows grew instead
  (measured, see benchmarks/RESULTS.md), so those keep the hint below.
* Rounding: ezkl's own ``Div`` only enforces ``|x − q·d| < d`` (layouts.rs, ``div`` via
  ``diff_less_than``), which admits both floor and ceil, so it is not used. Instead the
  prover supplies ``q`` as a hint; the circuit looks ``q`` up in ``arange(256)`` and
  ``r = y + offset − d·q`` up in ``arange(d)`` (both tables shifted, see below). Together
  they force ``0 ≤ r < d`` and
  ``q ∈ [0, 255]``, i.e. ``q = floor((y + offset)/d)`` exactly (y is an integer below
  256·d, so no field wrap-around). Without the range check on ``q`` a prover could shift
  value between neighbouring packed digits; with it the output digits are unique. The
  looked-up remainder enters the output as ``q − (lookup(r) − r)`` (= q), which keeps the
  check in the graph without changing a value.
* Folded rounding (int64 graphs, i.e. the KZG scheme; one divisor and offset for all
  positions): the quotient table holds ``T[j] = d·(j − b) − offset`` instead of ``j + s``,
  and ``r = y − T[q']`` (``q' = q + b``, below) is ``y + offset − d·q`` for the ``q`` that the
  hint names: the offset ``Add`` and the ``Mul`` by ``d`` (three rows per value in ezkl,
  which lays a constant multiple out as a rescale) are gone. ``R = lookup(r, arange(d))``
  forces ``0 ≤ r < d`` and the output is ``q' − (R − r) = q'``. The hint must be an index of
  ``T``, so ``q`` is one of the ``qn`` small integers, not a field element that would also
  leave ``r`` in range (e.g. ``q + d⁻¹``). The fold is used where some rescaling ``k``
  (below) makes both tables new to the graph; otherwise the rounding takes the general form
  above. The float graphs (Poseidon) keep the general form: their hint is int64 and their
  values float, and a ``Cast`` of the hint would cost what the fold saves. (Tamper tests of
  both lookups: tests/test_kzg.py.)
* Signed sums and the clamp (``Sharpen``, ``ColorConvert``): with negative weights (or bias)
  the numerator ``n = y + offset`` lies in ``[n_min, n_max]`` with ``n_min`` possibly < 0.
  The circuit shifts it by ``b·d``, ``b = max(0, ⌈−n_min / d⌉)``, so the hint is
  ``q' = q + b ≥ 0``; the quotient table is ``arange(⌊n_max/d⌋ + b + 1) + s`` (not just the
  bytes), and ``r = n + d·(s + b) − d·Q = n − d·q`` is checked in ``arange(d) + s`` as
  before. ``|n| < 2^24`` (checked by the primitive), far below the field's size, so
  ``0 ≤ r < d`` and ``q'`` in its table fix ``q = ⌊n/d⌋`` exactly for negative ``n`` too (the
  field element of a negative ``y`` is ``p − |y|``, and ``n + d·(s + b)`` is the true
  non-negative integer). The output is then one more lookup of ``q'`` (= ``Q − (R − r)``,
  a checked value) into ``clamp(v − b, 0, 255)``; indices past the table are unreachable.
  With one weight per tap the whole rounding is one lookup of ``y − y_min`` into the
  clamped floor table, as for small roundings.
* Per-cell divisors (``BlockMean``, cells cut by the image's edge): ``r = n − D·q`` with
  ``D`` a constant per cell is looked up in ``arange(D_max) + s`` and ``r + D_max − D`` in
  ``arange(D_max) + s₂``: together ``0 ≤ r < D`` for each cell's own ``D``.
* Region edits (``Select``): ``out = keep·(1 − M) + inner·M`` with the constant 0/1 mask
  ``M``; each output value is exactly one branch's (a byte), and inside the mask ``keep``
  is multiplied by the constant 0. A ``Fill`` branch is a constant (``M·fill``), so in a
  redacted box the output cells are constants, whatever the hidden input. A window no box
  touches lowers to no primitive at all (:func:`~zkimg.hazmat.primitives.restrict`).
* One use per table: ezkl 23.0.5 lays out a constant that feeds more than one node as
  cells and decomposes each (≈ 23 rows per entry under ``RUN_ARGS``), and tract merges
  equal constants — a 512-entry floor table shared by a resize's two passes cost 11,776 of a
  32 px job's 32,171 rows. So every lookup gets a table of its own (:meth:`GraphBuilder.lookup`):
  a repeated table is extended by copies of its last entry. That is sound where the circuit
  only reads the lookup's *output* and the extra entry is a valid output: ``arange(256)``
  range checks (the extra index maps to 255, a byte), floor tables and point-operation
  tables (indices past the original end are unreachable: their inputs are sums of checked
  bytes). A rounding's two tables, whose *index* is also read (``r``), are instead shifted
  by the same ``s``: ``Q = lookup(q, arange(256) + s)``, the numerator carries ``d·s`` so
  that ``r = y + offset + d·s − d·Q`` is still the true remainder, ``R = lookup(r,
  arange(d) + s)`` forces ``0 ≤ r < d``, and the output ``Q − (R − r) = Q − s = q``. When
  ``d = 256`` the two would be the same table, so the quotient table gets one more entry
  (index 256 → 255 + s; the remainder check alone fixes ``q``, so any value would do).
* One use per constant operand, too: ezkl treats equal constants as one whatever their
  shapes, and a shared one (a weight or divisor repeated by a blur's second pass, the
  packing powers) also brings two range-check tables into every proof (≈ 20 % of proving
  time and 1 kB of proof for a 3×3 Gaussian). So: taps with equal weights are summed
  before one ``Mul``; a rounding whose weights, divisor or offset constant was used before
  is scaled by the least k making them new (``floor(k·n / (k·d)) = floor(n / d)``; its
  remainder table becomes ``arange(k·d) + s``, and ``r = k·(n − d·q)`` in it still forces
  ``0 ≤ n − d·q < d``); a repeated per-channel lookup spaces its channels' tables by
  ``256 + e`` (the ``e`` padding entries are unreachable from a byte); and every output
  is packed by one ``MatMul`` against one powers constant, padded from one zeros constant.
  Only an exact sum (divisor 1), or a one-lookup rounding whose table would outgrow
  ``ROUNDING_TABLE_MAX``, is not rescaled and may still share a constant (more rows, same
  values).
* Point operations are a lookup into their exact table (``Gather``), so clamping and
  rounding are the table's.
* How a lookup is laid out. ezkl 23.0.5 lays out a ``Gather`` with a variable index by first
  linearising every index (layouts.rs ``linearize_element_index``: a ``Mult`` by the table's
  stride, 1 here, and an ``Add`` of 0, one cell row each) and then the dynamic lookup of
  ``(index, value)`` in ``(arange(n), table)``. A ``GatherElements`` on a 1-D table and a 1-D
  index skips the linearisation (the index is used as it is) and is the same dynamic lookup:
  the same constraint for a third of the cells (measured: 4,096 lookups, 10,240 → 6,144 rows,
  with the input laid out). int64 graphs (KZG) look every table up that way, the index
  flattened and the output reshaped (``Reshape``/``Shape``, no cells). The float graphs
  (Poseidon) keep ``Gather``: their recorded circuits (circuits/record.json) and the bundles
  made with them stay valid.
* ``ignore_range_check_inputs_outputs``: ezkl's generic range checks on graph inputs and
  outputs are redundant — inputs are checked by the lookup above, outputs are packed field
  elements bound by their public hash — and removing them cuts rows by an order of magnitude.

ONNX ``Div`` on integers truncates where ezkl's rounds half up; the reference graph
computes ``Floor(Div(float))``, exact for the magnitudes here (< 2^24), and the circuit
graph never divides.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

import numpy as np

from .._codec import canonical_json
from .._validate import check_shape
from ..errors import InvalidBundle, InvalidParameter, InvalidPipelineFile
from ..limits import MAX_JOB_ELEMENTS
from ..pipeline import Pipeline, as_pipeline
from .commitments import DEFAULT_SCHEME, CommitmentScheme, SchemeParams, scheme_named
from .primitives import (
    BlockMean,
    Fill,
    Lookup,
    Primitive,
    Select,
    Shape,
    Stencil,
    Take,
    Transpose,
    WeightedSum,
    out_shape_all,
)

ONNX_OPSET = 17
ONNX_IR_VERSION = 8  # onnxruntime here rejects IR 14
JOB_SCHEMA = "zkimg.tile-job/1"
#: The graph input holding every rounding hint, when a scheme pools them.
HINT_POOL = "hints"
#: A rounding whose numerator is always below this is one lookup into ``floor(v / d)``.
ROUNDING_TABLE_MAX = 1 << 12


@functools.lru_cache(maxsize=64)
def _configured(name: str, params: SchemeParams) -> CommitmentScheme:
    return scheme_named(name).configure(params)


@dataclass(frozen=True)
class CircuitSpec:
    """What one circuit computes, independent of where in an image its data sits.

    The hidden input is a list of *parts* (``part_sizes[i]`` byte values each, every part
    committed with its own salt). The parts' values, concatenated, are arranged into the
    ``region_shape`` region by ``region_index`` (for each region value in H, W, C order,
    its index in the concatenation; ``None`` means the single part *is* the region), and
    ``primitives`` map the region to the ``output_shape`` output.
    """

    part_sizes: Tuple[int, ...]
    region_shape: Shape
    region_index: Optional[Tuple[int, ...]]
    primitives: Tuple[Primitive, ...]
    output_shape: Shape
    hidden_output: bool
    scheme: str = DEFAULT_SCHEME  # the commitment scheme's name (``commitments.scheme_named``)
    scheme_params: SchemeParams = ()  # its capture parameters (the layout's)

    @property
    def commitment_scheme(self) -> CommitmentScheme:
        return _configured(self.scheme, self.scheme_params)

    def assemble(self, parts: Sequence[np.ndarray]) -> np.ndarray:
        """The region (uint8) the circuit builds from ``parts`` (flat uint8 arrays)."""
        if len(parts) != len(self.part_sizes) or any(p.size != n for p, n in zip(parts, self.part_sizes)):
            raise InvalidParameter("parts", f"expected parts of sizes {self.part_sizes}")
        flat = np.concatenate([np.asarray(p, dtype=np.uint8).ravel() for p in parts])
        if self.region_index is not None:
            flat = flat[np.asarray(self.region_index, dtype=np.int64)]
        return flat.reshape(self.region_shape)


@dataclass(frozen=True)
class TileJob:
    """One proof's worth of work: ``pipeline`` applied to one hidden H×W×C input tile.

    ``hidden_output``: the output is committed with its own salt instead of being public.
    ``scheme``: the commitment scheme of the input (and hidden output), by name; its JSON form
    names it only when it is not the default.
    """

    pipeline: Pipeline
    input_shape: Shape
    hidden_output: bool = False
    scheme: str = DEFAULT_SCHEME

    def __post_init__(self) -> None:
        if not isinstance(self.scheme, str):
            raise InvalidParameter("scheme", "must be a scheme name")
        if not scheme_named(self.scheme).commits_natively:
            raise InvalidParameter("scheme", f"a single tile job is proved under the Poseidon scheme; {self.scheme} "
                                             "jobs come from a plan over a capture made under it")
        object.__setattr__(self, "pipeline", as_pipeline(self.pipeline))
        object.__setattr__(self, "input_shape", check_shape(self.input_shape, "input_shape"))
        if not isinstance(self.hidden_output, bool):
            raise InvalidParameter("hidden_output", "must be a bool")
        h, w, c = self.input_shape
        if h * w * c > MAX_JOB_ELEMENTS:
            raise InvalidParameter("input_shape", f"a tile job holds at most {MAX_JOB_ELEMENTS} values")
        self.pipeline.shapes(self.input_shape)  # raises if the pipeline does not fit the shape

    @property
    def output_shape(self) -> Shape:
        return self.pipeline.output_shape(self.input_shape)

    def primitives(self) -> Tuple[Primitive, ...]:
        return self.pipeline.primitives(self.input_shape)

    def spec(self) -> CircuitSpec:
        """The circuit: one committed part (the whole tile), the whole pipeline."""
        h, w, c = self.input_shape
        return CircuitSpec((h * w * c,), self.input_shape, None, self.primitives(), self.output_shape,
                           self.hidden_output, self.scheme)

    def apply(self, tile: np.ndarray) -> np.ndarray:
        """The exact reference output for ``tile`` (checks its shape)."""
        if tile.shape != self.input_shape:
            raise InvalidParameter("tile", f"expected shape {self.input_shape}, got {tile.shape}")
        return self.pipeline.apply(tile)

    def to_json(self) -> Dict[str, Any]:
        d = {
            "schema": JOB_SCHEMA,
            "pipeline": self.pipeline.to_json(),
            "input_shape": list(self.input_shape),
            "hidden_output": self.hidden_output,
        }
        return d if self.scheme == DEFAULT_SCHEME else {**d, "scheme": self.scheme}

    @property
    def digest(self) -> str:
        return hashlib.sha256(canonical_json(self.to_json())).hexdigest()

    @classmethod
    def from_json(cls, data: Any) -> "TileJob":
        keys = {"schema", "pipeline", "input_shape", "hidden_output"}
        if not isinstance(data, dict) or set(data) - {"scheme"} != keys:
            raise InvalidBundle("a tile job has exactly 'schema', 'pipeline', 'input_shape', 'hidden_output' "
                                "(and 'scheme' unless it is the default)")
        scheme = data.get("scheme", DEFAULT_SCHEME)
        if "scheme" in data and (not isinstance(scheme, str) or scheme == DEFAULT_SCHEME):
            raise InvalidBundle("a tile job's 'scheme' is a name other than the default (canonical form)")
        if data["schema"] != JOB_SCHEMA:
            raise InvalidBundle(f"unsupported tile job schema {data['schema']!r}")
        if not isinstance(data["hidden_output"], bool):
            raise InvalidBundle("'hidden_output' must be a boolean")
        try:
            return cls(Pipeline.from_json(data["pipeline"]), tuple(data["input_shape"]), data["hidden_output"], scheme)
        except (InvalidParameter, InvalidPipelineFile) as e:
            raise InvalidBundle(f"invalid tile job: {e}") from e
        except TypeError as e:
            raise InvalidBundle(f"invalid tile job: {e}") from e


# --------------------------------------------------------------------------- graph builder


if TYPE_CHECKING:
    import onnx


@functools.lru_cache(maxsize=None)
def _onnx() -> Any:
    """The ``onnx`` package, imported when the first graph is built: importing it takes about
    0.9 s, which ``import zkimg`` and every verifier worker would otherwise pay for nothing."""
    import onnx
    import onnx.checker
    import onnx.helper
    import onnx.numpy_helper

    return onnx


class GraphBuilder:
    """An ONNX graph under construction (commitment schemes add their outputs through it)."""

    def __init__(self, integer: bool = False) -> None:
        #: Every value int64 (constants, tables, inputs, outputs): no ``Cast`` before a lookup.
        #: Otherwise values are float32 holding integers and only marked values are int64.
        self.integer = integer
        self.value_dtype: Any = np.int64 if integer else np.float32
        self.nodes: List[onnx.NodeProto] = []
        self.inits: List[onnx.TensorProto] = []
        self.inputs: List[onnx.ValueInfoProto] = []
        self.outputs: List[onnx.ValueInfoProto] = []
        self._n = 0
        self._table_uses: Dict[bytes, int] = {}
        self._int_values: Set[str] = set()  # int64 values: graph inputs and their concatenation
        self._operands: Set[bytes] = set()  # values of the constant operands emitted so far

    def fresh(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def const(self, value: Any, dtype: Any = None) -> str:
        """A new initializer (tract may still merge equal ones; see ``RUN_ARGS``); ``dtype``
        defaults to the graph's value type."""
        dtype = self.value_dtype if dtype is None else dtype
        name = self.fresh("c")
        self.inits.append(_onnx().numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def operand(self, value: Any) -> str:
        """A constant operand of an elementwise op, recorded for :meth:`operands_new`."""
        arr = np.asarray(value, dtype=np.float32)
        self._operands.add(arr.ravel().tobytes())
        return self.const(arr.astype(self.value_dtype))

    def operands_new(self, values: Sequence[Any]) -> bool:
        """Whether ``values`` are pairwise different and none was an operand before. (ezkl
        23.0.5 treats equal constants as one, whatever their shapes, and decomposes a
        constant that feeds several nodes: see the module doc.)"""
        keys = [np.asarray(v, dtype=np.float32).ravel().tobytes() for v in values]
        return len(set(keys)) == len(keys) and not self._operands.intersection(keys)

    def op(self, op_type: str, inputs: Sequence[str], **attrs: Any) -> str:
        out = self.fresh(op_type.lower())
        self.nodes.append(_onnx().helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def add_input(self, name: str, shape: Sequence[int], integer: Optional[bool] = None) -> str:
        """A graph input: float32 holding integers, or int64 with ``integer`` (an int64 value
        indexes a lookup table directly; ezkl lays out a float→int ``Cast`` as two copies)."""
        integer = self.integer if integer is None else integer
        onnx = _onnx()
        dtype = onnx.TensorProto.INT64 if integer else onnx.TensorProto.FLOAT
        self.inputs.append(onnx.helper.make_tensor_value_info(name, dtype, list(shape)))
        if integer:
            self._int_values.add(name)
        return name

    def mark_int(self, value: str) -> None:
        """Record that ``value`` is int64 (it indexes a lookup table without a ``Cast``)."""
        self._int_values.add(value)

    def concat(self, values: Sequence[str]) -> str:
        """``values`` concatenated along axis 0 (int64 if they all are)."""
        if len(values) == 1:
            return values[0]
        out = self.op("Concat", list(values), axis=0)
        if all(v in self._int_values for v in values):
            self._int_values.add(out)
        return out

    def add_output(self, value: str, name: str, shape: Sequence[int], copy: bool = False) -> None:
        """Expose ``value`` as graph output ``name``.

        Without ``copy`` the node that produced ``value`` (the latest one) is renamed:
        ezkl lowers ``Identity`` to a range-checked copy, which the circuit must avoid.
        """
        onnx = _onnx()
        if copy:
            self.nodes.append(onnx.helper.make_node("Identity", [value], [name]))
        else:
            producer = self.nodes[-1]
            if value not in producer.output:
                raise AssertionError("add_output must follow the node that produced the value")
            producer.output[list(producer.output).index(value)] = name
        dtype = onnx.TensorProto.INT64 if self.integer else onnx.TensorProto.FLOAT
        self.outputs.append(onnx.helper.make_tensor_value_info(name, dtype, list(shape)))

    def model_bytes(self, name: str) -> bytes:
        onnx = _onnx()
        graph = onnx.helper.make_graph(self.nodes, name, self.inputs, self.outputs, initializer=self.inits)
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", ONNX_OPSET)],
                                  producer_name="zkimg")
        model.ir_version = ONNX_IR_VERSION
        onnx.checker.check_model(model)
        return bytes(model.SerializeToString())

    # ----- value-level helpers (float32 values holding integers; int64 graph inputs)

    def table_uses(self, table: np.ndarray) -> int:
        """How many lookups into ``table`` (exactly these entries) this graph already has."""
        return self._table_uses.get(np.asarray(table, dtype=np.int64).tobytes(), 0)

    def lookup(self, x: str, table: np.ndarray, extend: bool = True) -> str:
        """``table[x]`` through a lookup: also proves ``x`` is an index of the table laid out.

        ``extend``: a table used before in this graph is laid out with one more copy of its
        last entry per earlier use, so that no two lookups share a constant (see the module
        doc for when that is sound); with ``extend=False`` the caller makes it unique.
        """
        table = np.asarray(table, dtype=np.int64)
        key = table.tobytes()
        uses = self._table_uses.get(key, 0)
        self._table_uses[key] = uses + 1
        if uses and extend:
            table = np.concatenate([table, np.full(uses, table[-1])])
        if self.integer:  # a 1-D GatherElements: no index linearisation (module doc, "How a lookup is laid out")
            flat = self.op("Reshape", [x, self.const([-1], np.int64)])
            out = self.op("GatherElements", [self.const(table), flat], axis=0)
            return self.op("Reshape", [out, self.op("Shape", [x])])
        idx = x if x in self._int_values else self.op("Cast", [x], to=_onnx().TensorProto.INT64)
        return self.op("Gather", [self.const(table), idx], axis=0)  # the graph's value type out


Rounded = Union[WeightedSum, Stencil]


def _weights(p: Rounded) -> List[int]:
    return list(p.weight) if isinstance(p, Stencil) else [w for row in p.weight for w in row]


def _scaled(p: Rounded, k: int) -> Rounded:
    """``p`` with weights, bias, divisor and offset multiplied by ``k`` (the same rounding)."""
    if isinstance(p, Stencil):
        return dataclasses.replace(p, weight=tuple(w * k for w in p.weight), divisor=p.divisor * k, offset=p.offset * k)
    return dataclasses.replace(p, weight=tuple(tuple(w * k for w in row) for row in p.weight),
                               bias=tuple(b * k for b in p.bias), divisor=p.divisor * k, offset=p.offset * k)


def reduce_weighted_sum(p: Rounded) -> Rounded:
    """The same primitive with weights, bias, divisor and offset divided by their common factor
    (and a bias that is the same everywhere moved into the offset).

    Exact: for ``g`` dividing every weight, bias and the divisor,
    ``floor((g·A + o) / (g·d')) = floor((A + o // g) / d')`` for every integer ``A``.
    """
    if isinstance(p, WeightedSum) and p.bias and len(set(p.bias)) == 1:
        p = dataclasses.replace(p, bias=(), offset=p.offset + p.bias[0])
    if p.divisor == 1:
        return p
    bias = p.bias if isinstance(p, WeightedSum) else ()
    g = math.gcd(p.divisor, *_weights(p), *bias)
    if g == 1:
        return p
    if isinstance(p, Stencil):
        return dataclasses.replace(p, weight=tuple(w // g for w in p.weight), divisor=p.divisor // g,
                                   offset=p.offset // g)
    return dataclasses.replace(p, weight=tuple(tuple(w // g for w in row) for row in p.weight),
                               bias=tuple(b // g for b in bias), divisor=p.divisor // g, offset=p.offset // g)


def _bcast(row: Sequence[int], axis: int) -> np.ndarray:
    shape = [1, 1, 1]
    shape[axis] = len(row)
    return np.asarray(row, dtype=np.float32).reshape(shape)


def _weight_groups(p: Rounded) -> Dict[Tuple[int, ...], List[Any]]:
    """The non-zero taps of ``p`` grouped by their weights (first-appearance order): a
    WeightedSum's index rows by weight row, a Stencil's (rows, cols) maps by ``(weight,)``."""
    groups: Dict[Tuple[int, ...], List[Any]] = {}
    if isinstance(p, Stencil):
        for r, c, v in zip(p.rows, p.cols, p.weight):
            if v:
                groups.setdefault((v,), []).append((r, c))
        return groups
    for idx, w in zip(p.index, p.weight):
        if any(w):
            groups.setdefault(tuple(w), []).append(idx)
    return groups


def _axis(p: Rounded) -> int:
    return 0 if isinstance(p, Stencil) else p.axis


def _clamp_shift(num_min: int, d: int) -> int:
    """The least b ≥ 0 with ``floor(num_min / d) + b ≥ 0`` (0 for a non-negative numerator)."""
    return max(0, -(num_min // d))


def _quotients(num_max: int, d: int, b: int, clamp: bool) -> int:
    """How many hint values ``q + b`` a rounding admits: 256 (a byte) unless it clamps."""
    return num_max // d + b + 1 if clamp else 256


def _factor(w: Sequence[int], axis: int) -> Any:
    """The Mul operand for one weight group: a scalar if all positions share the weight."""
    return [w[0]] if len(set(w)) == 1 else _bcast(w, axis)


class _Lowerer:
    """Emits the primitives of one job into a graph in circuit or reference mode."""

    def __init__(self, g: GraphBuilder, circuit: bool, hint_salt_slots: Optional[int] = None) -> None:
        self.g = g
        self.circuit = circuit
        self.hints: List[Tuple[str, Shape]] = []
        #: With salt slots, every hint is read from one pooled input ``hints`` (all hints, then
        #: that many salt slots no constraint touches); else each hint is its own input.
        self.hint_salt_slots = hint_salt_slots
        self._pooled = 0

    def hint_input(self, name: str, shape: Shape) -> str:
        """The circuit's value of hint ``name`` (int64, ``shape``)."""
        g = self.g
        if self.hint_salt_slots is None:
            return g.add_input(name, shape, integer=True)
        n = int(np.prod(shape))
        index = g.const(np.arange(self._pooled, self._pooled + n), np.int64)
        self._pooled += n
        g.mark_int(HINT_POOL)
        value = g.op("Reshape", [g.op("Gather", [HINT_POOL, index], axis=0), g.const(shape, np.int64)])
        g.mark_int(value)
        return value

    def finish(self) -> None:
        """Declare the pooled hint input, once its size is known."""
        if self.hint_salt_slots is not None and self._pooled:
            self.g.add_input(HINT_POOL, [self._pooled + self.hint_salt_slots], integer=True)

    def primitive(self, x: str, shape: Shape, p: Primitive) -> str:
        g = self.g
        if isinstance(p, Take):
            if p.index == tuple(range(shape[p.axis])):
                return x
            return g.op("Gather", [x, g.const(p.index, np.int64)], axis=p.axis)
        if isinstance(p, Transpose):
            return g.op("Transpose", [x], perm=list(p.perm))
        if isinstance(p, Lookup):
            if len(p.table) == 1:
                return g.lookup(x, np.asarray(p.table[0]))
            # Channel c's table starts at (256 + e)·c, e ≥ 0 the least stride padding (copies
            # of the table's last entry, unreachable from a byte) making the offsets new.
            tables = np.asarray(p.table)
            e = 0
            while not g.operands_new([_bcast([(256 + e) * c for c in range(len(tables))], 2)]):
                e += 1
            offsets = g.operand(_bcast([(256 + e) * c for c in range(len(tables))], 2))
            padded = np.concatenate([tables, np.repeat(tables[:, -1:], e, axis=1)], axis=1)
            return g.lookup(g.op("Add", [x, offsets]), padded.reshape(-1))
        if isinstance(p, (WeightedSum, Stencil)):
            return self.weighted_sum(x, shape, p)
        if isinstance(p, BlockMean):
            return self.block_mean(x, shape, p)
        if isinstance(p, Fill):
            return g.const(np.broadcast_to(np.asarray(p.values, np.float32), shape))
        if isinstance(p, Select):
            return self.select(x, shape, p)
        raise TypeError(f"unknown primitive {p!r}")

    def weighted_sum(self, x: str, shape: Shape, p: Rounded) -> str:
        g = self.g
        p = reduce_weighted_sum(p)
        by_table = self._by_table(p)
        if self.circuit:
            p = self._with_new_constants(p, by_table)
        acc: Optional[str] = None
        rows: Dict[Tuple[int, ...], str] = {}  # a Stencil's row gathers, shared by its taps
        for w, taps in _weight_groups(p).items():  # w·(x_a + x_b): one Mul per distinct weight
            if isinstance(p, Stencil):
                for r, _ in taps:
                    if r not in rows:
                        rows[r] = self.primitive(x, shape, Take(0, r))
                term = self.sum(self.primitive(rows[r], (len(r), shape[1], shape[2]), Take(1, c)) for r, c in taps)
            else:
                term = self.sum(self.primitive(x, shape, Take(p.axis, idx)) for idx in taps)
            if any(v != 1 for v in w):
                term = g.op("Mul", [term, g.operand(_factor(w, _axis(p)))])
            acc = self.sum([acc, term]) if acc is not None else term
        assert acc is not None  # the transforms give every output a non-zero weight
        if isinstance(p, WeightedSum) and p.bias:
            acc = g.op("Add", [acc, g.operand(_factor(p.bias, p.axis))])
        out_shape = p.out_shape(shape)
        if p.divisor == 1 and not p.clamp:
            return acc if p.offset == 0 else g.op("Add", [acc, g.operand([p.offset])])
        if by_table:  # see module doc
            if not self.circuit:
                return self.reference_round(acc, p.divisor, p.offset, p.clamp)
            # entry v is the output for the sum y = v + lo (the offset lives in the table)
            lo, hi = p._sum_range()
            out = (np.arange(lo, hi + 1) + p.offset) // p.divisor
            index = g.op("Add", [acc, g.operand([-lo])]) if lo else acc
            return g.lookup(index, np.clip(out, 0, 255) if p.clamp else out)
        return self.round_div(acc, out_shape, p.divisor, p.offset, p.sum_min, p.sum_max, p.clamp)

    @staticmethod
    def _by_table(p: Rounded) -> bool:
        """Whether the rounding is one lookup of the sum (module doc): every tap has one weight
        for all positions and the table stays below ``ROUNDING_TABLE_MAX`` entries."""
        uniform = isinstance(p, Stencil) or (all(len(set(w)) == 1 for w in p.weight) and not p.bias)
        return (p.divisor > 1 or p.clamp) and uniform and p.sum_max - min(p.sum_min - p.offset, 0) < ROUNDING_TABLE_MAX

    def _with_new_constants(self, p: Rounded, by_table: bool) -> Rounded:
        """``p`` with weights, bias, divisor and offset multiplied by the least k ≥ 1 for which
        every constant operand its lowering emits is new to the graph (module doc: one use per
        constant). The rounding is the same: ``floor(k·n / (k·d)) = floor(n / d)``. An exact
        sum (divisor 1, no clamp) cannot be scaled, and a floor table is not grown past
        ``ROUNDING_TABLE_MAX`` entries (a longer table costs more rows than a shared
        constant): those are returned as is. In an int64 graph a k whose folded tables are new
        too (module doc) comes first."""
        if p.divisor == 1 and not p.clamp:
            return p
        fallback: Optional[Rounded] = None  # int64 graphs: new constants, but no fold (module doc)
        for k in range(1, 65):
            try:
                q = p if k == 1 else _scaled(p, k)
            except ValueError:  # scaled sums past 2^24
                break
            lo, hi = q._sum_range()
            if by_table and hi - lo + 1 > ROUNDING_TABLE_MAX:
                break
            operands = [_factor(w, _axis(q)) for w in _weight_groups(q) if any(v != 1 for v in w)]
            if isinstance(q, WeightedSum) and q.bias:
                operands.append(_factor(q.bias, q.axis))
            if by_table:
                operands += [[-lo]] if lo else []
            else:
                b = _clamp_shift(q.sum_min, q.divisor)
                qn = _quotients(q.sum_max, q.divisor, b, q.clamp)
                if self.g.integer and self._folded_tables(q.divisor, b, qn, q.offset) is not None:
                    if self.g.operands_new(operands):
                        return q
                    continue
                s = self._shift(q.divisor, qn)[0]
                n = q.offset + q.divisor * (s + b)
                operands += [[q.divisor]] + ([[n]] if n else [])
            if self.g.operands_new(operands):
                if by_table or not self.g.integer:
                    return q
                fallback = fallback or q
        return fallback or p

    def sum(self, values: Iterable[str]) -> str:
        """The elementwise sum of ``values`` (a chain of ``Add``)."""
        it = iter(values)
        acc = next(it)
        for v in it:
            acc = self.g.op("Add", [acc, v])
        return acc

    def _shift(self, d: int, qn: int = 256) -> Tuple[int, np.ndarray, np.ndarray]:
        """(s, quotient table arange(qn) + s, remainder table arange(d) + s) for the least
        s ≥ 0 making both tables unused in the graph (one use per table, see module doc)."""
        s = 0
        while True:
            q_table, r_table = np.arange(qn) + s, np.arange(d) + s
            if d == qn:  # the same table twice: extend Q's (its index is not read)
                q_table = np.append(q_table, qn - 1 + s)
            if not (self.g.table_uses(q_table) or self.g.table_uses(r_table)):
                return s, q_table, r_table
            s += 1

    def _folded_tables(self, d: int, b: int, qn: int, offset: int) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """The quotient table ``T[j] = d·(j − b) − offset`` and remainder table ``arange(d)`` of
        a folded rounding (module doc), or None if either is already used in the graph."""
        q_table, r_table = d * (np.arange(qn) - b) - offset, np.arange(d)
        return None if self.g.table_uses(q_table) or self.g.table_uses(r_table) else (q_table, r_table)

    def reference_round(self, y: str, d: Any, offset: Any, clamp: bool) -> str:
        """Reference graph: ``floor((y + offset) / d)`` by ``Floor(Div)`` (exact below 2^24),
        clamped to [0, 255] if ``clamp``; ``d`` and ``offset`` may be per-position arrays."""
        g = self.g
        off = np.asarray(offset, dtype=np.float32)
        num = g.op("Add", [y, g.const(off)]) if off.any() else y
        q = g.op("Floor", [g.op("Div", [num, g.const(np.asarray(d, dtype=np.float32))])])
        if clamp:
            return g.op("Clip", [q, g.const(np.float32(0)), g.const(np.float32(255))])
        return q

    def round_div(self, y: str, shape: Shape, d: Any, offset: Any, num_min: int = 0, num_max: int = 0,
                  clamp: bool = False) -> str:
        """``floor((y + offset) / d)`` for integers ``y + offset`` in ``[num_min, num_max]``,
        clamped to [0, 255] with ``clamp`` (else the result must be a byte: module doc).
        ``d`` and ``offset`` may be per-position arrays (broadcast to ``shape``; then the
        numerator is non-negative and there is no clamp)."""
        g = self.g
        d_arr, off = np.asarray(d, dtype=np.int64), np.asarray(offset, dtype=np.int64)
        d_max = int(d_arr.max())
        per_position = d_arr.size > 1 and len(np.unique(d_arr)) > 1
        if per_position and (num_min < 0 or clamp):
            raise AssertionError("a per-position divisor needs a non-negative numerator and no clamp")
        b = _clamp_shift(num_min, d_max)
        qn = _quotients(num_max, d_max, b, clamp)
        hint_name = f"hint_{len(self.hints)}"
        self.hints.append((hint_name, shape))
        if not self.circuit:
            q = self.reference_round(y, d_arr, off, False)
            hint = g.op("Add", [q, g.const([b])]) if b else q
            g.add_output(hint, hint_name, shape, copy=True)
            return g.op("Clip", [q, g.const(np.float32(0)), g.const(np.float32(255))]) if clamp else q
        hint = self.hint_input(hint_name, shape)  # q' = q + b ≥ 0
        folded = self._folded_tables(d_max, b, qn, int(off.flat[0])) \
            if g.integer and not per_position and len(np.unique(off)) == 1 else None
        if folded is not None:  # T[q'] = d·q − offset, so r = y − T[q'] = y + offset − d·q
            q_table, r_table = folded
            q_s = hint
            r = g.op("Sub", [y, g.lookup(q_s, q_table, extend=False)])
        else:
            # Q = q' + s; the numerator carries d·(s + b) so that
            # r = y + offset + d·(s + b) − d·Q = y + offset − d·q
            s, q_table, r_table = self._shift(d_max, qn)
            n = off + d_arr * (s + b)
            num = g.op("Add", [y, g.operand(n if n.size > 1 else [int(n)])]) if n.any() else y
            q_s = g.lookup(hint, q_table, extend=False)
            r = g.op("Sub", [num, g.op("Mul", [q_s, g.operand(d_arr if d_arr.size > 1 else [d_max])])])
        r_s = g.lookup(r, r_table, extend=False)  # R = r + s iff 0 ≤ r < d (s = 0 folded)
        out = g.op("Sub", [q_s, g.op("Sub", [r_s, r])])  # (q' + s) − (R − r) = q'
        if per_position:  # also r < d here: r + (d_max − d) is in [0, d_max)
            s2 = next(k for k in range(1 << 20) if not g.table_uses(np.arange(d_max) + k))
            r2 = g.op("Add", [r, g.operand(d_max - d_arr)])
            r2_s = g.lookup(r2, np.arange(d_max) + s2, extend=False)
            out = g.op("Sub", [out, g.op("Sub", [r2_s, r2])])  # − s2
            out = g.op("Add", [out, g.operand([s2])]) if s2 else out
        if clamp:  # q' = q + b → clamp(q, 0, 255); indices past qn are unreachable
            return g.lookup(out, np.clip(np.arange(qn) - b, 0, 255))
        return out

    def block_mean(self, x: str, shape: Shape, p: BlockMean) -> str:
        """Cell sums by two exact sums (one row of taps per cell member), one rounding per
        cell (per-cell divisors where cells differ in size), then a Take back to pixels."""
        sums = []
        for axis, cells in ((0, p.row_cells), (1, p.col_cells)):
            n = max(map(len, cells))
            index = tuple(tuple(c[t] if t < len(c) else c[0] for c in cells) for t in range(n))
            weight = tuple(tuple(int(t < len(c)) for c in cells) for t in range(n))
            in_max = 255 if axis == 0 else 255 * max(map(len, p.row_cells))
            sums.append(WeightedSum(axis, index, weight, 1, 0, in_max))
        cell_shape = sums[1].out_shape(sums[0].out_shape(shape))
        total = self.body(x, shape, sums)
        d = np.broadcast_to(p.cell_sizes(), cell_shape)
        num_max = 255 * int(d.max()) + int(d.max()) // 2
        means = self.round_div(total, cell_shape, d, d // 2, 0, num_max)
        means = self.primitive(means, cell_shape, Take(0, p.row_of))
        return self.primitive(means, (len(p.row_of), cell_shape[1], shape[2]), Take(1, p.col_of))

    def select(self, x: str, shape: Shape, p: Select) -> str:
        """``keep·(1 − M) + inner·M`` with the constant 0/1 mask ``M``: exact, and inside the
        mask the product with 0 leaves nothing of ``keep``."""
        g = self.g
        keep = self.body(x, shape, p.keep)
        out_shape = out_shape_all(p.keep, shape)
        m = p.mask(out_shape).astype(np.float32)
        kept = g.op("Mul", [keep, g.const(1 - m)])
        if len(p.inner) == 1 and isinstance(p.inner[0], Fill):
            return g.op("Add", [kept, g.const(m * np.asarray(p.inner[0].values, np.float32))])
        inner = self.body(x, shape, p.inner)
        return g.op("Add", [kept, g.op("Mul", [inner, g.const(m)])])

    def body(self, x: str, shape: Shape, prims: Sequence[Primitive]) -> str:
        for p in prims:
            x = self.primitive(x, shape, p)
            shape = p.out_shape(shape)
        return x


@dataclass(frozen=True)
class LoweredJob:
    """ONNX bytes of one job's graph plus the names of its rounding hints (in input order)."""

    model: bytes
    hints: Tuple[Tuple[str, Shape], ...]

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.model).hexdigest()


def lower_circuit(spec: CircuitSpec) -> LoweredJob:
    """The circuit graph ezkl compiles: the commitment scheme's inputs and outputs
    (:meth:`CommitmentScheme.lower_circuit`) around the job's primitives."""
    scheme = spec.commitment_scheme
    g = GraphBuilder(integer=scheme.integer_graph)
    lw = _Lowerer(g, circuit=True, hint_salt_slots=scheme.hint_salt_slots)
    scheme.lower_circuit(g, spec, lambda region: lw.body(region, spec.region_shape, spec.primitives))
    lw.finish()
    scheme.check_input_sizes([math.prod(d.dim_value for d in i.type.tensor_type.shape.dim) for i in g.inputs])
    return LoweredJob(g.model_bytes("zkimg_tile_job"), tuple(lw.hints))


def gather_region(g: GraphBuilder, flat: str, part_starts: Sequence[int], spec: CircuitSpec) -> str:
    """The ``spec.region_shape`` region from ``flat``, the parts laid end to end with part ``i``'s
    values at ``part_starts[i]`` (a constant gather: wiring, no rows; ``flat`` itself when the
    region is exactly ``flat``)."""
    pixel_index = np.concatenate([np.arange(part_starts[i], part_starts[i] + n) for i, n in enumerate(spec.part_sizes)])
    if spec.region_index is not None:
        pixel_index = pixel_index[np.asarray(spec.region_index, dtype=np.int64)]
    n_flat = int(part_starts[-1])
    if len(pixel_index) == n_flat and np.array_equal(pixel_index, np.arange(n_flat)):
        region = flat
    else:
        region = g.op("Gather", [flat, g.const(pixel_index, np.int64)], axis=0)
    return g.op("Reshape", [region, g.const(spec.region_shape, np.int64)])


def lower_reference(spec: CircuitSpec) -> LoweredJob:
    """The reference graph: region (H×W×C floats) → ``output`` and every hint."""
    g = GraphBuilder()
    lw = _Lowerer(g, circuit=False)
    x = g.add_input("image", list(spec.region_shape))
    out = lw.body(x, spec.region_shape, spec.primitives)
    g.add_output(out, "output", list(spec.output_shape), copy=True)
    return LoweredJob(g.model_bytes("zkimg_tile_job_reference"), tuple(lw.hints))


@functools.lru_cache(maxsize=32)
def _reference_session(spec: CircuitSpec) -> Tuple[Any, Tuple[str, ...]]:
    """The onnxruntime session of ``spec``'s reference graph and its output names, built once
    per circuit per process (a plan repeats a few circuits over many jobs)."""
    import onnxruntime as ort

    lowered = lower_reference(spec)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(lowered.model, opts, providers=["CPUExecutionProvider"])
    return sess, ("output", *(n for n, _ in lowered.hints))


def run_reference(spec: "CircuitSpec | TileJob", region: np.ndarray) -> Tuple[np.ndarray, List[np.ndarray]]:
    """Run the reference graph in onnxruntime: (output as uint8, hints as int64 arrays)."""
    if isinstance(spec, TileJob):
        spec = spec.spec()
    sess, names = _reference_session(spec)
    res = sess.run(list(names), {"image": region.astype(np.float32)})
    out = res[0]
    if not np.array_equal(out, np.round(out)) or out.min(initial=0) < 0 or out.max(initial=0) > 255:
        raise AssertionError("reference graph produced a non-uint8 value")
    return out.astype(np.uint8), [h.astype(np.int64) for h in res[1:]]

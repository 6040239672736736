"""Declarative composition of transforms with a canonical JSON form and digest."""

from __future__ import annotations

import hashlib
import json
import reprlib
from pathlib import Path
from typing import Any, Iterable, Iterator, List, Sequence, Tuple

import numpy as np

from .errors import InvalidBundle, InvalidParameter
from .fileio import read_bounded
from .primitives import Primitive, Shape
from .transforms import Transform, check_image, check_shape, transform_from_json

PIPELINE_SCHEMA = "zkimg.pipeline/1"
MAX_STEPS = 64
MAX_JSON_BYTES = 1 << 20


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN/Infinity: the bytes that digests are taken of."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def parse_json(text: str | bytes, max_bytes: int, what: str) -> Any:
    """``json.loads`` for untrusted input: bounded size; any failure is InvalidBundle."""
    if not isinstance(text, (str, bytes, bytearray)) or len(text) > max_bytes:
        raise InvalidBundle(f"{what} must be JSON text of at most {max_bytes} bytes")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise InvalidBundle(f"{what} is not valid JSON: {e}") from e


def require_keys(obj: Any, keys: set, what: str) -> None:
    """InvalidBundle unless ``obj`` is a JSON object with exactly ``keys``."""
    if not isinstance(obj, dict) or set(obj) != keys:
        raise InvalidBundle(f"{what} must be an object with exactly the keys {sorted(keys)}")


class Pipeline:
    """An ordered, immutable list of transforms applied left to right."""

    def __init__(self, steps: Iterable[Transform]) -> None:
        steps = tuple(steps)
        if not steps:
            raise InvalidParameter("steps", "a pipeline needs at least one transform")
        if len(steps) > MAX_STEPS:
            raise InvalidParameter("steps", f"at most {MAX_STEPS} transforms")
        for i, s in enumerate(steps):
            if not isinstance(s, Transform):
                raise InvalidParameter("steps", f"step {i} is not a Transform: {reprlib.repr(s)}")
        self._steps: Tuple[Transform, ...] = steps

    @property
    def steps(self) -> Tuple[Transform, ...]:
        return self._steps

    def __iter__(self) -> Iterator[Transform]:
        return iter(self._steps)

    def __len__(self) -> int:
        return len(self._steps)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pipeline) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"Pipeline({list(self._steps)!r})"

    def shapes(self, shape: Shape) -> List[Shape]:
        """Shapes before and after every step: ``[input, after step 1, ..., output]``."""
        out = [check_shape(shape)]
        for s in self._steps:
            out.append(s.output_shape(out[-1]))
        return out

    def output_shape(self, shape: Shape) -> Shape:
        return self.shapes(shape)[-1]

    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        """All steps' primitives for an input of ``shape``, in order."""
        prims: List[Primitive] = []
        shapes = self.shapes(shape)
        for s, sh in zip(self._steps, shapes):
            prims.extend(s.primitives(sh))
        return tuple(prims)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """The exact reference: every step's ``apply`` in turn (uint8 in, uint8 out)."""
        image = check_image(image)
        for s in self._steps:
            image = s.apply(image)
        return image

    def to_json(self) -> dict:
        return {"schema": PIPELINE_SCHEMA, "steps": [s.to_json() for s in self._steps]}

    def canonical(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the canonical JSON; what proofs are bound to."""
        return hashlib.sha256(self.canonical()).hexdigest()

    @classmethod
    def from_json(cls, data: Any) -> "Pipeline":
        """Parse (and validate) the canonical JSON object, or raise InvalidBundle."""
        if not isinstance(data, dict) or set(data) != {"schema", "steps"}:
            raise InvalidBundle("a pipeline is an object with exactly 'schema' and 'steps'")
        if data["schema"] != PIPELINE_SCHEMA:
            raise InvalidBundle(f"unsupported pipeline schema {reprlib.repr(data['schema'])}")
        steps = data["steps"]
        if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
            raise InvalidBundle(f"'steps' must be a list of 1 to {MAX_STEPS} transforms")
        return cls(transform_from_json(s) for s in steps)

    @classmethod
    def loads(cls, text: str | bytes) -> "Pipeline":
        return cls.from_json(parse_json(text, MAX_JSON_BYTES, "pipeline"))


def load_pipeline(path: "str | Path") -> Pipeline:
    """Read a hand-written pipeline file: JSON (``.json``) or YAML (``.yaml``/``.yml``).

    The document is a list of steps, or an object with ``steps`` (and optionally
    ``schema``). A step is ``{"op": "crop", "left": 0, ...}`` or ``{"crop": {"left": 0, ...}}``
    (a parameterless step may be just ``"grayscale"``); derived fields may be omitted.
    Raises :class:`InvalidBundle` for anything malformed.
    """
    p = Path(path)
    try:
        text = read_bounded(p, MAX_JSON_BYTES, "pipeline file", InvalidBundle).decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidBundle(f"pipeline file is not UTF-8: {e}") from e
    if p.suffix.lower() in (".yaml", ".yml"):
        data = _safe_yaml(text)
    else:
        data = parse_json(text, MAX_JSON_BYTES, "pipeline file")
    return pipeline_from_steps(data)


def _safe_yaml(text: str) -> Any:
    """Plain YAML data: no tags beyond the safe ones, and no anchors or aliases (an alias
    bomb expands a small file into an enormous document)."""
    import yaml

    class NoAliases(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None):
                raise yaml.YAMLError("anchors and aliases are not allowed in a pipeline file")
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=NoAliases)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError) as e:
        raise InvalidBundle(f"pipeline file is not valid YAML: {str(e)[:300]}") from e


def pipeline_from_steps(data: Any) -> Pipeline:
    """A pipeline from the lenient step list of :func:`load_pipeline` (already parsed)."""
    if isinstance(data, dict):
        if not set(data) <= {"schema", "steps"} or "steps" not in data:
            raise InvalidBundle("a pipeline document has 'steps' (and optionally 'schema')")
        if data.get("schema", PIPELINE_SCHEMA) != PIPELINE_SCHEMA:
            raise InvalidBundle(f"unsupported pipeline schema {reprlib.repr(data['schema'])}")
        data = data["steps"]
    if not isinstance(data, list) or not 1 <= len(data) <= MAX_STEPS:
        raise InvalidBundle(f"a pipeline is a list of 1 to {MAX_STEPS} steps")
    steps = []
    for i, step in enumerate(data):
        if isinstance(step, str):
            step = {"op": step}
        elif isinstance(step, dict) and "op" not in step and len(step) == 1:
            (op, params), = step.items()
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise InvalidBundle(f"step {i + 1} ({op}): parameters must be a mapping")
            step = {"op": op, **params}
        try:
            steps.append(transform_from_json(step, canonical=False))
        except InvalidBundle as e:
            raise InvalidBundle(f"step {i + 1}: {e}") from e
    return Pipeline(steps)


def as_pipeline(p: "Pipeline | Transform | Sequence[Transform]") -> Pipeline:
    if isinstance(p, Pipeline):
        return p
    if isinstance(p, Transform):
        return Pipeline([p])
    return Pipeline(p)

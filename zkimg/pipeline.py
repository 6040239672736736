"""Declarative composition of transforms with a canonical JSON form and digest."""

from __future__ import annotations

import hashlib
import reprlib
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Sequence, Tuple

import numpy as np

from ._codec import canonical_json, parse_json
from ._fileio import read_bounded
from ._validate import check_image, check_shape
from .errors import InvalidParameter, InvalidPipelineFile
from .hazmat.primitives import Primitive, Shape
from .limits import MAX_PIPELINE_BYTES, MAX_PIPELINE_STEPS
from .transforms import Transform, transform_from_json

PIPELINE_SCHEMA = "zkimg.pipeline/1"


class Pipeline:
    """An ordered, immutable list of transforms applied left to right."""

    def __init__(self, steps: Iterable[Transform]) -> None:
        steps = tuple(steps)
        if not steps:
            raise InvalidParameter("steps", "a pipeline needs at least one transform")
        if len(steps) > MAX_PIPELINE_STEPS:
            raise InvalidParameter("steps", f"at most {MAX_PIPELINE_STEPS} transforms")
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

    def to_json(self) -> Dict[str, Any]:
        return {"schema": PIPELINE_SCHEMA, "steps": [s.to_json() for s in self._steps]}

    def canonical(self) -> bytes:
        return canonical_json(self.to_json())

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the canonical JSON; what proofs are bound to."""
        return hashlib.sha256(self.canonical()).hexdigest()

    @classmethod
    def from_json(cls, data: Any) -> "Pipeline":
        """Parse (and validate) the canonical JSON object, or raise InvalidPipelineFile."""
        if not isinstance(data, dict) or set(data) != {"schema", "steps"}:
            raise InvalidPipelineFile("a pipeline is an object with exactly 'schema' and 'steps'")
        if data["schema"] != PIPELINE_SCHEMA:
            raise InvalidPipelineFile(f"unsupported pipeline schema {reprlib.repr(data['schema'])}")
        steps = data["steps"]
        if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_PIPELINE_STEPS:
            raise InvalidPipelineFile(f"'steps' must be a list of 1 to {MAX_PIPELINE_STEPS} transforms")
        return cls(transform_from_json(s) for s in steps)

    @classmethod
    def loads(cls, text: str | bytes) -> "Pipeline":
        return cls.from_json(parse_json(text, MAX_PIPELINE_BYTES, "pipeline", InvalidPipelineFile))


def load_pipeline(path: "str | Path") -> Pipeline:
    """Read a hand-written pipeline file: JSON (``.json``) or YAML (``.yaml``/``.yml``).

    The document is a list of steps, or an object with ``steps`` (and optionally
    ``schema``). A step is ``{"op": "crop", "left": 0, ...}`` or ``{"crop": {"left": 0, ...}}``
    (a parameterless step may be just ``"grayscale"``); derived fields may be omitted.
    Raises :class:`InvalidPipelineFile` for anything malformed.
    """
    p = Path(path)
    try:
        text = read_bounded(p, MAX_PIPELINE_BYTES, "pipeline file", InvalidPipelineFile).decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidPipelineFile(f"pipeline file is not UTF-8: {e}") from e
    if p.suffix.lower() in (".yaml", ".yml"):
        data = _safe_yaml(text)
    else:
        data = parse_json(text, MAX_PIPELINE_BYTES, "pipeline file", InvalidPipelineFile)
    return pipeline_from_steps(data)


def _safe_yaml(text: str) -> Any:
    """Plain YAML data: no tags beyond the safe ones, and no anchors or aliases (an alias
    bomb expands a small file into an enormous document)."""
    import yaml

    class NoAliases(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if (self.check_event(yaml.AliasEvent)
                    or getattr(self.peek_event(), "anchor", None)):  # type: ignore[no-untyped-call]
                raise yaml.YAMLError("anchors and aliases are not allowed in a pipeline file")
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=NoAliases)
    except (yaml.YAMLError, RecursionError) as e:
        raise InvalidPipelineFile(f"pipeline file is not valid YAML: {str(e)[:300]}") from e


def pipeline_from_steps(data: Any) -> Pipeline:
    """A pipeline from the lenient step list of :func:`load_pipeline` (already parsed)."""
    if isinstance(data, dict):
        if not set(data) <= {"schema", "steps"} or "steps" not in data:
            raise InvalidPipelineFile("a pipeline document has 'steps' (and optionally 'schema')")
        if data.get("schema", PIPELINE_SCHEMA) != PIPELINE_SCHEMA:
            raise InvalidPipelineFile(f"unsupported pipeline schema {reprlib.repr(data['schema'])}")
        data = data["steps"]
    if not isinstance(data, list) or not 1 <= len(data) <= MAX_PIPELINE_STEPS:
        raise InvalidPipelineFile(f"a pipeline is a list of 1 to {MAX_PIPELINE_STEPS} steps")
    steps = []
    for i, step in enumerate(data):
        if isinstance(step, str):
            step = {"op": step}
        elif isinstance(step, dict) and "op" not in step and len(step) == 1:
            (op, params), = step.items()
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise InvalidPipelineFile(f"step {i + 1} ({op}): parameters must be a mapping")
            step = {"op": op, **params}
        try:
            steps.append(transform_from_json(step, canonical=False))
        except InvalidPipelineFile as e:
            raise InvalidPipelineFile(f"step {i + 1}: {e}") from e
    return Pipeline(steps)


def as_pipeline(p: "Pipeline | Transform | Sequence[Transform]") -> Pipeline:
    if isinstance(p, Pipeline):
        return p
    if isinstance(p, Transform):
        return Pipeline([p])
    return Pipeline(p)

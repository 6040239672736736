"""Image transforms with exact integer semantics.

Every transform maps a ``uint8`` array of shape H×W×C to a ``uint8`` array. Its
docstring is the specification: rounding, clamping and borders are exact integer
rules, and ``apply()`` implements them through :mod:`zkimg.hazmat.primitives`, the same
integer constants the circuit is built from. Real-valued parameters (factors, gains,
sigma) are quantised once, here, to multiples of 1/256 (``q8``), and the quantised
value is recorded in the canonical JSON.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple, Type, cast

import numpy as np

from ._validate import as_choice, as_int, as_real, check_image, check_shape, short
from .errors import InvalidImage, InvalidParameter, InvalidPipelineFile
from .hazmat.primitives import (
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
    run_all,
)
from .limits import MAX_BOXES, MAX_CHANNELS, MAX_SIDE

#: Fixed-point denominator for real-valued parameters and interpolation weights.
Q8 = 256


def quantize_q8(value: float) -> int:
    """The one place reals become integers: ``round(value * 256)``, halves away from zero."""
    return int(math.floor(value * Q8 + 0.5))


def _scale_table(gain_q8: int) -> Tuple[int, ...]:
    """``min(255, (x * gain_q8 + 128) // 256)`` for x in 0..255 (round half up, clamp)."""
    return tuple(min(255, (x * gain_q8 + Q8 // 2) // Q8) for x in range(256))


class Transform(abc.ABC):
    """One image operation with exact integer semantics and a canonical JSON form."""

    op: ClassVar[str]

    @abc.abstractmethod
    def params(self) -> Dict[str, Any]:
        """Parameters for the canonical JSON (ints, strings, round-tripping floats, lists)."""

    @abc.abstractmethod
    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        """The exact primitive sequence for an input of ``shape``; raises InvalidParameter."""

    #: The C2PA action this edit is recorded as (https://c2pa.org/specifications: actions).
    c2pa_action: ClassVar[str] = "c2pa.edited"
    #: The CLI option that makes this transform, its metavar and help; ``None``: made through
    #: another transform's option (``--blur box:3`` makes a :class:`BoxBlur`).
    cli_flag: ClassVar[Optional[str]] = None
    cli_metavar: ClassVar[str] = ""
    cli_help: ClassVar[str] = ""
    #: The value a bare option stands for (``--grayscale`` alone: 1 channel); ``None``: required.
    cli_default: ClassVar[Optional[str]] = None

    #: The parameters the CLI option's value lists, comma-separated (the default CLI form).
    cli_fields: ClassVar[Tuple[str, ...]] = ()

    @classmethod
    def from_cli(cls, value: str) -> "Transform":
        """The transform the CLI option's ``value`` names (ValueError/InvalidParameter if bad).
        Default: the ``cli_fields`` values, comma-separated, converted to the fields' types."""
        parts = value.split(",")
        if not cls.cli_fields or len(parts) != len(cls.cli_fields):
            raise ValueError(f"expected {len(cls.cli_fields)} value(s) separated by ','")
        types = {f.name: str(f.type) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        convert = {"int": int, "float": float, "str": str}
        return cls(**{n: convert[types[n]](p) for n, p in zip(cls.cli_fields, parts)})

    def cli_args(self) -> Tuple[str, str]:
        """``(option, value)`` that the CLI reads back into this transform."""
        if self.cli_flag is None:
            raise NotImplementedError(f"{type(self).__name__} has no CLI option of its own")
        return self.cli_flag, ",".join(_cli_value(getattr(self, n)) for n in self.cli_fields)

    @classmethod
    @abc.abstractmethod
    def examples(cls) -> Tuple["Transform", ...]:
        """Instances the generated tests run (each valid on an RGB image of at least 7 rows × 8 columns)."""

    @classmethod
    def benchmark_examples(cls, size: int) -> Tuple["Transform", ...]:
        """Representative instances for a ``size × size`` tile (benchmarks/); default :meth:`examples`."""
        return cls.examples()

    #: Input positions along one spatial axis that one output position reads, at most.
    taps: ClassVar[int] = 1
    #: Whether the step swaps rows and columns (a quarter turn).
    transposes: ClassVar[bool] = False

    def span(self, run: int, n_in: int, n_out: int) -> int:
        """At most how many consecutive input positions, along a spatial axis of ``n_in``
        positions (``n_out`` after the step), a run of ``run`` consecutive output positions
        reads: the receptive field's growth, which bounds planning work arithmetically
        (``tests/test_tiling.py`` checks it against the restricted primitives)."""
        return min(n_in, run + self.taps - 1)

    def output_shape(self, shape: Shape) -> Shape:
        """The output shape for an input of ``shape``; raises InvalidParameter. Geometric steps
        override it with arithmetic, so shapes never cost what primitives cost (O(side × taps))."""
        s = check_shape(shape)
        for p in self.primitives(s):
            s = p.out_shape(s)
        return s

    def apply(self, image: np.ndarray) -> np.ndarray:
        """Apply the transform to a ``uint8`` H×W×C image (the exact reference)."""
        image = check_image(image)
        out = run_all(self.primitives(image.shape), image.astype(np.int64))
        return out.astype(np.uint8)

    def to_json(self) -> Dict[str, Any]:
        return {"op": self.op, **self.params()}

    def describe(self) -> str:
        """One line for people, e.g. ``crop(left=1, top=2, width=20, height=14)`` (derived
        fields such as a blur's integer kernel left out)."""
        return f"{self.op}(" + ", ".join(f"{k}={v}" for k, v in self.params().items() if k != "kernel") + ")"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "op" in cls.__dict__:
            _REGISTRY[cls.op] = cls

    @classmethod
    def _from_params(cls, params: Mapping[str, Any]) -> "Transform":
        return cls(**params)


_REGISTRY: Dict[str, Type[Transform]] = {}
#: Every transform class by its ``op``, in definition order. The CLI options, the pipeline
#: JSON/YAML schema, the C2PA actions, the circuit record and the tests all read this.
REGISTRY: Mapping[str, Type[Transform]] = MappingProxyType(_REGISTRY)


def cli_options() -> Dict[str, Type[Transform]]:
    """CLI option → the transform class that reads it (from :data:`REGISTRY`)."""
    return {cls.cli_flag: cls for cls in REGISTRY.values() if cls.cli_flag is not None}


def all_examples() -> List[Transform]:
    """Every registered transform's :meth:`~Transform.examples`, in registry order."""
    return [t for cls in REGISTRY.values() for t in cls.examples()]


def _ints(text: str, n: int, sep: str = ",") -> List[int]:
    parts = text.split(sep)
    if len(parts) != n:
        raise ValueError(f"expected {n} integers separated by {sep!r}")
    return [int(p) for p in parts]


def _num(x: float) -> str:
    """A float as the CLI writes it (shortest round-tripping form)."""
    return repr(float(x))


def _cli_value(v: Any) -> str:
    return _num(v) if isinstance(v, float) else str(v)


def transform_from_json(data: Any, canonical: bool = True) -> Transform:
    """Parse one transform's JSON object; raises InvalidPipelineFile on anything malformed.

    ``canonical`` (bundles): the object must be exactly the transform's canonical form,
    derived fields included. Otherwise (hand-written pipeline files) derived fields such as
    ``kernel`` or ``factor_q8`` may be omitted and defaults apply.
    """
    if not isinstance(data, dict) or not isinstance(data.get("op"), str):
        raise InvalidPipelineFile("a transform must be a JSON object with a string 'op'")
    cls = _REGISTRY.get(data["op"])
    if cls is None:
        raise InvalidPipelineFile(f"unknown transform op {short(data['op'])}")
    params = {k: v for k, v in data.items() if k != "op"}
    try:
        t = cls._from_params(params)
    except InvalidParameter as e:
        raise InvalidPipelineFile(f"{data['op']}: {e}") from e
    except TypeError as e:
        raise InvalidPipelineFile(f"{data['op']}: bad parameters ({e})") from e
    made = t.to_json()
    if not canonical and any(made.get(k) != v for k, v in data.items()):  # a given derived field must agree
        raise InvalidPipelineFile(f"{data['op']}: given parameters disagree with the ones derived from them: "
                            f"{ {k: made.get(k) for k, v in data.items() if made.get(k) != v} }")
    if canonical and made != data:
        raise InvalidPipelineFile(f"{data['op']}: parameters are not in canonical form")
    return t


def _clamped(i: int, n: int) -> int:
    return 0 if i < 0 else (n - 1 if i >= n else i)


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class Crop(Transform):
    """Keep the rectangle ``[top, top+height) × [left, left+width)``; it must lie inside the image."""

    left: int
    top: int
    width: int
    height: int
    op: ClassVar[str] = "crop"
    c2pa_action: ClassVar[str] = "c2pa.cropped"
    cli_flag: ClassVar[Optional[str]] = "--crop"
    cli_metavar: ClassVar[str] = "L,T,W,H"
    cli_help: ClassVar[str] = "crop a W×H window whose top-left pixel is (L, T)"
    cli_fields: ClassVar[Tuple[str, ...]] = ("left", "top", "width", "height")

    @classmethod
    def examples(cls) -> Tuple[Transform, ...]:
        return (cls(1, 2, 6, 5),)

    @classmethod
    def benchmark_examples(cls, size: int) -> Tuple[Transform, ...]:
        return (cls(1, 1, size - 2, size - 2),)

    def __post_init__(self) -> None:
        as_int(self.left, "left", 0, MAX_SIDE)
        as_int(self.top, "top", 0, MAX_SIDE)
        as_int(self.width, "width", 1, MAX_SIDE)
        as_int(self.height, "height", 1, MAX_SIDE)

    def params(self) -> Dict[str, Any]:
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}

    def output_shape(self, shape: Shape) -> Shape:
        h, w, c = check_shape(shape)
        self._check_inside(h, w)
        return (self.height, self.width, c)

    def _check_inside(self, h: int, w: int) -> None:
        if self.left + self.width > w:
            raise InvalidParameter("width", f"crop columns [{self.left}, {self.left + self.width}) exceed image width {w}")
        if self.top + self.height > h:
            raise InvalidParameter("height", f"crop rows [{self.top}, {self.top + self.height}) exceed image height {h}")

    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        self._check_inside(shape[0], shape[1])
        return (
            Take(0, tuple(range(self.top, self.top + self.height))),
            Take(1, tuple(range(self.left, self.left + self.width))),
        )


@dataclass(frozen=True)
class Flip(Transform):
    """Mirror the image: ``"horizontal"`` reverses columns, ``"vertical"`` reverses rows."""

    direction: str = "horizontal"
    op: ClassVar[str] = "flip"
    c2pa_action: ClassVar[str] = "c2pa.orientation"
    cli_flag: ClassVar[Optional[str]] = "--flip"
    cli_metavar: ClassVar[str] = "DIR"
    cli_help: ClassVar[str] = "horizontal or vertical"
    cli_fields: ClassVar[Tuple[str, ...]] = ("direction",)

    @classmethod
    def examples(cls) -> Tuple[Transform, ...]:
        return (cls(), cls("vertical"))

    def __post_init__(self) -> None:
        as_choice(self.direction, "direction", ("horizontal", "vertical"))

    def params(self) -> Dict[str, Any]:
        return {"direction": self.direction}

    def output_shape(self, shape: Shape) -> Shape:
        return check_shape(shape)

    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        axis = 1 if self.direction == "horizontal" else 0
        return (Take(axis, tuple(range(shape[axis] - 1, -1, -1))),)


@dataclass(frozen=True)
class Rotate90(Transform):
    """Rotate by ``k × 90°`` counter-clockwise, exactly as ``np.rot90(image, k)``; k in {1, 2, 3}."""

    k: int = 1
    op: ClassVar[str] = "rotate90"
    c2pa_action: ClassVar[str] = "c2pa.orientation"
    cli_flag: ClassVar[Optional[str]] = "--rotate90"
    cli_metavar: ClassVar[str] = "K"
    cli_help: ClassVar[str] = "rotate by K quarter turns counter-clockwise"
    cli_fields: ClassVar[Tuple[str, ...]] = ("k",)

    @classmethod
    def examples(cls) -> Tuple[Transform, ...]:
        return (cls(1), cls(2), cls(3))

    def __post_init__(self) -> None:
        as_int(self.k, "k", 1, 3)

    def params(self) -> Dict[str, Any]:
        return {"k": self.k}

    @property
    def transposes(self) -> bool:  # type: ignore[override]
        return self.k % 2 == 1

    def output_shape(self, shape: Shape) -> Shape:
        h, w, c = check_shape(shape)
        return (w, h, c) if self.transposes else (h, w, c)

    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        h, w, _ = shape
        rev_rows, rev_cols = tuple(range(h - 1, -1, -1)), tuple(range(w - 1, -1, -1))
        if self.k == 2:
            return (Take(0, rev_rows), Take(1, rev_cols))
        if self.k == 1:  # out[i, j] = in[j, w-1-i]
            return (Transpose((1, 0, 2)), Take(0, rev_cols))
        return (Transpose((1, 0, 2)), Take(1, rev_rows))  # k == 3: out[i, j] = in[h-1-j, i]


@dataclass(frozen=True)
class Resize(Transform):
    """Resample to ``width × height`` pixels.

    ``mode="nearest"``: source index ``floor((2j+1)·n_in / (2·n_out))`` (pixel centres).

    ``mode="bilinear"``: separable, columns first then rows, half-pixel centres, no
    antialiasing. The source position ``s = (j+0.5)·n_in/n_out − 0.5`` is taken in 1/256
    units, ``s8 = floor(((2j+1)·n_in − n_out)·256 / (2·n_out))`` clamped to
    ``[0, 256·(n_in−1)]``; with ``i = s8 // 256`` and ``f = s8 % 256`` each pass computes
    ``(x[i]·(256−f) + x[min(i+1, n_in−1)]·f + 128) // 256`` (round half up) and stores
    a uint8 before the next pass. An axis whose size does not change is left untouched.
    """

    width: int
    height: int
    mode: str = "bilinear"
    op: ClassVar[str] = "resize"
    c2pa_action: ClassVar[str] = "c2pa.resized"
    cli_flag: ClassVar[Optional[str]] = "--resize"
    cli_metavar: ClassVar[str] = "WxH[:MODE]"
    cli_help: ClassVar[str] = "resize to W×H; MODE bilinear (default) or nearest"

    @classmethod
    def from_cli(cls, value: str) -> "Resize":
        size, _, mode = value.partition(":")
        w, h = _ints(size.lower(), 2, "x")
        return cls(w, h, mode or "bilinear")

    def cli_args(self) -> Tuple[str, str]:
        return "--resize", f"{self.width}x{self.height}:{self.mode}"

    @classmethod
    def examples(cls) -> Tuple[Transform, ...]:
        return (cls(5, 4), cls(13, 11, "nearest"))

    @classmethod
    def benchmark_examples(cls, size: int) -> Tuple[Transform, ...]:
        return (cls(size // 2, size // 2), cls(size // 2, size // 2, "nearest"))

    def __post_init__(self) -> None:
        as_int(self.width, "width", 1, MAX_SIDE)
        as_int(self.height, "height", 1, MAX_SIDE)
        as_choice(self.mode, "mode", ("nearest", "bilinear"))

    def params(self) -> Dict[str, Any]:
        return {"width": self.width, "height": self.height, "mode": self.mode}

    @property
    def taps(self) -> int:  # type: ignore[override]
        return 2 if self.mode == "bilinear" else 1

    def span(self, run: int, n_in: int, n_out: int) -> int:
        # source positions advance by n_in/n_out per output; + the floor and the second tap
        return min(n_in, -(-(run - 1) * n_in // n_out) + 1 + self.taps)

    def output_shape(self, shape: Shape) -> Shape:
        return (self.height, self.width, check_shape(shape)[2])

    def _axis(self, axis: int, n_in: int, n_out: int) -> Tuple[Primitive, ...]:
        if n_in == n_out:
            return ()
        if self.mode == "nearest":
            return (Take(axis, tuple((2 * j + 1) * n_in // (2 * n_out) for j in range(n_out))),)
        lo, hi, w0, w1 = [], [], [], []
        for j in range(n_out):
            s8 = ((2 * j + 1) * n_in - n_out) * Q8 // (2 * n_out)
            s8 = min(max(s8, 0), Q8 * (n_in - 1))
            i, f = divmod(s8, Q8)
            lo.append(i)
            hi.append(min(i + 1, n_in - 1))
            w0.append(Q8 - f)
            w1.append(f)
        return (WeightedSum(axis, (tuple(lo), tuple(hi)), (tuple(w0), tuple(w1)), Q8, Q8 // 2),)

    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        h, w, _ = shape
        return self._axis(1, w, self.width) + self._axis(0, h, self.height)


# --------------------------------------------------------------------------- regions

#: A rectangle ``(left, top, width, height)`` in pixels of the step's input image.
Box = Tuple[int, int, int, int]


def as_boxes(value: Any, parameter: str = "boxes") -> Tuple[Box, ...]:
    """``value`` as 1..MAX_BOXES boxes ``(left, top, width, height)``; InvalidParameter."""
    if not isinstance(value, (tuple, list)) or not 1 <= len(value) <= MAX_BOXES:
        raise InvalidParameter(parameter, f"expected 1 to {MAX_BOXES} boxes [left, top, width, height], "
                                          f"got {short(value)}")
    boxes = []
    for b in value:
        if not isinstance(b, (tuple, list)) or len(b) != 4:
            raise InvalidParameter(parameter, f"a box is [left, top, width, height], got {short(b)}")
        boxes.append((as_int(b[0], parameter, 0, MAX_SIDE), as_int(b[1], parameter, 0, MAX_SIDE),
                      as_int(b[2], parameter, 1, MAX_SIDE), as_int(b[3], parameter, 1, MAX_SIDE)))
    return tuple(boxes)


def in_boxes(boxes: Tuple[Box, ...], shape: Shape, inner: Tuple[Primitive, ...], parameter: str = "boxes"
             ) -> Tuple[Primitive, ...]:
    """``inner`` inside ``boxes`` (each inside the image), the image unchanged elsewhere."""
    h, w = shape[0], shape[1]
    for left, top, bw, bh in boxes:
        if left + bw > w or top + bh > h:
            raise InvalidParameter(parameter, f"box {[left, top, bw, bh]} exceeds the {w}×{h} image")
    return (Select(tuple((top, top + bh, left, left + bw) for left, top, bw, bh in boxes), inner),)


def _boxes_from_cli(text: str) -> List[List[int]]:
    return [_ints(b, 4) for b in text.split("+")]


def _boxes_to_cli(boxes: Tuple[Box, ...]) -> str:
    return "+".join(",".join(str(v) for v in b) for b in boxes)


def _boxes_json(boxes: Tuple[Box, ...]) -> List[List[int]]:
    return [list(b) for b in boxes]


# --------------------------------------------------------------------------- filters


def _odd_size(size: Any) -> int:
    v = as_int(size, "size", 3, 15)
    if v % 2 == 0:
        raise InvalidParameter("size", f"kernel size must be odd, got {v}")
    return v


def _taps(axis: int, n: int, kernel: Tuple[int, ...], divisor: int, in_max: int = 255) -> WeightedSum:
    """A 1-D correlation along ``axis`` with edge replication (index clamped to [0, n−1])."""
    r = len(kernel) // 2
    index = tuple(tuple(_clamped(j + t - r, n) for j in range(n)) for t in range(len(kernel)))
    weight = tuple((kw,) * n for kw in kernel)
    return WeightedSum(axis, index, weight, divisor, divisor // 2, in_max)


class _Blur(Transform):
    """What the blurs share: ``size`` taps per axis and an optional ``region`` (boxes) that
    restricts the blur to those rectangles (values inside are blurred from the whole image,
    neighbours outside the box included; everything outside is unchanged)."""

    size: int
    region: Optional[Tuple[Box, ...]]

    def _check_region(self) -> None:
        if self.region is not None:
            object.__setattr__(self, "region", as_boxes(self.region, "region"))

    def _with_region(self, params: Dict[str, Any]) -> Dict[str, Any]:
        return params if self.region is None else {**params, "region": _boxes_json(self.region)}

    def _region_cli(self) -> str:
        return "" if self.region is None else "@" + _boxes_to_cli(self.region)

    def _in_region(self, shape: Shape, prims: Tuple[Primitive, ...]) -> Tuple[Primitive, ...]:
        return prims if self.region is None else in_boxes(self.region, shape, prims, "region")

    @property
    def taps(self) -> int:  # type: ignore[override]
        return self.size + len(self.region or ())  # the boxes: planning work, not reach

    def span(self, run: int, n_in: int, n_out: int) -> int:
        return min(n_in, run + self.size - 1)

    def output_shape(self, shape: Shape) -> Shape:
        return check_shape(shape)


@dataclass(frozen=True)
class BoxBlur(_Blur):
    """Mean over a ``size × size`` window (odd, 3..15), borders replicated (edge pixels
    repeat). ``out = (sum of the size² window values + size²//2) // size²`` (round half up).
    ``region``: only inside these boxes (see :class:`GaussianBlur`)."""

    size: int = 3
    region: Optional[Tuple[Box, ...]] = None
    op: ClassVar[str] = "box_blur"
    c2pa_action: ClassVar[str] = "c2pa.filtered"

    def cli_args(self) -> Tuple[str, str]:
        return "--blur", f"box:{self.size}" + self._region_cli()

    @classmethod
    def examples(cls) -> Tuple[Transform, ...]:
        return (cls(3), cls(5), cls(3, region=((2, 1, 5, 4),)))

    def __post_init__(self) -> None:
        _odd_size(self.size)
        self._check_region()

    def params(self) -> Dict[str, Any]:
        return self._with_region({"size": self.size})

    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        h, w, _ = shape
        k = self.size
        ones = (1,) * k
        return self._in_region(shape, (_taps(1, w, ones, 1), _taps(0, h, ones, k * k, in_max=255 * k)))


def gaussian_kernel(size: int, sigma: float) -> Tuple[int, ...]:
    """Integer 1-D Gaussian weights summing to 256: ``round(256·g_i/Σg)``, centre absorbs the residue."""
    r = size // 2
    z = [(i - r) / sigma for i in range(size)]  # never sigma², which underflows to 0 for sigma < 1e-154
    g = [math.exp(-0.5 * v * v) for v in z]  # v·v overflows to inf, exp(-inf) = 0: a tiny sigma is the identity
    total = sum(g)
    w = [quantize_q8(v / total) for v in g]
    w[r] += Q8 - sum(w)
    return tuple(w)


def default_sigma(size: int) -> float:
    """OpenCV's default for a given kernel size: ``0.3·((size−1)/2 − 1) + 0.8``."""
    return 0.3 * ((size - 1) * 0.5 - 1) + 0.8


@dataclass(frozen=True)
class GaussianBlur(_Blur):
    """Separable Gaussian blur, odd ``size`` in 3..15, ``sigma`` > 0 (default: OpenCV's rule).

    The 1-D kernel is :func:`gaussian_kernel` (integers summing to 256, recorded in the
    JSON). Rows are filtered first, then columns; each pass computes
    ``(Σ w_t·x[clamp(j+t−r)] + 128) // 256`` with borders replicated, stored as uint8.

    ``region`` (boxes ``(left, top, width, height)``): blur only inside them. A value inside
    a box is exactly the whole-image blur's value there (its neighbours outside the box
    count); every value outside the boxes is unchanged.
    """

    size: int = 3
    sigma: float | None = None
    region: Optional[Tuple[Box, ...]] = None
    kernel: Tuple[int, ...] = field(init=False, repr=False, compare=False)
    op: ClassVar[str] = "gaussian_blur"
    c2pa_action: ClassVar[str] = "c2pa.filtered"
    cli_flag: ClassVar[Optional[str]] = "--blur"
    cli_metavar: ClassVar[str] = "KIND[:SIZE][@BOXES]"
    cli_help: ClassVar[str] = ("gaussian[:SIZE[:SIGMA]] or box[:SIZE] (SIZE odd, default 3); "
                               "@L,T,W,H[+L,T,W,H…]: only inside those boxes")

    @classmethod
    def from_cli(cls, value: str) -> Transform:
        value, at, boxes = value.partition("@")
        region = _boxes_from_cli(boxes) if at else None
        kind, _, rest = value.partition(":")
        args = rest.split(":") if rest else []
        if kind == "gaussian" and len(args) <= 2:
            return cls(int(args[0]) if args else 3, float(args[1]) if len(args) > 1 else None, region)  # type: ignore[arg-type]
        if kind == "box" and len(args) <= 1:
            return BoxBlur(int(args[0]) if args else 3, region)  # type: ignore[arg-type]
        raise ValueError("expected gaussian[:SIZE[:SIGMA]] or box[:SIZE], then @L,T,W,H[+…] for a region")

    def cli_args(self) -> Tuple[str, str]:
        return "--blur", (f"gaussian:{self.size}" + ("" if self.sigma is None else f":{_num(self.sigma)}")
                          + self._region_cli())

    @classmethod
    def examples(cls) -> Tuple[Transform, ...]:
        return (cls(3), cls(5, 1.2), cls(5, region=((2, 1, 5, 4), (0, 5, 3, 2))))

    def __post_init__(self) -> None:
        size = _odd_size(self.size)
        sigma = default_sigma(size) if self.sigma is None else as_real(self.sigma, "sigma", 0.0, 100.0)
        if sigma <= 0:
            raise InvalidParameter("sigma", "must be > 0")
        object.__setattr__(self, "sigma", sigma)
        object.__setattr__(self, "kernel", gaussian_kernel(size, sigma))
        self._check_region()

    def params(self) -> Dict[str, Any]:
        return self._with_region({"size": self.size, "sigma": self.sigma, "kernel": list(self.kernel)})

    @classmethod
    def _from_params(cls, params: Mapping[str, Any]) -> "Transform":
        p = dict(params)
        p.pop("kernel", None)  # derived; checked against the recomputed one by transform_from_json
        return cls(**p)

    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        h, w, _ = shape
        return self._in_region(shape, (_taps(1, w, self.kernel, Q8), _taps(0, h, self.kernel, Q8)))


# --------------------------------------------------------------------------- colour


@dataclass(frozen=True)
class Grayscale(Transform):
    """ITU-R 601 luma in 8-bit weights: ``(77·R + 150·G + 29·B + 128) // 256``.

    Needs 3 channels; ``num_output_channels`` is 1 or 3 (luma replicated).
    """

    num_output_channels: int = 1
    op: ClassVar[str] = "grayscale"
    c2pa_action: ClassVar[str] = "c2pa.color_adjustments"
    cli_flag: ClassVar[Optional[str]] = "--grayscale"
    cli_metavar: ClassVar[str] = "N"
    cli_help: ClassVar[str] = "to grey (BT.601); N = 1 or 3 output channels (default 1)"
    cli_default: ClassVar[Optional[str]] = "1"
    cli_fields: ClassVar[Tuple[str, ...]] = ("num_output_channels",)

    @classmethod
    def examples(cls) -> Tuple[Transform, ...]:
        return (cls(), cls(3))

    def __post_init__(self) -> None:
        if self.num_output_channels not in (1, 3) or isinstance(self.num_output_channels, bool):
            raise InvalidParameter("num_output_channels", f"must be 1 or 3, got {short(self.num_output_channels)}")

    def params(self) -> Dict[str, Any]:
        return {"num_output_channels": self.num_output_channels}

    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        if shape[2] != 3:
            raise InvalidImage(f"Grayscale needs 3 channels, got {shape[2]}")
        luma = WeightedSum(2, ((0,), (1,), (2,)), ((77,), (150,), (29,)), Q8, Q8 // 2)
        if self.num_output_channels == 1:
            return (luma,)
        return (luma, Take(2, (0, 0, 0)))


@dataclass(frozen=True)
class _FactorPointOp(Transform):
    """A point operation with one real ``factor`` in [0, 255], quantised to ``factor_q8``."""

    factor: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "factor", as_real(self.factor, "factor"))

    @property
    def factor_q8(self) -> int:
        return quantize_q8(self.factor)

    def params(self) -> Dict[str, Any]:
        return {"factor": self.factor, "factor_q8": self.factor_q8}

    @classmethod
    def _from_params(cls, params: Mapping[str, Any]) -> "Transform":
        return cls(factor=params.get("factor"))  # type: ignore[arg-type]  # factor_q8 is re-derived

    c2pa_action: ClassVar[str] = "c2pa.color_adjustments"

    cli_fields: ClassVar[Tuple[str, ...]] = ("factor",)

    def table(self) -> Tuple[int, ...]:
        raise NotImplementedError

    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        return (Lookup((self.table(),)),)


class Brightness(_FactorPointOp):
    """Scale every value: ``min(255, (x·f8 + 128) // 256)`` with ``f8 = round(256·factor)``,
    factor in [0, 255] (1 = unchanged, 0 = black)."""

    op: ClassVar[str] = "brightness"
    cli_flag: ClassVar[Optional[str]] = "--brightness"
    cli_metavar: ClassVar[str] = "F"
    cli_help: ClassVar[str] = "scale values by F (1 = unchanged)"

    @classmethod
    def examples(cls) -> Tuple[Transform, ...]:
        return (cls(1.25), cls(0.8))

    def table(self) -> Tuple[int, ...]:
        return _scale_table(self.factor_q8)


class Contrast(_FactorPointOp):
    """Stretch around mid-grey 128 (not the image mean, so tiles stay independent):
    ``clamp(((x − 128)·f8 + 128) // 256 + 128, 0, 255)``, ``f8 = round(256·factor)``,
    factor in [0, 255] (1 = unchanged, 0 = flat grey)."""

    op: ClassVar[str] = "contrast"
    cli_flag: ClassVar[Optional[str]] = "--contrast"
    cli_metavar: ClassVar[str] = "F"
    cli_help: ClassVar[str] = "stretch around 128 by F (1 = unchanged)"

    @classmethod
    def examples(cls) -> Tuple[Transform, ...]:
        return (cls(1.5),)

    def table(self) -> Tuple[int, ...]:
        f8 = self.factor_q8
        return tuple(min(255, max(0, ((x - 128) * f8 + Q8 // 2) // Q8 + 128)) for x in range(256))


@dataclass(frozen=True)
class WhiteBalance(Transform):
    """Per-channel gains: ``out_c = min(255, (x_c·g8_c + 128) // 256)``, ``g8_c = round(256·gain_c)``,
    each gain in [0, 255]. ``gains`` has one entry per channel."""

    gains: Tuple[float, ...]
    op: ClassVar[str] = "white_balance"
    c2pa_action: ClassVar[str] = "c2pa.color_adjustments"
    cli_flag: ClassVar[Optional[str]] = "--white-balance"
    cli_metavar: ClassVar[str] = "R,G,B"
    cli_help: ClassVar[str] = "per-channel gains"

    @classmethod
    def from_cli(cls, value: str) -> "WhiteBalance":
        return cls(tuple(float(g) for g in value.split(",")))

    def cli_args(self) -> Tuple[str, str]:
        return "--white-balance", ",".join(_num(g) for g in self.gains)

    @classmethod
    def examples(cls) -> Tuple[Transform, ...]:
        return (cls((1.2, 1.0, 0.8)),)

    def __post_init__(self) -> None:
        if not isinstance(self.gains, (tuple, list)) or not 1 <= len(self.gains) <= MAX_CHANNELS:
            raise InvalidParameter("gains", f"expected 1 to {MAX_CHANNELS} gains, got {short(self.gains)}")
        object.__setattr__(self, "gains", tuple(as_real(g, "gains") for g in self.gains))

    @property
    def gains_q8(self) -> Tuple[int, ...]:
        return tuple(quantize_q8(g) for g in self.gains)

    def params(self) -> Dict[str, Any]:
        return {"gains": list(self.gains), "gains_q8": list(self.gains_q8)}

    @classmethod
    def _from_params(cls, params: Mapping[str, Any]) -> "Transform":
        return cls(gains=params.get("gains"))  # type: ignore[arg-type]

    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        if shape[2] != len(self.gains):
            raise InvalidParameter("gains", f"{len(self.gains)} gains for an image with {shape[2]} channels")
        return (Lookup(tuple(_scale_table(g) for g in self.gains_q8)),)


# --------------------------------------------------------------------------- sharpen and colour spaces


#: The 3×3 binomial blur ``[1, 2, 1]ᵀ·[1, 2, 1]`` (sums to 16) an unsharp mask subtracts.
_BINOMIAL = ((1, 2, 1), (2, 4, 2), (1, 2, 1))


@dataclass(frozen=True)
class Sharpen(Transform):
    """Sharpen with a 3×3 kernel, borders replicated: ``out = clamp(x + amount·H(x), 0, 255)``.

    ``a8 = round(256·amount)``, amount in [0, 8]; ``N, S, W, E`` are the four neighbours and
    ``B`` the 3×3 binomial sum ``Σ b_ij·x_ij`` (weights 1 2 1 / 2 4 2 / 1 2 1).

    * ``kernel="laplacian"`` (H = 4x − N − S − W − E)::

        out = clamp(floor(((256 + 4·a8)·x − a8·(N + S + W + E) + 128) / 256), 0, 255)

    * ``kernel="unsharp"`` (H = x − B/16, an unsharp mask)::

        out = clamp(floor(((4096 + 16·a8)·x − a8·B + 2048) / 4096), 0, 255)

    Floor is toward −∞ (the sum may be negative); the clamp is applied after rounding.
    """

    amount: float = 1.0
    kernel: str = "laplacian"
    op: ClassVar[str] = "sharpen"
    c2pa_action: ClassVar[str] = "c2pa.filtered"
    cli_flag: ClassVar[Optional[str]] = "--sharpen"
    cli_metavar: ClassVar[str] = "AMOUNT[:KERNEL]"
    cli_help: ClassVar[str] = "sharpen by AMOUNT (0..8); KERNEL laplacian (default) or unsharp"
    taps: ClassVar[int] = 3

    @classmethod
    def from_cli(cls, value: str) -> "Sharpen":
        amount, _, kernel = value.partition(":")
        return cls(float(amount), kernel or "laplacian")

    def cli_args(self) -> Tuple[str, str]:
        return "--sharpen", f"{_num(self.amount)}:{self.kernel}"

    @classmethod
    def examples(cls) -> Tuple[Transform, ...]:
        return (cls(), cls(0.7, "unsharp"), cls(3.0))

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", as_real(self.amount, "amount", 0.0, 8.0))
        as_choice(self.kernel, "kernel", ("laplacian", "unsharp"))

    @property
    def amount_q8(self) -> int:
        return quantize_q8(self.amount)

    def params(self) -> Dict[str, Any]:
        return {"amount": self.amount, "amount_q8": self.amount_q8, "kernel": self.kernel}

    @classmethod
    def _from_params(cls, params: Mapping[str, Any]) -> "Transform":
        p = dict(params)
        p.pop("amount_q8", None)  # derived; checked against the recomputed one by transform_from_json
        return cls(**p)

    def weights(self) -> Tuple[Tuple[int, ...], ...]:
        """The 3×3 integer kernel (rows top to bottom) over :meth:`divisor`."""
        a = self.amount_q8
        if self.kernel == "laplacian":
            return ((0, -a, 0), (-a, 256 + 4 * a, -a), (0, -a, 0))
        return tuple(tuple(4096 * (i == j == 1) + 16 * a * (i == j == 1) - a * _BINOMIAL[i][j] for j in range(3))
                     for i in range(3))

    def divisor(self) -> int:
        return 256 if self.kernel == "laplacian" else 4096

    def output_shape(self, shape: Shape) -> Shape:
        return check_shape(shape)

    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        h, w, _ = shape
        taps = [(dy, dx, k) for dy, row in enumerate(self.weights()) for dx, k in enumerate(row) if k]
        rows = tuple(tuple(_clamped(i + dy - 1, h) for i in range(h)) for dy, _, _ in taps)
        cols = tuple(tuple(_clamped(j + dx - 1, w) for j in range(w)) for _, dx, _ in taps)
        d = self.divisor()
        return (Stencil(rows, cols, tuple(k for _, _, k in taps), d, d // 2),)


#: JPEG (JFIF) / BT.601 full-range coefficients in 1/1024: rows are output channels, columns
#: the input channels; then the bias, in 1/1024 too.
_TO_YCBCR = ((306, 601, 117, 0), (-173, -339, 512, 128 * 1024), (512, -429, -83, 128 * 1024))
_TO_RGB = ((1024, 0, 1436, -1436 * 128), (1024, -352, -731, (352 + 731) * 128), (1024, 1815, 0, -1815 * 128))


@dataclass(frozen=True)
class ColorConvert(Transform):
    """RGB ↔ YCbCr, JPEG (JFIF) / BT.601 full range, in 1/1024 fixed point, round half up, clamped.

    ``to="ycbcr"`` (from RGB)::

        Y  = clamp(( 306·R + 601·G + 117·B          + 512) // 1024)
        Cb = clamp((−173·R − 339·G + 512·B + 128·1024 + 512) // 1024)
        Cr = clamp(( 512·R − 429·G −  83·B + 128·1024 + 512) // 1024)

    ``to="rgb"`` (from YCbCr)::

        R = clamp((1024·Y              + 1436·(Cr − 128) + 512) // 1024)
        G = clamp((1024·Y − 352·(Cb − 128) − 731·(Cr − 128) + 512) // 1024)
        B = clamp((1024·Y + 1815·(Cb − 128)              + 512) // 1024)

    ``clamp`` is to [0, 255], ``//`` floors. The coefficients are JFIF's (0.299, 0.587, 0.114;
    1.402, 0.344136, 0.714136, 1.772) rounded to 1/1024; every output is within 1 of the real
    formula rounded. Needs 3 channels.
    """

    to: str = "ycbcr"
    op: ClassVar[str] = "color_convert"
    c2pa_action: ClassVar[str] = "c2pa.color_adjustments"
    cli_flag: ClassVar[Optional[str]] = "--color-convert"
    cli_metavar: ClassVar[str] = "SPACE"
    cli_help: ClassVar[str] = "ycbcr (from RGB) or rgb (from YCbCr), JPEG/BT.601 full range"
    cli_fields: ClassVar[Tuple[str, ...]] = ("to",)

    @classmethod
    def examples(cls) -> Tuple[Transform, ...]:
        return (cls(), cls("rgb"))

    def __post_init__(self) -> None:
        as_choice(self.to, "to", ("ycbcr", "rgb"))

    def params(self) -> Dict[str, Any]:
        return {"to": self.to}

    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        if shape[2] != 3:
            raise InvalidImage(f"ColorConvert needs 3 channels, got {shape[2]}")
        m = _TO_YCBCR if self.to == "ycbcr" else _TO_RGB
        weight = tuple(tuple(m[out][k] for out in range(3)) for k in range(3))  # tap k = input channel k
        bias = tuple(m[out][3] for out in range(3))
        return (WeightedSum(2, ((0, 0, 0), (1, 1, 1), (2, 2, 2)), weight, 1024, 512, clamp=True, bias=bias),)


# --------------------------------------------------------------------------- region edits


class _RegionEdit(Transform):
    """An edit of ``boxes`` only; every value outside them passes through unchanged."""

    boxes: Tuple[Box, ...]
    c2pa_action: ClassVar[str] = "c2pa.redacted"

    @classmethod
    def benchmark_examples(cls, size: int) -> Tuple[Transform, ...]:
        """The class's first example with one box: the tile's central quarter (a tile that a
        box crosses; a tile no box touches costs an identity)."""
        q = size // 4
        return (dataclasses.replace(cast(Any, cls.examples()[0]), boxes=((q, q, 2 * q, 2 * q),)),)

    @property
    def taps(self) -> int:  # type: ignore[override]
        return 1 + len(self.boxes)  # the boxes: planning work, not reach

    def span(self, run: int, n_in: int, n_out: int) -> int:
        return min(n_in, run)

    def output_shape(self, shape: Shape) -> Shape:
        return check_shape(shape)


@dataclass(frozen=True)
class Redact(_RegionEdit):
    """Replace every pixel in ``boxes`` (``(left, top, width, height)`` each) by ``fill``.

    ``fill``: one value for every channel or one per channel, each in [0, 255] (default
    black). Nothing of the original inside a box reaches the output: there the circuit's
    output is the constant ``fill``.
    """

    boxes: Tuple[Box, ...]
    fill: Tuple[int, ...] = (0,)
    op: ClassVar[str] = "redact"
    cli_flag: ClassVar[Optional[str]] = "--redact"
    cli_metavar: ClassVar[str] = "BOXES[:FILL]"
    cli_help: ClassVar[str] = "fill boxes L,T,W,H[+L,T,W,H…] with FILL (V or R,G,B; default 0)"

    @classmethod
    def from_cli(cls, value: str) -> "Redact":
        boxes, _, fill = value.partition(":")
        return cls(_boxes_from_cli(boxes), tuple(int(v) for v in fill.split(",")) if fill else (0,))  # type: ignore[arg-type]

    def cli_args(self) -> Tuple[str, str]:
        return "--redact", _boxes_to_cli(self.boxes) + ":" + ",".join(map(str, self.fill))

    @classmethod
    def examples(cls) -> Tuple[Transform, ...]:
        return (cls(((2, 1, 5, 4),)), cls(((0, 0, 3, 3), (4, 4, 4, 3)), (255, 128, 0)))

    def __post_init__(self) -> None:
        object.__setattr__(self, "boxes", as_boxes(self.boxes))
        if not isinstance(self.fill, (tuple, list)) or not 1 <= len(self.fill) <= MAX_CHANNELS:
            raise InvalidParameter("fill", f"expected 1 to {MAX_CHANNELS} values, got {short(self.fill)}")
        object.__setattr__(self, "fill", tuple(as_int(v, "fill", 0, 255) for v in self.fill))

    def params(self) -> Dict[str, Any]:
        return {"boxes": _boxes_json(self.boxes), "fill": list(self.fill)}

    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        if len(self.fill) not in (1, shape[2]):
            raise InvalidParameter("fill", f"{len(self.fill)} values for an image with {shape[2]} channels")
        values = self.fill * shape[2] if len(self.fill) == 1 else self.fill
        return in_boxes(self.boxes, shape, (Fill(values),))


@dataclass(frozen=True)
class Pixelate(_RegionEdit):
    """Replace ``boxes`` by block means: the image is cut into ``block × block`` cells from its
    top-left corner (cells at the right and bottom edges may be smaller), and each pixel in a
    box becomes its cell's mean, ``(Σ cell + D // 2) // D`` per channel with ``D`` the cell's
    pixel count (round half up). A cell that a box cuts still averages the whole cell.
    ``block`` in 2..64.
    """

    boxes: Tuple[Box, ...]
    block: int = 8
    op: ClassVar[str] = "pixelate"
    cli_flag: ClassVar[Optional[str]] = "--pixelate"
    cli_metavar: ClassVar[str] = "BOXES[:N]"
    cli_help: ClassVar[str] = "N×N block means (default 8) in boxes L,T,W,H[+L,T,W,H…]"

    @classmethod
    def from_cli(cls, value: str) -> "Pixelate":
        boxes, _, block = value.partition(":")
        return cls(_boxes_from_cli(boxes), int(block) if block else 8)  # type: ignore[arg-type]

    def cli_args(self) -> Tuple[str, str]:
        return "--pixelate", f"{_boxes_to_cli(self.boxes)}:{self.block}"

    @classmethod
    def examples(cls) -> Tuple[Transform, ...]:
        return (cls(((2, 1, 5, 4),), 3), cls(((1, 2, 7, 5),), 4))

    def __post_init__(self) -> None:
        object.__setattr__(self, "boxes", as_boxes(self.boxes))
        as_int(self.block, "block", 2, 64)

    def params(self) -> Dict[str, Any]:
        return {"boxes": _boxes_json(self.boxes), "block": self.block}

    @property
    def taps(self) -> int:  # type: ignore[override]
        return self.block + len(self.boxes)

    def span(self, run: int, n_in: int, n_out: int) -> int:
        return min(n_in, run + 2 * (self.block - 1))  # whole cells at both ends

    def primitives(self, shape: Shape) -> Tuple[Primitive, ...]:
        h, w, _ = shape
        n = self.block

        def cells(side: int) -> Tuple[Tuple[int, ...], ...]:
            return tuple(tuple(range(a, min(a + n, side))) for a in range(0, side, n))
        mean = BlockMean(cells(h), cells(w), tuple(i // n for i in range(h)), tuple(j // n for j in range(w)))
        return in_boxes(self.boxes, shape, (mean,))

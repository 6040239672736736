"""Argument validators shared by every stage (one home; each raises a typed error)."""

from __future__ import annotations

import math
import re
import reprlib
from typing import Any, Optional, Tuple, Type

import numpy as np

from .errors import InvalidImage, InvalidParameter, MalformedInput
from .limits import MAX_CHANNELS, MAX_SIDE

Shape = Tuple[int, int, int]

_HEX64 = re.compile(r"[0-9a-f]{64}")


def short(value: Any) -> str:
    """A bounded repr for error messages (a hostile value may be huge or deeply shared)."""
    return reprlib.repr(value)


def as_int(value: Any, parameter: str, lo: Optional[int] = None, hi: Optional[int] = None) -> int:
    """``value`` as an int in ``[lo, hi]`` (bools and non-integers refused); InvalidParameter."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidParameter(parameter, f"expected an integer, got {short(value)}")
    v = int(value)
    if lo is not None and v < lo:
        raise InvalidParameter(parameter, f"must be >= {lo}, got {v}")
    if hi is not None and v > hi:
        raise InvalidParameter(parameter, f"must be <= {hi}, got {v}")
    return v


def as_real(value: Any, parameter: str, lo: float = 0.0, hi: float = 255.0) -> float:
    """``value`` as a finite float in ``[lo, hi]``; InvalidParameter."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InvalidParameter(parameter, f"expected a number, got {short(value)}")
    v = float(value)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise InvalidParameter(parameter, f"must be a finite number in [{lo}, {hi}], got {short(value)}")
    return v


def as_choice(value: Any, parameter: str, choices: Tuple[str, ...]) -> str:
    """``value`` if it is one of the strings ``choices``; InvalidParameter naming them."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidParameter(parameter, "must be " + " or ".join(repr(c) for c in choices) + f", got {short(value)}")
    return value


def check_image(image: Any, parameter: str = "image") -> np.ndarray:
    """Return ``image`` if it is a ``uint8`` H×W×C array (1 ≤ C ≤ 4), else raise InvalidImage."""
    if not isinstance(image, np.ndarray):
        raise InvalidImage(f"expected a numpy array, got {type(image).__name__}", parameter)
    if image.dtype != np.uint8:
        raise InvalidImage(f"expected dtype uint8, got {image.dtype}", parameter)
    if image.ndim != 3:
        raise InvalidImage(f"expected shape H×W×C, got {image.shape}", parameter)
    h, w, c = image.shape
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise InvalidImage(f"height and width must be in [1, {MAX_SIDE}], got {h}×{w}", parameter)
    if not 1 <= c <= MAX_CHANNELS:
        raise InvalidImage(f"expected 1 to {MAX_CHANNELS} channels, got {c}", parameter)
    return image


def check_shape(shape: Any, parameter: str = "shape") -> Shape:
    """Validate an (H, W, C) shape tuple."""
    if not isinstance(shape, (tuple, list)) or len(shape) != 3:
        raise InvalidParameter(parameter, f"expected (height, width, channels), got {short(shape)}")
    h, w, c = (as_int(v, parameter) for v in shape)
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE and 1 <= c <= MAX_CHANNELS):
        raise InvalidParameter(parameter, f"shape {tuple(shape)} is out of range")
    return (h, w, c)


def check_hex64(value: Any, what: str, error: Type[MalformedInput] = MalformedInput) -> str:
    """``value`` if it is exactly 64 lowercase ASCII hex digits (a SHA-256 digest), else ``error``."""
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise error(f"{what} must be 64 lowercase hex digits")
    return value

"""Reading and writing image files (Pillow) with exactly defined pixels.

What is committed and proved is a ``uint8`` H×W×C array; this module is the only place
that turns files into such arrays and back, and it never changes a pixel silently:

* Formats read: PNG, JPEG, TIFF, WebP (no other decoder is ever asked). Animated or
  multi-page files are refused.
* Modes: ``RGB`` → H×W×3; ``L`` → H×W×1 (grey stays one channel); ``1`` → H×W×1 of 0/255;
  ``P`` (palette) → RGB, or RGBA when the palette has transparency (expanding a palette is
  lossless). ``RGBA``/``LA``: see ``alpha``. 16-bit, 32-bit, float, CMYK, YCbCr and other
  modes raise :class:`~zkimg.errors.InvalidImage` (convert to 8-bit RGB first; that
  conversion is not part of any proof).
* ``alpha="auto"`` (default) drops an alpha channel that is fully opaque and refuses one that
  is not (a PNG colour key, tRNS, counts as alpha); ``"keep"`` keeps it as a fourth (second) channel, committed and proved like the
  others; ``"drop"`` discards it.
* EXIF orientation: ``orientation="apply"`` (default) rotates/flips the pixels upright as a
  viewer shows them, so the committed pixels are what people see; ``"ignore"`` keeps the
  stored order. Either way the result carries no orientation tag.
* Colour management: ``colour="refuse"`` (what a verifier reads with) refuses a file whose
  metadata makes colour-managed viewers show other colours than its pixel values — PNG
  ``gAMA``, ``cHRM``, ``iCCP``, ``sRGB`` chunks, or an ICC profile in TIFF/WebP — since the
  proof is about the values; ``"ignore"`` (default) reads the values as stored. zkimg never
  writes such metadata.
* Writing is lossless only (PNG, TIFF, lossless WebP): a lossy format would change pixels
  and the published image would no longer match its proof, so JPEG and the like are refused
  with :class:`~zkimg.errors.LossyFormat`. Every written file is read back and compared.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Dict, Tuple

import numpy as np

from ._fileio import open_regular, write_atomic
from ._validate import check_image
from .errors import InvalidImage, InvalidParameter, LossyFormat
from .limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from PIL import Image

FORMATS = ("PNG", "JPEG", "TIFF", "WEBP")
ALPHA_POLICIES = ("auto", "keep", "drop")
ORIENTATION_POLICIES = ("apply", "ignore")
COLOUR_POLICIES = ("ignore", "refuse")
#: Pillow's ``info`` keys for colour-management metadata, and what the file calls them.
_COLOUR_METADATA = {"gamma": "gAMA", "chromaticity": "cHRM", "icc_profile": "ICC profile (iCCP)", "srgb": "sRGB"}
#: file suffix → (Pillow format, save options); only lossless encodings.
LOSSLESS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    ".png": ("PNG", {"optimize": False}),
    ".tif": ("TIFF", {"compression": "tiff_deflate"}),
    ".tiff": ("TIFF", {"compression": "tiff_deflate"}),
    ".webp": ("WEBP", {"lossless": True, "quality": 100, "exact": True}),
}
LOSSY = {".jpg", ".jpeg", ".jpe", ".jfif", ".jxl", ".jp2", ".j2k", ".heic", ".heif", ".avif", ".gif", ".bmp"}
_MODES = {"RGB": 3, "L": 1, "RGBA": 4, "LA": 2}
_MEDIA_TYPES = {".png": "image/png", ".tif": "image/tiff", ".tiff": "image/tiff", ".webp": "image/webp"}


def read_image(source: "str | Path | bytes | BinaryIO", *, alpha: str = "auto", orientation: str = "apply",
               colour: str = "ignore", limits: Limits = DEFAULT_LIMITS) -> np.ndarray:
    """Decode an image file into a ``uint8`` H×W×C array (see the module doc for the rules).

    Raises :class:`~zkimg.errors.InvalidImage` for anything undecodable, too large for
    ``limits.max_image_pixels``, animated, or in a mode that has no exact 8-bit reading.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if alpha not in ALPHA_POLICIES:
        raise InvalidParameter("alpha", f"must be one of {ALPHA_POLICIES}, got {alpha!r}")
    if orientation not in ORIENTATION_POLICIES:
        raise InvalidParameter("orientation", f"must be one of {ORIENTATION_POLICIES}, got {orientation!r}")
    if colour not in COLOUR_POLICIES:
        raise InvalidParameter("colour", f"must be one of {COLOUR_POLICIES}, got {colour!r}")
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(bytes(source))
    elif isinstance(source, (str, Path)):  # a FIFO or device would block or never end
        with open_regular(source, "image", InvalidImage) as handle:
            return read_image(handle, alpha=alpha, orientation=orientation, colour=colour, limits=limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im: Image.Image = Image.open(source, formats=FORMATS)  # never other decoders (EPS would run Ghostscript)
        with im:
            w, h = im.size
            if w * h > limits.max_image_pixels:
                raise InvalidImage(f"{w}×{h} pixels exceeds max_image_pixels={limits.max_image_pixels}")
            if getattr(im, "n_frames", 1) != 1:
                raise InvalidImage("animated or multi-page images are not supported; extract one frame first")
            im.load()
            found = [name for key, name in _COLOUR_METADATA.items() if im.info.get(key) is not None]
            if colour == "refuse" and found:
                raise InvalidImage(f"the file carries colour-management metadata ({', '.join(found)}): colour-managed "
                                   "viewers show other colours than the pixel values the proof is about; publish "
                                   "the image without it (zkimg's own output files never carry it)")
            if orientation == "apply":
                im = ImageOps.exif_transpose(im)
            return _to_array(im, alpha)
    except InvalidImage:
        raise
    except FileNotFoundError as e:
        raise InvalidImage(f"no such image file: {e.filename}") from e
    except UnidentifiedImageError as e:
        raise InvalidImage(f"not a PNG, JPEG, TIFF or WebP image ({e})") from e
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, EOFError) as e:
        raise InvalidImage(f"cannot decode image: {e}") from e


def _to_array(im: "Image.Image", alpha: str) -> np.ndarray:
    mode = im.mode
    if mode == "1":
        im, mode = im.convert("L"), "L"
    elif mode == "P" or (mode in ("RGB", "L") and "transparency" in im.info):  # palette, or a tRNS colour key
        mode = ("LA" if mode == "L" else "RGBA") if "transparency" in im.info else "RGB"
        im = im.convert(mode)
    elif mode == "PA":
        im, mode = im.convert("RGBA"), "RGBA"
    if mode not in _MODES:
        hint = "16-bit or 32-bit" if mode.startswith("I") else ("floating-point" if mode == "F" else mode)
        raise InvalidImage(f"{hint} images are not supported: convert to 8-bit RGB (or L) first; "
                           "that conversion is outside the proof")
    arr = np.array(im, dtype=np.uint8)  # a writable copy
    arr = arr.reshape(arr.shape[0], arr.shape[1], _MODES[mode])
    if mode in ("RGBA", "LA") and alpha != "keep":
        opaque = bool((arr[..., -1] == 255).all())
        if alpha == "auto" and not opaque:
            raise InvalidImage("the image has transparent pixels: pass alpha='keep' to commit the alpha channel "
                               "or alpha='drop' to discard it")
        arr = arr[..., :-1]
    return np.ascontiguousarray(arr)


def media_type(path: "str | Path") -> str:
    """The media type of a lossless output path (``LossyFormat`` if it is not one)."""
    return _MEDIA_TYPES[_format(Path(path))[2]]


def _format(path: Path) -> Tuple[str, Dict[str, Any], str]:
    """(Pillow format, save options, suffix) of a lossless output path."""
    suffix = path.suffix.lower()
    if suffix in LOSSLESS:
        return (*LOSSLESS[suffix], suffix)
    if suffix in LOSSY:
        raise LossyFormat(f"refusing to write {suffix}: it is lossy or palette-limited, so the written pixels "
                          "would differ from the proved ones and the image would no longer verify; "
                          "use .png, .tif or .webp (lossless)")
    raise LossyFormat(f"unknown output format {suffix or '(no suffix)'}: use .png, .tif or .webp (lossless)")


WEBP_MAX_SIDE = 16383


def check_writable(path: "str | Path", shape: "tuple[int, int, int]") -> str:
    """Check, before any work, that an image of ``shape`` (H, W, C) can be written losslessly
    to ``path``; returns its media type or raises :class:`~zkimg.errors.LossyFormat`."""
    fmt, _, suffix = _format(Path(path))
    h, w, c = shape
    if fmt == "WEBP" and (c < 3 or max(h, w) > WEBP_MAX_SIDE):
        raise LossyFormat(f"WebP holds only colour images up to {WEBP_MAX_SIDE} px a side; "
                          f"write this {w}×{h}×{c} output as .png or .tif")
    return _MEDIA_TYPES[suffix]


def encode_image(image: np.ndarray, suffix: str = ".png") -> bytes:
    """Encode ``image`` losslessly in the format of ``suffix``; read back and compared."""
    image = check_image(image)
    check_writable("x" + suffix, image.shape)
    fmt, options, suffix = _format(Path("x" + suffix))
    from PIL import Image

    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[image.shape[2]]
    pil = Image.fromarray(image[..., 0] if mode == "L" else image, mode=mode)
    buf = io.BytesIO()
    pil.save(buf, format=fmt, **options)
    data = buf.getvalue()
    if not np.array_equal(read_image(data, alpha="keep", orientation="ignore"), image):
        raise LossyFormat(f"{fmt} did not round-trip these pixels exactly; use .png")  # never expected
    return data


def write_image(path: "str | Path", image: np.ndarray) -> None:
    """Write ``image`` to ``path`` in the lossless format its suffix names (PNG, TIFF, WebP).

    Raises :class:`~zkimg.errors.LossyFormat` for JPEG and other lossy formats, before
    writing anything.
    """
    write_atomic(path, encode_image(image, Path(path).suffix))

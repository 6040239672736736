"""Image files: exact decoding rules, EXIF orientation, alpha, refusal of lossy outputs."""

import io

import numpy as np
import pytest
from helpers import photo_tile
from PIL import Image

import zkimg
from zkimg.images import encode_image, media_type, read_image, write_image

PHOTO = photo_tile("coffee", 100, 200, 21, 34)  # odd size, real photo


def _file(arr_or_im, fmt, **kw) -> bytes:
    im = arr_or_im if isinstance(arr_or_im, Image.Image) else Image.fromarray(arr_or_im)
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff", ".webp"])
@pytest.mark.parametrize("name", ["photo", "zeros", "full"])
def test_lossless_formats_round_trip_exactly(tmp_path, suffix, name):
    img = {"photo": PHOTO, "zeros": np.zeros_like(PHOTO), "full": np.full_like(PHOTO, 255)}[name]
    path = tmp_path / f"out{suffix}"
    write_image(path, img)
    got = read_image(path)
    assert got.dtype == np.uint8 and np.array_equal(got, img)
    assert media_type(path).startswith("image/")


@pytest.mark.parametrize("channels", [1, 2, 4])
def test_other_channel_counts_round_trip(tmp_path, channels):
    img = np.ascontiguousarray(np.dstack([PHOTO, PHOTO[..., :1]])[..., :channels])
    for suffix in (".png", ".tif"):
        write_image(tmp_path / f"x{suffix}", img)
        assert np.array_equal(read_image(tmp_path / f"x{suffix}", alpha="keep"), img)


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".JPG", ".gif", ".bmp", ".heic", ".avif", ".txt", ""])
def test_lossy_or_unknown_output_formats_are_refused_before_writing(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    with pytest.raises(zkimg.LossyFormat) as e:
        write_image(path, PHOTO)
    assert "lossless" in str(e.value)
    assert not path.exists()


def test_jpeg_input_is_read_as_decoded():
    data = _file(PHOTO, "JPEG", quality=90)
    got = read_image(data)
    assert got.shape == PHOTO.shape and np.array_equal(got, np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    assert not np.array_equal(got, PHOTO)  # JPEG is lossy: the committed pixels are the decoded ones


def test_exif_orientation_is_applied_or_ignored_explicitly():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = _file(PHOTO, "PNG", exif=exif.tobytes())
    upright = read_image(data)
    assert np.array_equal(upright, np.rot90(PHOTO, k=-1))
    assert np.array_equal(read_image(data, orientation="ignore"), PHOTO)
    with pytest.raises(zkimg.InvalidParameter):
        read_image(data, orientation="sideways")


def test_alpha_policies():
    rgba = np.dstack([PHOTO, np.full(PHOTO.shape[:2], 255, np.uint8)])
    assert np.array_equal(read_image(_file(rgba, "PNG")), PHOTO)  # opaque: dropped losslessly
    rgba[3, 4, 3] = 10
    data = _file(rgba, "PNG")
    with pytest.raises(zkimg.InvalidImage, match="transparent"):
        read_image(data)
    assert np.array_equal(read_image(data, alpha="keep"), rgba)
    assert np.array_equal(read_image(data, alpha="drop"), PHOTO)
    with pytest.raises(zkimg.InvalidParameter):
        read_image(data, alpha="blend")


def test_modes_grey_bilevel_palette():
    grey = PHOTO[..., 0]
    assert np.array_equal(read_image(_file(grey, "PNG")), grey[..., None])
    bilevel = Image.fromarray(grey > 128).convert("1")
    assert set(np.unique(read_image(_file(bilevel, "PNG")))) <= {0, 255}
    pal = Image.fromarray(PHOTO).quantize(16)
    assert np.array_equal(read_image(_file(pal, "PNG")), np.asarray(pal.convert("RGB")))


@pytest.mark.parametrize("arr", [np.full((4, 5), 40000, np.uint16), np.ones((4, 5), np.float32), None])
def test_unsupported_modes_say_so(arr):  # 16-bit, float, CMYK
    im = Image.new("CMYK", (5, 4)) if arr is None else Image.fromarray(arr)
    data = _file(im, "TIFF")
    with pytest.raises(zkimg.InvalidImage, match="not supported|convert"):
        read_image(data)


def test_hostile_files():
    with pytest.raises(zkimg.InvalidImage):
        read_image(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(zkimg.InvalidImage):
        read_image(_file(PHOTO, "PNG")[:-30])  # truncated
    with pytest.raises(zkimg.InvalidImage, match="max_image_pixels"):
        read_image(_file(PHOTO, "PNG"), limits=zkimg.Limits(max_image_pixels=100))
    frames = [Image.fromarray(PHOTO), Image.fromarray(255 - PHOTO)]
    buf = io.BytesIO()
    frames[0].save(buf, format="PNG", save_all=True, append_images=frames[1:])
    with pytest.raises(zkimg.InvalidImage, match="animated"):
        read_image(buf.getvalue())
    with pytest.raises(zkimg.InvalidImage, match="no such"):
        read_image("/nonexistent/image.png")


def test_webp_refuses_grey():
    with pytest.raises(zkimg.LossyFormat):
        encode_image(PHOTO[..., :1], ".webp")


def test_png_colour_key_counts_as_alpha():
    key = tuple(int(v) for v in PHOTO[2, 3])
    data = _file(PHOTO, "PNG", transparency=key)  # tRNS: pixels of this colour are transparent
    with pytest.raises(zkimg.InvalidImage, match="transparent"):
        read_image(data)
    kept = read_image(data, alpha="keep")
    assert kept.shape[2] == 4 and kept[2, 3, 3] == 0 and np.array_equal(kept[..., :3], PHOTO)
    grey = PHOTO[..., 0]
    unused = next(v for v in range(256) if v not in grey)
    assert np.array_equal(read_image(_file(grey, "PNG", transparency=unused)), grey[..., None])  # opaque after all


def test_only_the_four_formats_are_decoded():
    for fmt in ("BMP", "GIF", "PPM", "ICO"):
        with pytest.raises(zkimg.InvalidImage, match="not a PNG, JPEG, TIFF or WebP"):
            read_image(_file(PHOTO, fmt))


def test_check_writable_before_any_work():
    from zkimg.images import check_writable

    assert check_writable("x.png", (5, 5, 1)) == "image/png"
    with pytest.raises(zkimg.LossyFormat):
        check_writable("x.webp", (5, 5, 1))
    with pytest.raises(zkimg.LossyFormat):
        check_writable("x.webp", (5, 20000, 3))
    with pytest.raises(zkimg.LossyFormat):
        check_writable("x.jpeg", (5, 5, 3))


@pytest.mark.parametrize("metadata", [{"gamma": 0.3}, {"icc_profile": "srgb"}, {"srgb": 0}, {"chromaticity": True}])
def test_colour_managed_files_are_refused_when_asked(tmp_path, metadata):
    """Colour-managed viewers show a PNG with gAMA, cHRM, iCCP or sRGB in other colours than its
    values: a verifier reads with colour="refuse"; the values themselves read as stored."""
    from PIL import Image, ImageCms, PngImagePlugin

    img = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    info = PngImagePlugin.PngInfo()
    kw = {}
    if "gamma" in metadata:
        info.add(b"gAMA", (30000).to_bytes(4, "big"))
    if "chromaticity" in metadata:
        info.add(b"cHRM", b"".join(v.to_bytes(4, "big") for v in (31270, 32900, 64000, 33000, 30000, 60000,
                                                                    15000, 6000)))
    if "srgb" in metadata:
        info.add(b"sRGB", b"\x00")
    if "icc_profile" in metadata:
        kw["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(img).save(tmp_path / "x.png", pnginfo=info, **kw)
    assert np.array_equal(read_image(tmp_path / "x.png"), img)
    with pytest.raises(zkimg.InvalidImage, match="colour"):
        read_image(tmp_path / "x.png", colour="refuse")
    write_image(tmp_path / "plain.png", img)  # zkimg's own files carry none
    assert np.array_equal(read_image(tmp_path / "plain.png", colour="refuse"), img)

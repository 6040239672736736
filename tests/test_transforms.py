"""The numpy references are the specification; check them against independent formulas."""

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import photo_tile, sample_images

import zkimg
from zkimg.transforms import REGISTRY, all_examples, gaussian_kernel, transform_from_json

#: Every registered transform's examples: a new transform is tested here, in test_exactness
#: (numpy == onnxruntime == ezkl witness), test_tiling (tiled == global) and test_cli (CLI and
#: C2PA forms) by defining its class.
ALL = all_examples()


def img(h=7, w=9, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_geometry_matches_numpy():
    x = photo_tile("chelsea", 40, 80, 9, 13)
    assert np.array_equal(zkimg.Crop(3, 2, 6, 5).apply(x), x[2:7, 3:9])
    assert np.array_equal(zkimg.Flip().apply(x), x[:, ::-1])
    assert np.array_equal(zkimg.Flip("vertical").apply(x), x[::-1])
    for k in (1, 2, 3):
        assert np.array_equal(zkimg.Rotate90(k).apply(x), np.rot90(x, k))


def test_nearest_resize_uses_pixel_centres():
    x = img(6, 8)
    out = zkimg.Resize(3, 4, "nearest").apply(x)
    rows = [int((i + 0.5) * 6 / 4) for i in range(4)]
    cols = [int((j + 0.5) * 8 / 3) for j in range(3)]
    assert np.array_equal(out, x[np.ix_(rows, cols)])


def _bilinear_float(x, w, h):
    def axis(a, n_out, ax):
        n_in = a.shape[ax]
        s = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        i0 = np.floor(s).astype(int)
        i1 = np.minimum(i0 + 1, n_in - 1)
        f = s - i0
        shp = [1, 1, 1]
        shp[ax] = n_out
        f = f.reshape(shp)
        return np.take(a, i0, ax) * (1 - f) + np.take(a, i1, ax) * f
    return axis(axis(x.astype(float), w, 1), h, 0)


@pytest.mark.parametrize("size", [(5, 3), (13, 11), (20, 7), (8, 16)])
def test_bilinear_close_to_float_reference(size):
    x = photo_tile("coffee", 100, 200, 10, 12)
    out = zkimg.Resize(*size).apply(x).astype(int)
    ref = _bilinear_float(x, *size)
    assert np.abs(out - ref).max() <= 2  # two rounded passes with 1/256 weights


def test_blurs_keep_flat_images_and_match_window_means():
    for v in (0, 77, 255):
        flat = np.full((6, 7, 3), v, np.uint8)
        for t in (zkimg.BoxBlur(3), zkimg.BoxBlur(5), zkimg.GaussianBlur(3), zkimg.GaussianBlur(5)):
            assert np.array_equal(t.apply(flat), flat)
    x = img(7, 9)
    p = np.pad(x.astype(int), ((1, 1), (1, 1), (0, 0)), mode="edge")
    s = sum(p[i:i + 7, j:j + 9] for i in range(3) for j in range(3))
    assert np.array_equal(zkimg.BoxBlur(3).apply(x), (s + 4) // 9)


def test_gaussian_kernel_quantisation():
    for size in (3, 5, 7, 15):
        k = gaussian_kernel(size, 1.0)
        assert sum(k) == 256 and k == k[::-1] and all(w >= 0 for w in k)
    assert zkimg.GaussianBlur(3).kernel == (61, 134, 61)  # sigma 0.8: e^-0.78125 / (1 + 2e^-0.78125)
    a, b, c = zkimg.GaussianBlur(3).kernel
    x = img(7, 9).astype(int)
    p = np.pad(x, ((0, 0), (1, 1), (0, 0)), mode="edge")
    h = (a * p[:, :-2] + b * p[:, 1:-1] + c * p[:, 2:] + 128) // 256
    p = np.pad(h, ((1, 1), (0, 0), (0, 0)), mode="edge")
    v = (a * p[:-2] + b * p[1:-1] + c * p[2:] + 128) // 256
    assert np.array_equal(zkimg.GaussianBlur(3).apply(x.astype(np.uint8)), v)


def test_colour_formulas():
    x = img()
    xi = x.astype(int)
    assert np.array_equal(zkimg.Grayscale().apply(x)[..., 0], (77 * xi[..., 0] + 150 * xi[..., 1] + 29 * xi[..., 2] + 128) // 256)
    assert np.array_equal(zkimg.Grayscale(3).apply(x), np.repeat(zkimg.Grayscale().apply(x), 3, axis=2))
    assert np.array_equal(zkimg.Brightness(1.5).apply(x), np.minimum(255, (xi * 384 + 128) // 256))
    assert np.array_equal(zkimg.Brightness(1).apply(x), x)
    assert np.array_equal(zkimg.Contrast(1).apply(x), x)
    assert np.array_equal(zkimg.Contrast(2).apply(x), np.clip(((xi - 128) * 512 + 128) // 256 + 128, 0, 255))
    assert np.array_equal(zkimg.Contrast(0).apply(x), np.full_like(x, 128))
    wb = zkimg.WhiteBalance((2.0, 1.0, 0.5)).apply(x)
    assert np.array_equal(wb[..., 0], np.minimum(255, xi[..., 0] * 2))
    assert np.array_equal(wb[..., 1], x[..., 1])
    assert np.array_equal(wb[..., 2], (xi[..., 2] * 128 + 128) // 256)
    # point operations agree with float arithmetic to within rounding of the 1/256 factor
    f = 1.1
    assert np.abs(zkimg.Brightness(f).apply(x).astype(int) - np.minimum(255, np.round(xi * f))).max() <= 1


@pytest.mark.parametrize("t", ALL, ids=lambda t: t.op)
def test_uint8_in_uint8_out_and_extremes(t):
    for name, x in sample_images(7, 9).items():
        out = t.apply(x)
        assert out.dtype == np.uint8 and out.shape == t.output_shape(x.shape), name


@pytest.mark.parametrize("t", ALL, ids=lambda t: t.op)
def test_json_round_trip_is_canonical(t):
    data = json.loads(json.dumps(t.to_json()))
    assert transform_from_json(data) == t
    p = zkimg.Pipeline([t])
    assert zkimg.Pipeline.loads(p.canonical()) == p
    assert zkimg.Pipeline.loads(p.canonical()).digest == p.digest


def test_pipeline_composes_shapes_and_digest():
    p = zkimg.Pipeline([zkimg.Crop(left=2, top=1, width=12, height=12), zkimg.Grayscale()])
    x = photo_tile("astronaut", 0, 0, 16, 16)
    assert p.shapes((16, 16, 3)) == [(16, 16, 3), (12, 12, 3), (12, 12, 1)]
    assert np.array_equal(p.apply(x), zkimg.Grayscale().apply(x[1:13, 2:14]))
    q = zkimg.Pipeline([zkimg.Crop(left=2, top=1, width=12, height=12), zkimg.Grayscale(3)])
    assert p.digest != q.digest and len(p.digest) == 64
    assert p.canonical() == zkimg.Pipeline.from_json(json.loads(p.canonical())).canonical()
    assert b" " not in p.canonical()


@pytest.mark.parametrize("make, parameter", [
    (lambda: zkimg.Crop(0, 0, 0, 5), "width"),
    (lambda: zkimg.Crop(-1, 0, 3, 5), "left"),
    (lambda: zkimg.Crop(0, 0, 3, 2.5), "height"),
    (lambda: zkimg.Resize(0, 4), "width"),
    (lambda: zkimg.Resize(4, 4, "bicubic"), "mode"),
    (lambda: zkimg.BoxBlur(4), "size"),
    (lambda: zkimg.GaussianBlur(2), "size"),
    (lambda: zkimg.GaussianBlur(3, sigma=-1), "sigma"),
    (lambda: zkimg.GaussianBlur(3, sigma=float("nan")), "sigma"),
    (lambda: zkimg.Brightness(-0.5), "factor"),
    (lambda: zkimg.Contrast(float("inf")), "factor"),
    (lambda: zkimg.WhiteBalance((1.0, -1.0, 1.0)), "gains"),
    (lambda: zkimg.Flip("diagonal"), "direction"),
    (lambda: zkimg.Rotate90(4), "k"),
    (lambda: zkimg.Grayscale(2), "num_output_channels"),
])
def test_bad_parameters_raise_valueerror_naming_them(make, parameter):
    with pytest.raises(zkimg.InvalidParameter) as e:
        make()
    assert isinstance(e.value, ValueError) and e.value.parameter == parameter


def test_parameters_checked_against_the_image():
    x = img(7, 9)
    with pytest.raises(zkimg.InvalidParameter) as e:
        zkimg.Crop(5, 0, 5, 3).apply(x)  # crop outside the image
    assert e.value.parameter == "width"
    with pytest.raises(zkimg.InvalidParameter) as e:
        zkimg.Crop(0, 5, 3, 5).apply(x)
    assert e.value.parameter == "height"
    with pytest.raises(zkimg.InvalidImage):
        zkimg.Grayscale().apply(x[..., :1])  # wrong channel count
    with pytest.raises(zkimg.InvalidParameter) as e:
        zkimg.WhiteBalance((1.0, 1.0)).apply(x)
    assert e.value.parameter == "gains"
    for bad in (x.astype(np.float32), x[..., 0], x.astype(np.int64), [[1, 2]], np.zeros((0, 3, 3), np.uint8)):
        with pytest.raises(zkimg.InvalidImage) as e:
            zkimg.Flip().apply(bad)
        assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("bad", [
    {"op": "crop", "left": 0, "top": 0, "width": 2},                       # missing field
    {"op": "crop", "left": 0, "top": 0, "width": 2, "height": 2, "x": 1},  # extra field
    {"op": "brightness", "factor": 1.5, "factor_q8": 999},                 # inconsistent quantisation
    {"op": "gaussian_blur", "size": 3, "sigma": 0.8, "kernel": [1, 254, 1]},
    {"op": "nope"}, [], "crop", {"op": "flip", "direction": 3},
])
def test_malformed_transform_json_is_invalid_pipeline_file(bad):
    with pytest.raises(zkimg.InvalidPipelineFile):
        transform_from_json(bad)


@pytest.mark.parametrize("text", [b"", b"{", b"[]", b'{"schema":"zkimg.pipeline/1","steps":[]}',
                                  b'{"schema":"zkimg.pipeline/9","steps":[{"op":"flip","direction":"horizontal"}]}',
                                  b"[" * 100000])
def test_malformed_pipeline_json_is_invalid_pipeline_file(text):
    with pytest.raises(zkimg.InvalidPipelineFile):
        zkimg.Pipeline.loads(text)


def test_common_weight_factor_is_divided_out_exactly():
    from zkimg.hazmat.lowering import reduce_weighted_sum
    from zkimg.hazmat.primitives import WeightedSum

    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (5, 6, 3))
    for g, d, off in [(64, 4, 2), (128, 2, 1), (3, 9, 4), (2, 128, 64), (5, 7, 3)]:
        weights = ((g * 1,) * 6, (g * (d - 1),) * 6)
        p = WeightedSum(1, (tuple(range(6)), tuple([1, 2, 3, 4, 5, 5])), weights, g * d, g * off + g - 1)
        r = reduce_weighted_sum(p)
        assert r.divisor == d and np.array_equal(r.run(x), p.run(x))
    x[:] = 255  # extremes
    assert np.array_equal(reduce_weighted_sum(p).run(x), p.run(x))


def test_registry_lists_every_transform_with_examples_and_docs():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    transforms_table = readme.split("\n## Transforms")[1].split("\n## ")[0]
    assert len(REGISTRY) >= 10
    for op, cls in REGISTRY.items():
        assert f"`{cls.__name__}(" in transforms_table, f"README's transform table lacks {cls.__name__}"
        assert cls.op == op and cls.examples() and all(type(t) is cls for t in cls.examples())
        assert cls.c2pa_action.startswith("c2pa.") and cls.__doc__
        assert getattr(zkimg, cls.__name__) is cls  # every transform is part of the recipe namespace


@pytest.mark.parametrize("t", ALL, ids=lambda t: t.describe())
def test_every_example_round_trips_through_json(t):
    assert transform_from_json(json.loads(json.dumps(t.to_json()))) == t
    assert zkimg.Pipeline.from_json(zkimg.Pipeline([t]).to_json()) == zkimg.Pipeline([t])


def test_commitment_scheme_is_named_by_the_layout_and_the_tile_job():
    from zkimg.hazmat import POSEIDON, TileJob, TileLayout, scheme_for_layout

    layout = TileLayout(8, 8, 3, 4, 1)
    assert layout.scheme is POSEIDON is scheme_for_layout(1) and layout.to_json()["version"] == 1
    with pytest.raises(zkimg.InvalidParameter, match="scheme"):
        TileLayout(8, 8, 3, 4, 1, version=2)
    job = TileJob(zkimg.Pipeline([zkimg.Flip()]), (4, 4, 3))
    assert job.spec().commitment_scheme is POSEIDON
    assert "scheme" not in job.to_json() and TileJob.from_json(job.to_json()) == job  # the format is unchanged
    with pytest.raises(zkimg.InvalidParameter):
        TileJob(zkimg.Pipeline([zkimg.Flip()]), (4, 4, 3), scheme="nope")
    for bad in ("poseidon", "nope", 7):  # the default is never named (canonical form); unknown names refused
        with pytest.raises(zkimg.InvalidBundle):
            TileJob.from_json({**job.to_json(), "scheme": bad})

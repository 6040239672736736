"""Restricting a pipeline to an output window is exact: the tiled result equals the global one."""

import numpy as np
import pytest
from helpers import photo_tile

import zkimg
from zkimg.hazmat.plan import Plan
from zkimg.hazmat.primitives import restrict, run_all
from zkimg.hazmat.tiles import TileLayout
from zkimg.transforms import all_examples

PIPELINES = [
    [zkimg.Crop(3, 5, 40, 30), zkimg.Resize(23, 17), zkimg.GaussianBlur(5), zkimg.Contrast(1.3)],
    [zkimg.Resize(50, 37, "nearest"), zkimg.BoxBlur(3), zkimg.Grayscale(3), zkimg.Rotate90(1)],
    [zkimg.Rotate90(3), zkimg.Flip(), zkimg.Resize(31, 29), zkimg.WhiteBalance((1.2, 0.9, 1.0))],
    [zkimg.GaussianBlur(3), zkimg.GaussianBlur(5, 2.0), zkimg.Grayscale()],
]


@pytest.mark.parametrize("steps", PIPELINES, ids=lambda s: "+".join(t.op for t in s))
@pytest.mark.parametrize("tile", [7, 16])
def test_windows_reassemble_the_global_result(steps, tile):
    x = photo_tile("chelsea", 30, 40, 45, 53)  # not a multiple of any tile size
    pipe = zkimg.Pipeline(steps)
    prims = pipe.primitives(x.shape)
    full = pipe.apply(x)
    oh, ow, _ = full.shape
    tiled = np.zeros_like(full)
    for r0 in range(0, oh, tile):
        for c0 in range(0, ow, tile):
            rows, cols = range(r0, min(oh, r0 + tile)), range(c0, min(ow, c0 + tile))
            local, in_rows, in_cols = restrict(prims, rows, cols)
            part = x[np.ix_(in_rows, in_cols)].astype(np.int64)
            tiled[np.ix_(rows, cols)] = run_all(local, part)
    assert np.array_equal(tiled, full)


def test_receptive_field_is_exact():
    prims = zkimg.Pipeline([zkimg.Crop(4, 2, 10, 10), zkimg.BoxBlur(5)]).primitives((20, 20, 3))
    _, in_rows, in_cols = restrict(prims, range(0, 3), range(5, 10))
    assert in_rows == tuple(range(2, 2 + 5))   # rows 0..2 plus a halo of 2, clamped at the top
    assert in_cols == tuple(range(4 + 3, 4 + 10))  # cols 5..9 minus 2, clamped at the crop's right edge
    _, in_rows, _ = restrict(zkimg.Resize(4, 4, "nearest").primitives((16, 16, 3)), range(4), range(4))
    assert in_rows == (2, 6, 10, 14)  # sparse: nearest sampling reads only these rows


def reassemble(p, image):
    out = np.zeros(p.output_shape, np.uint8)
    for job in p.jobs:
        parts = [p.layout.cell_pixels(image, p.layout.cells[k]).ravel() for k in job.cells]
        region = job.spec.assemble(parts)
        out[job.rows[0]:job.rows[1], job.cols[0]:job.cols[1]] = run_all(job.spec.primitives, region.astype(np.int64))
    return out


@pytest.mark.parametrize("steps", PIPELINES + [[zkimg.Crop(5, 3, 70, 50)], [zkimg.Resize(40, 30)]],
                         ids=lambda s: "+".join(t.op for t in s))
def test_planned_jobs_reproduce_the_global_result(steps):
    x = photo_tile("coffee", 10, 20, 61, 83)  # 61×83: no tile size divides it
    layout = TileLayout(83, 61, 3, tile=16, border=4)
    p = Plan(zkimg.Pipeline(steps), layout, max_out=16)
    assert np.array_equal(reassemble(p, x), zkimg.Pipeline(steps).apply(x))
    assert all(j.spec.output_shape[0] <= 16 and j.spec.output_shape[1] <= 16 for j in p.jobs)


@pytest.mark.parametrize("t", all_examples(), ids=lambda t: t.describe())
def test_every_registered_transform_tiles_exactly(t):
    x = photo_tile("coffee", 10, 20, 21, 27)
    layout = TileLayout(27, 21, 3, tile=8, border=2)
    p = Plan(zkimg.Pipeline([t]), layout, max_out=4)
    assert np.array_equal(reassemble(p, x), t.apply(x))


def test_hashing_stays_near_once_per_value():
    layout = TileLayout(128, 96, 3, tile=32, border=2)
    for steps, bound in [([zkimg.GaussianBlur(5)], 1.3), ([zkimg.Resize(64, 48)], 1.15),
                         ([zkimg.Crop(3, 5, 100, 80)], 1.0), ([zkimg.Contrast(1.2)], 1.0)]:
        p = Plan(zkimg.Pipeline(steps), layout)
        assert p.hashed_per_input <= bound, (steps, p.hashed_per_input)
    assert Plan(zkimg.Pipeline([zkimg.GaussianBlur(5)]), layout).distinct_circuits < len(
        Plan(zkimg.Pipeline([zkimg.GaussianBlur(5)]), layout).jobs)


@pytest.mark.parametrize("steps", PIPELINES + [[zkimg.Resize(40, 30)], [zkimg.Rotate90(1), zkimg.BoxBlur(3)]],
                         ids=lambda s: "+".join(t.op for t in s))
@pytest.mark.parametrize("n", [2, 3])
def test_jobs_of_several_tiles_reproduce_the_global_result(steps, n):
    x = photo_tile("coffee", 10, 20, 61, 83)
    layout = TileLayout(83, 61, 3, tile=16, border=4)
    one = Plan(zkimg.Pipeline(steps), layout, max_out=64)
    several = Plan(zkimg.Pipeline(steps), layout, max_out=64, tiles_per_job=n)
    assert np.array_equal(reassemble(several, x), zkimg.Pipeline(steps).apply(x))
    assert len(several.jobs) < len(one.jobs)  # fewer, larger jobs ...
    assert several.hashed_per_input <= one.hashed_per_input  # ... hashing no value more often


def test_tiles_per_job_groups_tiles_along_the_width():
    layout = TileLayout(128, 64, 3, tile=32, border=2)
    p = Plan(zkimg.Pipeline([zkimg.Resize(64, 32)]), layout, tiles_per_job=2)
    assert len(p.jobs) == 2 * 2 and all(j.cols[1] - j.cols[0] == 32 and j.rows[1] - j.rows[0] == 16 for j in p.jobs)
    assert p.hashed_per_input == 1.0
    # a transpose swaps the axes: still 2 input tiles along the input's width per job
    t = Plan(zkimg.Pipeline([zkimg.Rotate90(1), zkimg.Resize(32, 64)]), layout, tiles_per_job=2)
    assert len(t.jobs) == 4 and all(j.rows[1] - j.rows[0] == 32 and j.cols[1] - j.cols[0] == 16 for j in t.jobs)
    for bad in (0, 17, True, 1.5):
        with pytest.raises(zkimg.InvalidParameter):
            Plan(zkimg.Pipeline([zkimg.Resize(64, 32)]), layout, tiles_per_job=bad)
    with pytest.raises(zkimg.InvalidParameter):
        Plan(zkimg.Pipeline([zkimg.Resize(64, 32)]), layout, output_tile=16, tiles_per_job=2)


STEPS = [zkimg.Crop(3, 5, 40, 30), zkimg.Resize(23, 17), zkimg.Resize(90, 70), zkimg.Resize(50, 37, "nearest"),
         zkimg.Resize(7, 5, "nearest"), zkimg.GaussianBlur(5), zkimg.GaussianBlur(15), zkimg.BoxBlur(3),
         zkimg.Rotate90(1), zkimg.Rotate90(2), zkimg.Flip("vertical"), zkimg.Grayscale(3), zkimg.Contrast(1.3),
         zkimg.Sharpen(1.5, "unsharp"), zkimg.ColorConvert(), zkimg.Redact([(3, 4, 30, 20), (40, 0, 13, 45)]),
         zkimg.Pixelate([(3, 4, 30, 20)], 7), zkimg.Pixelate([(0, 0, 53, 45)], 16),
         zkimg.GaussianBlur(7, region=[(10, 10, 20, 20)]), zkimg.BoxBlur(5, region=[(0, 0, 53, 45)])]


@pytest.mark.parametrize("step", STEPS, ids=lambda t: t.describe())
@pytest.mark.parametrize("run", [1, 2, 5, 16])
def test_span_bounds_every_receptive_field(step, run):
    """``Transform.span`` (what the verifier's arithmetic work bounds rest on) covers the true
    receptive field of every run of consecutive outputs, along both spatial axes."""
    shape = (45, 53, 3)
    out = step.output_shape(shape)
    prims = step.primitives(shape)
    from zkimg.hazmat.primitives import out_shape_all

    assert out == out_shape_all(prims, shape)  # the arithmetic shape is the primitives' shape
    for axis in (0, 1):
        in_axis = 1 - axis if step.transposes else axis
        for start in range(0, out[axis] - run + 1, max(1, run // 2)):
            window = range(start, start + run)
            _, in_rows, in_cols = restrict(prims, window if axis == 0 else range(out[0]),
                                           window if axis == 1 else range(out[1]))
            field = in_rows if in_axis == 0 else in_cols
            assert max(field) - min(field) + 1 <= step.span(run, shape[in_axis], out[axis])


@pytest.mark.parametrize("steps", PIPELINES, ids=lambda s: "+".join(t.op for t in s))
def test_job_value_bound_covers_every_job(steps):
    layout = zkimg.hazmat.TileLayout(53, 45, 3, 16, 2)
    plan = zkimg.hazmat.Plan(zkimg.Pipeline(steps), layout, max_out=9)
    worst = max(sum(j.spec.part_sizes) + int(np.prod(j.spec.output_shape)) for j in plan.jobs)
    hashed = max(sum(j.spec.part_sizes) for j in plan.jobs)  # exact: the largest row and column runs' bands
    output = max(int(np.prod(j.spec.output_shape)) for j in plan.jobs)
    assert worst <= plan.max_job_values <= hashed + output and plan.job_count == len(plan.jobs)

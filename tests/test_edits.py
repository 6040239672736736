"""Sharpen, colour conversion and region edits: their specs against independent numpy, the
signed/clamped rounding's soundness in the circuit, and region edits end to end (what a
verifier sees, what it refuses, what an untouched tile costs)."""

import dataclasses

import numpy as np
import pytest
from helpers import PHOTOS, dev_policy, photo_tile, sample_images
from test_exactness import check_job
from test_proofs import _edit_hint, assert_edited_witness_does_not_prove, prove_and_verify

import zkimg
from zkimg.hazmat.lowering import CircuitSpec, TileJob, lower_circuit
from zkimg.hazmat.plan import Plan
from zkimg.hazmat.primitives import Fill, Select, Stencil

TILE = photo_tile("astronaut", 120, 200, 8, 8)


def _edge(x, r=1):
    return np.pad(x.astype(np.int64), ((r, r), (r, r), (0, 0)), mode="edge")


def _shifted(p, dy, dx, h, w):
    return p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]


# ----------------------------------------------------------------------------- specs


@pytest.mark.parametrize("amount", [0.0, 0.5, 1.0, 2.7, 8.0])
def test_sharpen_laplacian_is_its_formula(amount):
    for name, x in {**sample_images(13, 11), "photo": photo_tile("chelsea", 80, 120, 31, 29)}.items():
        h, w, _ = x.shape
        p, a = _edge(x), int(np.floor(amount * 256 + 0.5))
        n = sum(_shifted(p, dy, dx, h, w) for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)))
        want = np.clip(((256 + 4 * a) * x.astype(np.int64) - a * n + 128) // 256, 0, 255)
        assert np.array_equal(zkimg.Sharpen(amount).apply(x), want), name


def test_sharpen_unsharp_is_its_formula_and_keeps_flat_images():
    x = photo_tile("coffee", 60, 90, 17, 23)
    h, w, _ = x.shape
    p, a = _edge(x), int(np.floor(1.3 * 256 + 0.5))
    b = sum((2 - abs(dy)) * (2 - abs(dx)) * _shifted(p, dy, dx, h, w) for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    want = np.clip(((4096 + 16 * a) * x.astype(np.int64) - a * b + 2048) // 4096, 0, 255)
    assert np.array_equal(zkimg.Sharpen(1.3, "unsharp").apply(x), want)
    for v in (0, 1, 128, 254, 255):  # a flat image has no edges to sharpen
        flat = np.full((5, 6, 3), v, np.uint8)
        for t in zkimg.Sharpen.examples() + (zkimg.Sharpen(8.0), zkimg.Sharpen(8.0, "unsharp")):
            assert np.array_equal(t.apply(flat), flat)
    assert np.array_equal(zkimg.Sharpen(0.0).apply(x), x)  # amount 0 is the identity
    edges = zkimg.Sharpen(8.0).apply(sample_images(9, 9)["checker"])
    assert set(np.unique(edges)) == {0, 255}  # the clamp at both ends


def _ycbcr_float(x):
    r, g, b = (x[..., i].astype(float) for i in range(3))
    return np.stack([0.299 * r + 0.587 * g + 0.114 * b, -0.168736 * r - 0.331264 * g + 0.5 * b + 128,
                     0.5 * r - 0.418688 * g - 0.081312 * b + 128], axis=-1)


def _rgb_float(x):
    y, cb, cr = (x[..., i].astype(float) for i in range(3))
    return np.stack([y + 1.402 * (cr - 128), y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128),
                     y + 1.772 * (cb - 128)], axis=-1)


def test_color_convert_is_jfif_within_one_and_round_trips():
    grid = np.stack(np.meshgrid(np.arange(0, 256, 5), np.arange(0, 256, 3), indexing="ij"), -1)
    every = np.concatenate([grid, grid[..., :1] * 0 + 77], axis=-1).astype(np.uint8)  # many RGB corners
    for x in (PHOTOS["astronaut"][::7, ::7, :3], PHOTOS["coffee"][::9, ::9, :3], every):
        ycc = zkimg.ColorConvert("ycbcr").apply(x)
        assert np.abs(ycc.astype(int) - np.clip(np.floor(_ycbcr_float(x) + 0.5), 0, 255)).max() <= 1
        rgb = zkimg.ColorConvert("rgb").apply(ycc)
        assert np.abs(rgb.astype(int) - np.clip(np.floor(_rgb_float(ycc) + 0.5), 0, 255)).max() <= 1
        assert np.abs(rgb.astype(int) - x.astype(int)).max() <= 3  # two roundings each way
    ycc = zkimg.ColorConvert().apply(np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]]], np.uint8))
    assert ycc[0, :2].tolist() == [[0, 128, 128], [255, 128, 128]]
    assert ycc[0, 2, 2] == 255 and ycc[0, 3, 1] == 255  # pure red's Cr and blue's Cb clamp at 255
    with pytest.raises(zkimg.InvalidImage):
        zkimg.ColorConvert().apply(np.zeros((4, 4, 1), np.uint8))


def test_redact_replaces_only_the_boxes():
    x = photo_tile("astronaut", 20, 150, 30, 40)
    t = zkimg.Redact([(5, 3, 10, 8), (30, 20, 10, 10)], fill=(255, 0, 17))
    out = t.apply(x)
    mask = np.zeros(x.shape[:2], bool)
    mask[3:11, 5:15] = mask[20:30, 30:40] = True
    assert np.array_equal(out[~mask], x[~mask])
    assert (out[mask] == [255, 0, 17]).all()
    grey = zkimg.Redact([(0, 0, 2, 2)], fill=(9,)).apply(x[..., :1])
    assert grey[:2, :2].ravel().tolist() == [9] * 4
    with pytest.raises(zkimg.InvalidParameter, match="exceeds"):
        zkimg.Redact([(35, 0, 10, 10)]).apply(x)
    with pytest.raises(zkimg.InvalidParameter, match="fill"):
        zkimg.Redact([(0, 0, 2, 2)], fill=(1, 2)).apply(x)
    for bad in ([], [(0, 0, 0, 3)], [(0, 0, 3)], [(-1, 0, 2, 2)], [(0, 0, 2, 2)] * 17, "0,0,2,2", [(0, 0, 1.5, 2)]):
        with pytest.raises(zkimg.InvalidParameter):
            zkimg.Redact(bad)


def test_pixelate_is_block_means_on_the_image_grid():
    x = photo_tile("chelsea", 40, 60, 23, 29)  # 23×29: the last cells are smaller
    n = 5
    t = zkimg.Pixelate([(3, 4, 20, 19), (0, 0, 2, 2)], block=n)
    out = t.apply(x).astype(np.int64)
    want = x.astype(np.int64).copy()
    for top in range(0, 23, n):
        for left in range(0, 29, n):
            cell = x[top:top + n, left:left + n].astype(np.int64)
            d = cell.shape[0] * cell.shape[1]
            mean = (cell.sum(axis=(0, 1)) + d // 2) // d
            for i in range(top, min(top + n, 23)):
                for j in range(left, min(left + n, 29)):
                    if (4 <= i < 23 and 3 <= j < 23) or (i < 2 and j < 2):
                        want[i, j] = mean
    assert np.array_equal(out, want)


def test_region_blur_is_the_whole_blur_inside_and_the_image_outside():
    x = photo_tile("coffee", 100, 100, 20, 24)
    for whole, part in [(zkimg.GaussianBlur(5), zkimg.GaussianBlur(5, region=[(4, 2, 9, 7)])),
                        (zkimg.BoxBlur(3), zkimg.BoxBlur(3, region=[(4, 2, 9, 7)]))]:
        out, blur = part.apply(x), whole.apply(x)
        assert np.array_equal(out[2:9, 4:13], blur[2:9, 4:13])
        out[2:9, 4:13] = x[2:9, 4:13]
        assert np.array_equal(out, x)
    assert "region" not in zkimg.GaussianBlur(3).to_json()  # bundles made before regions keep their JSON
    t = zkimg.transforms.GaussianBlur.from_cli("gaussian:5:1.5@1,2,3,4+5,6,7,8")
    assert t == zkimg.GaussianBlur(5, 1.5, region=((1, 2, 3, 4), (5, 6, 7, 8)))
    assert zkimg.transforms.GaussianBlur.from_cli("box:3@1,2,3,4") == zkimg.BoxBlur(3, region=((1, 2, 3, 4),))


# ----------------------------------------------------------------------------- tiling and cost


def test_a_tile_no_box_touches_costs_an_identity():
    layout = zkimg.hazmat.TileLayout(48, 32, 3, tile=16, border=2)
    for t in (zkimg.Redact([(20, 18, 6, 5)]), zkimg.Pixelate([(20, 18, 6, 5)], 4),
              zkimg.GaussianBlur(5, region=[(20, 18, 6, 5)]), zkimg.Sharpen(1.0)):
        plan = Plan(zkimg.Pipeline([t]), layout, max_out=16)
        touched = [j for j in plan.jobs if j.rows[0] < 23 and j.rows[1] > 18 and j.cols[0] < 26 and j.cols[1] > 20]
        others = [j for j in plan.jobs if j not in touched]
        assert touched and others
        for j in others:  # nothing to compute: the proof only hashes the tile in and out
            assert (j.spec.primitives == ()) is (not isinstance(t, zkimg.Sharpen)), (t, j)
            if j.spec.primitives == ():
                identity = dataclasses.replace(j.spec, primitives=())
                assert lower_circuit(j.spec).digest == lower_circuit(identity).digest
        for j in touched:
            assert any(isinstance(p, Select) for p in j.spec.primitives) is (not isinstance(t, zkimg.Sharpen))
    # a job inside a box computes the fill alone (no select, nothing of the tile used)
    inside = Plan(zkimg.Pipeline([zkimg.Redact([(0, 0, 48, 32)])]), layout, max_out=16).jobs[0]
    assert inside.spec.primitives == (Fill((0, 0, 0)),)


def test_region_edits_tile_exactly_with_cells_across_tiles():
    x = photo_tile("astronaut", 10, 10, 37, 45)
    layout = zkimg.hazmat.TileLayout(45, 37, 3, tile=8, border=2)
    for steps in ([zkimg.Pixelate([(3, 5, 30, 25)], 7)], [zkimg.Sharpen(2.0, "unsharp"), zkimg.Redact([(0, 0, 9, 9)])],
                  [zkimg.Crop(2, 2, 40, 33), zkimg.Pixelate([(0, 0, 40, 33)], 6), zkimg.GaussianBlur(3, region=[(5, 5, 20, 9)])],
                  [zkimg.ColorConvert(), zkimg.Pixelate([(10, 10, 12, 12)], 4), zkimg.ColorConvert("rgb")]):
        pipe = zkimg.Pipeline(steps)
        plan = Plan(pipe, layout, max_out=8)
        out = np.zeros(pipe.output_shape(x.shape), np.uint8)
        for j in plan.jobs:
            region = j.spec.assemble([x[c.r0:c.r1, c.c0:c.c1].ravel() for c in (layout.cells[k] for k in j.cells)])
            out[j.rows[0]:j.rows[1], j.cols[0]:j.cols[1]] = zkimg.hazmat.primitives.run_all(
                j.spec.primitives, region.astype(np.int64))
        assert np.array_equal(out, pipe.apply(x)), steps


# ----------------------------------------------------------------------------- circuits


def test_every_stencil_tap_and_clamp_reaches_the_circuit(store):
    # Sharpen(3) reduces to weights 13/−3 over divisor 1 and clamps through a hint (its table
    # would be too long); unsharp divides by 4096; ColorConvert has per-channel weights and bias.
    for t in (zkimg.Sharpen(3.0), zkimg.Sharpen(0.7, "unsharp"), zkimg.ColorConvert("rgb")):
        job = TileJob(zkimg.Pipeline([t]), TILE.shape)
        assert len(store.circuit(job).hints) == 1, t


@pytest.mark.parametrize("t", [zkimg.Sharpen(3.0), zkimg.Sharpen(0.7, "unsharp"), zkimg.ColorConvert("rgb")],
                         ids=lambda t: t.describe())
@pytest.mark.parametrize("delta", [1, -1])
def test_signed_rounding_hint_off_by_one_cannot_be_proved(store, t, delta):
    # The hint is q + b (b lifts a negative quotient to ≥ 0); its remainder check must still
    # pin it, and the clamp table reads only what the checks fixed.
    job = TileJob(zkimg.Pipeline([t]), TILE.shape)
    assert_edited_witness_does_not_prove(store, job, TILE, _edit_hint(0, 5, lambda q: q + delta))


def test_hint_past_the_clamp_table_cannot_be_proved(store):
    job = TileJob(zkimg.Pipeline([zkimg.Sharpen(0.7, "unsharp")]), TILE.shape)
    assert_edited_witness_does_not_prove(store, job, TILE, _edit_hint(0, 5, lambda q: q + 10_000))


def test_block_mean_small_cell_checks_its_own_divisor(store):
    # 8×8 in 3 px cells: the last row and column of cells hold 6, 6 and 4 pixels. One less as
    # the (2, 2) cell's quotient leaves a remainder in [4, 8): inside the 9-entry table the
    # full cells use, so only the per-cell check (r + 9 − D in [0, 9)) refuses it.
    job = TileJob(zkimg.Pipeline([zkimg.Pixelate([(0, 0, 8, 8)], 3)]), TILE.shape)
    assert len(store.circuit(job).hints) == 1
    assert_edited_witness_does_not_prove(store, job, TILE, _edit_hint(0, (2 * 3 + 2) * 3, lambda q: q - 1))


def test_redacted_pixels_do_not_reach_the_proof(store):
    # Two tiles that differ only inside the box: the same public output, both proved.
    job = TileJob(zkimg.Pipeline([zkimg.Redact([(2, 1, 5, 4)], fill=(7, 8, 9))]), TILE.shape)
    other = TILE.copy()
    other[1:5, 2:7] = 255 - other[1:5, 2:7]
    a, _ = prove_and_verify(store, job, TILE)
    b, _ = prove_and_verify(store, job, other)
    assert np.array_equal(a.output, b.output) and (a.output[1:5, 2:7] == [7, 8, 9]).all()
    assert np.array_equal(a.output[5:], TILE[5:])


@pytest.mark.parametrize("shape", [(1, 1, 3), (3, 17, 3), (5, 4, 3), (7, 6, 3)])
def test_new_transforms_are_exact_on_odd_shapes(store, shape):
    # numpy == onnxruntime == ezkl's witness at sizes no block, kernel or tile divides
    h, w, _ = shape
    rng = np.random.default_rng(sum(shape))
    images = {"random": rng.integers(0, 256, shape, dtype=np.uint8), "zeros": np.zeros(shape, np.uint8),
              "full": np.full(shape, 255, np.uint8)}
    steps = [zkimg.Sharpen(2.0, "unsharp"), zkimg.ColorConvert(), zkimg.Pixelate([(0, 0, w, h)], 2),
             zkimg.Redact([(w // 2, h // 2, w - w // 2, h - h // 2)], (1, 2, 3)),
             zkimg.GaussianBlur(3, region=[(0, h // 2, w, h - h // 2)]), zkimg.ColorConvert("rgb")]
    check_job(store, TileJob(zkimg.Pipeline(steps), shape), images)


def test_stencil_needs_a_clamp_and_bounded_sums():
    with pytest.raises(ValueError):
        Stencil(((0,),), ((0,),), (1,), 1, 0, clamp=False)
    with pytest.raises(ValueError):
        Stencil(((0,),), ((0,),), (1 << 17,), 1, 0)
    spec = CircuitSpec((192,), (8, 8, 3), None, zkimg.Sharpen(1.0).primitives((8, 8, 3)), (8, 8, 3), False)
    assert lower_circuit(spec).hints == ()  # Sharpen(1): weights 5/−1, one lookup does the clamp


# ----------------------------------------------------------------------------- whole images

PHOTO = photo_tile("astronaut", 20, 160, 32, 48)  # 48×32: a face-sized region of a real photo
FACE = (14, 6, 14, 16)


@pytest.fixture(scope="module")
def redacted(store, camera):
    shot = camera.capture(PHOTO, tile=16, border=2)
    pipe = zkimg.Pipeline([zkimg.Pixelate([FACE], 4), zkimg.Redact([(40, 0, 8, 8)])])
    return shot, pipe, zkimg.prove(shot, pipe, store=store)


def test_region_edit_verifies_and_refuses_moved_boxes_and_touched_pixels(redacted, camera, store):
    shot, pipe, att = redacted
    policy = dev_policy([camera.public_key])
    published = pipe.apply(PHOTO)
    res = zkimg.verify(att, published, policy=policy, store=store)
    assert res.output_size == PHOTO.shape
    plan = Plan(pipe, shot.signed.layout)
    assert sum(j.spec.primitives == () for j in plan.jobs) >= 1  # tiles no box touches
    outside = published.copy()
    outside[31, 0, 0] ^= 1  # one bit, far from both boxes
    with pytest.raises(zkimg.ProofInvalid):
        zkimg.verify(att, outside, policy=policy, store=store)
    inside = published.copy()
    inside[8, 16] = PHOTO[8, 16]  # an original pixel shown through the pixelated face
    with pytest.raises(zkimg.ProofInvalid):
        zkimg.verify(att, inside, policy=policy, store=store)
    moved = zkimg.Pipeline([zkimg.Pixelate([(FACE[0] + 4, FACE[1], FACE[2], FACE[3])], 4), pipe.steps[1]])
    forged = dataclasses.replace(att, pipeline=moved)
    with pytest.raises(zkimg.VerificationError):  # the box moved in the bundle: its circuits differ
        zkimg.verify(forged, moved.apply(PHOTO), policy=policy, store=store)

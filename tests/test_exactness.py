"""apply() == ezkl's witness (what a proof certifies) == onnxruntime, bit for bit."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from helpers import kzg_spec, sample_images

import zkimg
from zkimg.hazmat import commit, hash_public
from zkimg.hazmat.lowering import TileJob, run_reference
from zkimg.hazmat.proving import generate_witness
from zkimg.transforms import all_examples

ALL = all_examples()

MIXED = [
    [zkimg.Crop(1, 2, 8, 7), zkimg.Resize(5, 4), zkimg.GaussianBlur(3), zkimg.Contrast(1.3)],
    [zkimg.WhiteBalance((1.3, 1.0, 0.7)), zkimg.BoxBlur(3), zkimg.Grayscale(), zkimg.Brightness(0.8)],
    [zkimg.Rotate90(1), zkimg.Flip("vertical"), zkimg.Resize(7, 9, "nearest"), zkimg.GaussianBlur(5, 1.2)],
    [zkimg.Resize(17, 15), zkimg.Grayscale(3), zkimg.Crop(3, 3, 9, 9)],
]


def check_job(store, job, images):
    for name, x in images.items():
        expected = job.apply(x)
        ort_out, _ = run_reference(job, x)
        assert np.array_equal(ort_out, expected), f"onnxruntime differs on {name}"
        salt = bytes(range(16))
        out_salt = bytes(range(16, 32)) if job.hidden_output else None
        with tempfile.TemporaryDirectory() as tmp:
            w = generate_witness(store, job, x, salt, out_salt, Path(tmp))
        assert np.array_equal(w.output, expected), f"ezkl witness differs on {name}"
        assert w.input_commitment == commit(x, salt)
        if job.hidden_output:
            assert w.output_commitment == commit(expected, out_salt)
        else:
            assert w.output_commitment == hash_public(expected)


@pytest.mark.parametrize("t", ALL, ids=lambda t: t.op)
def test_every_transform_is_exact_in_the_circuit(store, t):
    check_job(store, TileJob(zkimg.Pipeline([t]), (9, 11, 3)), sample_images(9, 11, seed=3))


@pytest.mark.parametrize("steps", MIXED, ids=lambda s: "+".join(t.op for t in s))
def test_mixed_pipelines_are_exact_in_the_circuit(store, steps):
    check_job(store, TileJob(zkimg.Pipeline(steps), (13, 10, 3)), sample_images(13, 10, seed=4))


def test_hidden_output_commitment_matches_native(store):
    job = TileJob(zkimg.Pipeline([zkimg.Resize(4, 5), zkimg.Contrast(1.2)]), (7, 6, 3), hidden_output=True)
    check_job(store, job, sample_images(7, 6))


@pytest.mark.parametrize("shape", [(1, 1, 3), (3, 17, 3), (16, 16, 1), (5, 4, 4)])
def test_odd_shapes_and_channel_counts(store, shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.integers(0, 256, shape, dtype=np.uint8)
    job = TileJob(zkimg.Pipeline([zkimg.Flip(), zkimg.Brightness(1.4)]), shape)
    check_job(store, job, {"random": x, "zeros": np.zeros(shape, np.uint8), "full": np.full(shape, 255, np.uint8)})


# ----------------------------------------------------------------------------- the KZG scheme's int64 graphs

def check_kzg(store, pipeline, images, logrows=12):
    """The same job lowered for the KZG scheme (int64 end to end, no range check, pooled
    hints) at a capture's ``logrows``: ezkl's witness is the numpy specification on every image."""
    from zkimg.hazmat.kzg_scheme import KZGScheme

    spec = kzg_spec(pipeline, next(iter(images.values())).shape, logrows)
    scheme = KZGScheme.from_params(dict(spec.scheme_params))
    for name, x in images.items():
        with tempfile.TemporaryDirectory() as tmp:
            w = generate_witness(store, spec, [x.ravel()], [scheme.new_salt()], None, Path(tmp))
        assert np.array_equal(w.output, pipeline.apply(x)), f"ezkl witness differs on {name}"


#: Jobs whose clamp table (a dynamic lookup table, one column) is longer than a 2^12 column:
#: they need a capture of larger logrows. At a forced logrows ezkl 23.0.5's gen_settings
#: fails ("too many values to flush for this column size"); zkimg asks it again without the
#: height and says what the job needs.
KZG_NEEDS = {zkimg.Sharpen(0.7, "unsharp"): 13, zkimg.Sharpen(3.0): 14}


@pytest.mark.parametrize("t", ALL, ids=lambda t: t.op)
def test_every_transform_is_exact_in_the_kzg_circuit(store, t):
    images = sample_images(9, 11, seed=3)
    if t in KZG_NEEDS:
        with pytest.raises(zkimg.CircuitError, match=f"needs 2\\^{KZG_NEEDS[t]} rows .* have 2\\^12"):
            check_kzg(store, zkimg.Pipeline([t]), images)
        check_kzg(store, zkimg.Pipeline([t]), images, logrows=KZG_NEEDS[t])
        return
    check_kzg(store, zkimg.Pipeline([t]), images)


@pytest.mark.parametrize("steps", MIXED, ids=lambda s: "+".join(t.op for t in s))
def test_mixed_pipelines_are_exact_in_the_kzg_circuit(store, steps):
    check_kzg(store, zkimg.Pipeline(steps), sample_images(13, 10, seed=4))

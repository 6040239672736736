"""Shared test data: real photos (scikit-image's samples, offline) and named test images."""

import numpy as np


def _photos():
    from skimage import data

    return {"astronaut": data.astronaut(), "coffee": data.coffee(), "chelsea": data.chelsea()}


PHOTOS = _photos()


def photo_tile(name: str, top: int, left: int, h: int, w: int) -> np.ndarray:
    return np.ascontiguousarray(PHOTOS[name][top:top + h, left:left + w, :3])


def sample_images(h: int, w: int, seed: int = 0):
    """Named H×W×3 test images: two real photos, extremes, noise and a gradient."""
    rng = np.random.default_rng(seed)
    return {
        "astronaut": photo_tile("astronaut", 90, 170, h, w),
        "coffee": photo_tile("coffee", 150, 260, h, w),
        "zeros": np.zeros((h, w, 3), np.uint8),
        "full": np.full((h, w, 3), 255, np.uint8),
        "noise": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        "checker": ((np.indices((h, w)).sum(0) % 2) * 255).astype(np.uint8)[..., None].repeat(3, 2),
    }


def dev_policy(keys):
    """The tests' verification policy: trust ``keys`` (a key or a list), and accept the
    development SRS the test session generates (never the default: see test_attest)."""
    import zkimg

    return zkimg.TrustedCameras(keys, allow_development_srs=True)


KZG_TEST_PARAMS = (("salt_slots", 5), ("srs_sha256", "ab" * 32), ("unusable_rows", 6))


def kzg_spec(pipeline, shape, logrows: int = 12):
    """The one-part KZG job of ``pipeline`` on a ``shape`` region, for columns of 2^logrows rows."""
    from zkimg.hazmat.lowering import CircuitSpec

    return CircuitSpec((int(np.prod(shape)),), tuple(shape), None, pipeline.primitives(shape),
                       pipeline.output_shape(shape), False, "kzg", (("logrows", logrows),) + KZG_TEST_PARAMS)


def lookup_tables(graph):
    """The constant table of every lookup in an ONNX ``graph``, in node order: a ``Gather`` in
    float (Poseidon) graphs, a 1-D ``GatherElements`` in int64 (KZG) graphs."""
    from onnx import numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    return [inits[n.input[0]] for n in graph.node if n.op_type in ("Gather", "GatherElements") and n.input[0] in inits]


def table_steps(spec):
    """The constant step of each lookup table in ``spec``'s circuit graph that has one (an
    ``arange`` steps by 1, a folded rounding's quotient table by its divisor), in node order."""
    from onnx import load_from_string

    from zkimg.hazmat.lowering import lower_circuit

    tables = lookup_tables(load_from_string(lower_circuit(spec).model).graph)
    diffs = [np.unique(np.diff(t.astype(np.int64))) for t in tables if len(t) > 1]
    return [int(d[0]) for d in diffs if len(d) == 1]

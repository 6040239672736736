import os
import warnings

import numpy as np
import pytest
from hypothesis import settings

import zkimg

# "ci" (default): a few hundred fuzz cases in all; "fuzz": 10,000 per property (tests/README.md).
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=False)
settings.register_profile("fuzz", max_examples=10_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    """One circuit cache (and development SRS) for the whole session: ``$ZKIMG_CACHE`` if set
    (e.g. by tests/mutants.py, to reuse keys across runs), else a fresh temporary one."""
    if os.environ.get("ZKIMG_CACHE"):
        return zkimg.CircuitStore()
    return zkimg.CircuitStore(tmp_path_factory.mktemp("zkimg-cache"))


@pytest.fixture(scope="session")
def camera():
    """One camera signing key for the session's captures (tests that need another make it)."""
    return zkimg.Camera.generate()


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


def pytest_configure(config):
    warnings.filterwarnings("ignore", category=zkimg.DevelopmentSRSWarning)

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

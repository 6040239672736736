"""End-to-end demo on a bundled real photo: commit a tile, prove an edit, verify it.

Run ``python -m zkimg.demo`` (``--help`` for options). The first run generates a local
development SRS and the circuit's keys (cached under ``$ZKIMG_CACHE`` or
``~/.cache/zkimg``); later runs reuse them.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from importlib import resources
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from . import CircuitStore, Contrast, Crop, DevelopmentSRSWarning, GaussianBlur, Pipeline, Resize
from .errors import CircuitError, Error, ProvingError
from .hazmat import TileJob, commit, prove_tile, verify_tile

BUNDLED_PHOTO = "astronaut_128.png"  # NASA portrait of Eileen Collins (public domain), via scikit-image


def load_photo(path: Optional[Path] = None) -> np.ndarray:
    """Read an RGB photo as a uint8 H×W×3 array (the bundled one by default)."""
    from PIL import Image

    if path is None:
        with resources.files("zkimg").joinpath("data").joinpath(BUNDLED_PHOTO).open("rb") as f:
            return np.asarray(Image.open(f).convert("RGB"))
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def demo_pipeline(size: int) -> Pipeline:
    return Pipeline([
        Crop(left=1, top=1, width=size - 2, height=size - 2),
        Resize(width=size // 2, height=size // 2, mode="bilinear"),
        GaussianBlur(3),
        Contrast(1.25),
    ])


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The demo's options (shared by ``python -m zkimg.demo`` and ``zkimg demo``)."""
    ap.add_argument("--photo", type=Path, default=None, help="an image file (default: bundled photo)")
    ap.add_argument("--tile", type=int, default=16, help="tile side in pixels (default 16)")
    ap.add_argument("--cache", type=Path, default=None, help="circuit/key cache directory")
    ap.set_defaults(run=run, parser=ap)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m zkimg.demo", description=__doc__.splitlines()[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(a: argparse.Namespace) -> int:
    """Run the demo with parsed options. Exit status as the CLI's: 0 success, 1 a tampered
    output verified (never expected), 3 bad input, 4 proving failed."""
    ap = a.parser
    warnings.simplefilter("ignore", DevelopmentSRSWarning)  # said once, plainly, below
    try:
        photo = load_photo(a.photo)
        s = a.tile
        if not 4 <= s <= min(photo.shape[:2]):
            ap.error(f"--tile must be between 4 and {min(photo.shape[:2])}")
        top, left = (photo.shape[0] - s) // 2, (photo.shape[1] - s) // 2
        tile = np.ascontiguousarray(photo[top:top + s, left:left + s])
        pipe = demo_pipeline(s)
        job = TileJob(pipe, tile.shape)
        store = CircuitStore(a.cache)

        print(f"photo {photo.shape[1]}×{photo.shape[0]}, proving a {s}×{s} tile at ({left}, {top})")
        print(f"pipeline {pipe.digest[:16]}…: " + " → ".join(t.op for t in pipe))
        t0 = time.perf_counter()
        proved = prove_tile(job, tile, store=store)
        t1 = time.perf_counter()
        camera_commitment = commit(tile, proved.salt)  # what a camera would have signed
        result = verify_tile(proved.proof, job, input_commitment=camera_commitment,
                             output=pipe.apply(tile), store=store)
        t2 = time.perf_counter()
        circuit = store.circuit(job)
        print(f"input commitment  {camera_commitment:#066x}")
        print(f"output {job.output_shape[1]}×{job.output_shape[0]}×{job.output_shape[2]} "
              f"equals pipeline.apply(tile): {np.array_equal(proved.output, pipe.apply(tile))}")
        print(f"circuit 2^{circuit.logrows} rows ({circuit.num_rows:,} used), proof {len(proved.proof.proof):,} bytes")
        print(f"prove {t1 - t0:.1f} s (setup included on first run), verify {t2 - t1:.2f} s")
        print("VERIFIED")
        if result.development_srs:
            print("WARNING: made with a locally generated development SRS; such proofs are NOT "
                  "trustworthy (pass a ceremony SRS for real use)")

        tampered = proved.output.copy()
        tampered[0, 0, 0] ^= 1
        try:
            verify_tile(proved.proof, job, input_commitment=camera_commitment, output=tampered, store=store)
            print("ERROR: a tampered output verified", file=sys.stderr)
            return 1
        except Error as e:
            print(f"one flipped bit in the output is rejected: {type(e).__name__}")
        return 0
    except (ProvingError, CircuitError) as e:
        print(f"zkimg demo failed: {e}", file=sys.stderr)
        return 4
    except Error as e:
        print(f"zkimg demo failed: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())

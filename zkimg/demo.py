"""The whole flow on a bundled real photo, in about a minute on 2 cores (first run, keys
included; about half that once the keys are cached).

A camera key is made; the camera commits to every tile of the photo and signs the root
(capture); an editor proves crop → bilinear resize → Gaussian blur → contrast over the hidden
original (prove); the bundle and the published image are saved, loaded back and verified
against the camera's public key (verify); then one bit of the published image is flipped and
verification refuses it. Run ``zkimg demo`` or ``python -m zkimg.demo`` (``--help`` for
options). Keys are cached under ``$ZKIMG_CACHE`` or ``~/.cache/zkimg``; the SRS is a local
development one, which is why the verifier is told to accept it (never do that for real use).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from importlib import resources
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np

from ._fileio import check_output
from .attest import prove
from .bundle import Attestation
from .camera import Camera
from .costs import estimate
from .errors import CircuitError, Error, ProvingError, VerificationError
from .hazmat.circuits import CircuitStore, DevelopmentSRSWarning
from .images import read_image, write_image
from .pipeline import Pipeline
from .policy import TrustedCameras
from .transforms import Contrast, Crop, GaussianBlur, Resize
from .verification import verify

BUNDLED_PHOTO = "astronaut_128.png"  # NASA portrait of Eileen Collins (public domain), via scikit-image
#: The crop of the bundled photo the demo publishes: the face, (left, top, side) in pixels.
FACE = (40, 16, 48)
#: The files the demo writes into its folder.
FILES = ("camera.pem", "camera.pub.pem", "photo.capture.json", "edit.zkimg", "edit.png", "tampered.png")


def load_photo(path: Optional[Path] = None) -> np.ndarray:
    """Read an RGB photo as a uint8 H×W×3 array (the bundled one by default)."""
    from PIL import Image

    if path is None:
        with resources.files("zkimg").joinpath("data").joinpath(BUNDLED_PHOTO).open("rb") as f:
            return np.asarray(Image.open(f).convert("RGB"))
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def demo_pipeline(box: Tuple[int, int, int]) -> Pipeline:
    """Crop the square ``box`` = (left, top, side), halve it (bilinear), blur, raise contrast."""
    left, top, side = box
    return Pipeline([
        Crop(left=left, top=top, width=side, height=side),
        Resize(width=side // 2, height=side // 2, mode="bilinear"),
        GaussianBlur(3),
        Contrast(1.25),
    ])


def crop_box(photo: np.ndarray, given: Optional[Path]) -> Tuple[int, int, int]:
    """The face on the bundled photo; a centred square (at most 48 px, even) on another."""
    if given is None:
        return FACE
    h, w = photo.shape[:2]
    side = min(48, min(h, w) // 2) // 2 * 2
    return (w - side) // 2, (h - side) // 2, side


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The demo's options (shared by ``python -m zkimg.demo`` and ``zkimg demo``)."""
    ap.add_argument("--photo", type=Path, default=None, help="an image file (default: the bundled photo)")
    ap.add_argument("--tile", type=int, default=16, help="tile side in pixels (default 16)")
    ap.add_argument("--out", type=Path, default=None,
                    help="keep the key, capture record, bundle and images in this folder (default: a temporary one)")
    ap.add_argument("--cache", type=Path, default=None, help="circuit/key cache directory")
    ap.set_defaults(run=run, parser=ap)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m zkimg.demo", description=__doc__.splitlines()[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


def run(a: argparse.Namespace) -> int:
    """Run the demo with parsed options. Exit status as the CLI's: 0 success, 1 the genuine
    bundle was refused or the tampered image verified (never expected), 3 bad input, 4
    proving failed."""
    warnings.simplefilter("ignore", DevelopmentSRSWarning)  # said once, plainly, below
    if a.out is not None:
        try:
            a.out.mkdir(parents=True, exist_ok=True)
            for name in FILES:  # never over a file of the user's (their camera key, say)
                check_output(a.out / name, "--out")
        except (Error, OSError) as e:
            print(f"zkimg demo: {e}", file=sys.stderr)
            return 3
        return _run(a, a.out)
    with tempfile.TemporaryDirectory(prefix="zkimg-demo-") as tmp:
        return _run(a, Path(tmp))


def _say(step: str, text: str) -> None:
    print(f"{step:<9} {text}", flush=True)


def _run(a: argparse.Namespace, folder: Path) -> int:
    try:
        photo = load_photo(a.photo)
        if not 4 <= a.tile <= 64:
            a.parser.error("--tile must be between 4 and 64")
        box = crop_box(photo, a.photo)
        pipe = demo_pipeline(box)
        store = CircuitStore(a.cache)
        started = time.perf_counter()

        camera = Camera.generate()
        camera.save(folder / "camera.pem")
        (folder / "camera.pub.pem").write_text(camera.public_key.pem())
        _say("keygen", f"camera key {camera.public_key.key_id[:16]}… (Ed25519) in {folder}/camera.pem; "
                       "its public key in camera.pub.pem")

        t = time.perf_counter()
        capture = camera.capture(photo, a.tile)
        capture.signed.save(folder / "photo.capture.json")
        lay = capture.signed.layout
        _say("capture", f"the camera committed to all {lay.cell_count} cells of the {lay.width}×{lay.height} photo "
                        f"(salted, {lay.tile} px tiles) and signed the root ({time.perf_counter() - t:.1f} s); "
                        "the pixels stay with their owner")

        left, top, side = box
        _say("edit", " → ".join(t.describe() for t in pipe) + f" (the {side}×{side} square at ({left}, {top}))")
        guess = estimate(capture, pipe, store=store)
        _say("estimate", f"{guess.jobs} tile proofs over {len(guess.circuits)} circuits, "
                         f"~{guess.total_s:.0f} s with setup")
        t = time.perf_counter()
        att = prove(capture, pipe, store=store)
        att.save(folder / "edit.zkimg")
        published = pipe.apply(photo)
        write_image(folder / "edit.png", published)
        _say("prove", f"{len(att.proofs)} tile proofs in {time.perf_counter() - t:.1f} s; bundle edit.zkimg "
                      f"({(folder / 'edit.zkimg').stat().st_size:,} bytes) and the published edit.png")

        t = time.perf_counter()
        loaded = Attestation.load(folder / "edit.zkimg")
        image = read_image(folder / "edit.png")
        policy = TrustedCameras([camera.public_key], allow_development_srs=True)  # a demo SRS: never in real use
        try:
            result = verify(loaded, image, policy, store=store)
        except VerificationError as e:
            print(f"ERROR: the genuine bundle was refused: {e.check} check: {e}", file=sys.stderr)
            return 1
        oh, ow, oc = result.output_size
        _say("verify", f"VERIFIED from the files alone ({time.perf_counter() - t:.1f} s): edit.png ({ow}×{oh}) is "
                       f"that edit of a photo signed by camera {result.camera_key_id[:16]}…; the original's pixels "
                       "were never shown (a demo shares the prover's key cache; a real verifier keeps its own)")

        tampered = image.copy()
        tampered[oh // 2, ow // 2, 0] ^= 1
        write_image(folder / "tampered.png", tampered)
        try:
            verify(loaded, read_image(folder / "tampered.png"), policy, store=store)
            print("ERROR: a tampered image verified", file=sys.stderr)
            return 1
        except VerificationError as e:
            _say("tamper", f"one bit flipped in tampered.png is refused: {type(e).__name__} ({e.check} check): {e}")
        kept = "" if a.out is not None else " (the files were in a temporary folder: --out DIR keeps them)"
        _say("done", f"in {time.perf_counter() - started:.0f} s{kept}. WARNING: this used a development SRS made on "
                     "this machine, so these proofs are not trustworthy; real use needs a ceremony SRS (--srs)")
        return 0
    except (ProvingError, CircuitError) as e:
        print(f"zkimg demo failed: {e}", file=sys.stderr)
        return 4
    except (Error, OSError) as e:
        print(f"zkimg demo failed: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())

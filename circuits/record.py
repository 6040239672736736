"""Regenerate (or check) circuits/record.json, the reviewed record of zkimg's built-in circuits.

    python circuits/record.py          # rewrite the record after a deliberate change
    python circuits/record.py --check  # exit 1 if the code no longer produces the record
    python circuits/record.py --pin-srs DIR [--srs-digest K=SHA256 ...]
                                       # pin the verifying keys of the built-in jobs under
                                       # the ceremony SRS files in DIR (zkimg/data/vk_pins.json)

For each built-in tile job the record holds the job digest, the SHA-256 of the circuit's
ONNX graph, the content address of the compiled circuit (ONNX + ezkl version + run args),
and its size. A change to the lowering or to the run arguments shows up here as a diff to
review. Verifying-key digests depend on the SRS: they are pinned per SRS digest in
zkimg/data/vk_pins.json (shipped with the package, checked by every CircuitStore), only for
SRS files that are the public ceremony's or pinned by digest (a development SRS is random).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import zkimg  # noqa: E402
from zkimg.hazmat.circuits import EZKL_VERSION, RUN_ARGS, SRS, CircuitStore, sha256_file  # noqa: E402
from zkimg.hazmat.lowering import lower_circuit  # noqa: E402
from zkimg.transforms import all_examples  # noqa: E402

RECORD = HERE / "record.json"
PINS = HERE.parent / "zkimg" / "data" / "vk_pins.json"


def pin_vks(srs_dir: str, pinned: dict) -> int:
    """Set up every built-in job under the SRS files in ``srs_dir`` and pin its verifying key."""
    srs = SRS.from_directory(srs_dir, pinned)
    pins = json.loads(PINS.read_text())
    with tempfile.TemporaryDirectory(prefix="zkimg-pins-") as cache:
        store = CircuitStore(cache, srs, vk_pins={})
        for name, job in builtin_jobs():
            c = store.circuit(job)
            if srs.trust(c.logrows) not in ("ceremony", "pinned"):
                print(f"refusing to pin under {srs.path(c.logrows)}: not the ceremony file and not pinned")
                return 1
            keys = store.keys(c, proving=False)
            pins["pins"].setdefault(keys.srs_digest, {})[c.digest] = sha256_file(keys.vk_path)
            print(f"{name}: vk pinned for SRS {keys.srs_digest[:16]}")
    PINS.write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n")
    return 0


#: The jobs reviewed since the record began, under their original names (kept so the record
#: shows that their circuits never changed).
REVIEWED = {"crop-16": zkimg.Crop(1, 1, 14, 14), "resize-16": zkimg.Resize(8, 8, "nearest"),
            "box_blur-16": zkimg.BoxBlur(3), "gaussian_blur-16": zkimg.GaussianBlur(5),
            "grayscale-16": zkimg.Grayscale(), "brightness-16": zkimg.Brightness(1.2),
            "contrast-16": zkimg.Contrast(1.3), "white_balance-16": zkimg.WhiteBalance((1.1, 1.0, 0.9)),
            "flip-16": zkimg.Flip(), "rotate90-16": zkimg.Rotate90(1)}


#: The first demo's one-tile job (crop → bilinear resize → Gaussian blur → contrast), reviewed first.
DEMO_16 = zkimg.Pipeline([zkimg.Crop(1, 1, 14, 14), zkimg.Resize(8, 8, "bilinear"), zkimg.GaussianBlur(3),
                          zkimg.Contrast(1.25)])


def builtin_jobs():
    """The demo, the reviewed jobs, then every registered transform's examples not among them
    (one 16 px tile each), and one hidden-output job."""
    yield "demo-16", zkimg.hazmat.TileJob(DEMO_16, (16, 16, 3))
    for name, t in REVIEWED.items():
        yield name, zkimg.hazmat.TileJob(zkimg.Pipeline([t]), (16, 16, 3))
    for t in all_examples():
        if t not in REVIEWED.values():
            yield f"{t.describe()}-16", zkimg.hazmat.TileJob(zkimg.Pipeline([t]), (16, 16, 3))
    yield "gaussian_blur-16-hidden", zkimg.hazmat.TileJob(zkimg.Pipeline([zkimg.GaussianBlur(3)]), (16, 16, 3), True)


def build_record() -> dict:
    with tempfile.TemporaryDirectory(prefix="zkimg-record-") as cache:
        return _build_record(CircuitStore(cache))


def _build_record(store: CircuitStore) -> dict:
    circuits = {}
    for name, job in builtin_jobs():
        c = store.circuit(job)
        circuits[name] = {
            "job": job.to_json(),
            "job_digest": job.digest,
            "onnx_sha256": lower_circuit(job.spec()).digest,
            "circuit_digest": c.digest,
            "logrows": c.logrows,
            "num_rows": c.num_rows,
        }
    return {"ezkl_version": EZKL_VERSION, "run_args": RUN_ARGS, "circuits": circuits}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--pin-srs", metavar="DIR", help="pin verifying keys under the ceremony SRS files in DIR")
    ap.add_argument("--srs-digest", metavar="K=SHA256", action="append", default=[],
                    help="accept the DIR file for logrows K by this SHA-256 (else only the ceremony's)")
    a = ap.parse_args()
    if a.pin_srs:
        return pin_vks(a.pin_srs, {int(k): v for k, v in (p.split("=", 1) for p in a.srs_digest)})
    record = build_record()
    text = json.dumps(record, indent=1, sort_keys=True) + "\n"
    if a.check:
        if not RECORD.exists() or RECORD.read_text() != text:
            print("circuits/record.json is out of date: review the change and run circuits/record.py")
            return 1
        print(f"circuits/record.json matches ({len(record['circuits'])} circuits)")
        return 0
    RECORD.write_text(text)
    print(f"wrote {RECORD} ({len(record['circuits'])} circuits)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

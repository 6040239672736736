"""Regenerate (or check) circuits/record.json, the reviewed record of zkimg's built-in circuits.

    python circuits/record.py          # rewrite the record after a deliberate change
    python circuits/record.py --check  # exit 1 if the code no longer produces the record

For each built-in tile job the record holds the job digest, the SHA-256 of the circuit's
ONNX graph, the content address of the compiled circuit (ONNX + ezkl version + run args),
and its size. A change to the lowering or to the run arguments shows up here as a diff to
review. Verifying-key digests depend on the SRS and are recorded per ceremony SRS, not here
(the development SRS is random).
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
from zkimg.circuits import EZKL_VERSION, RUN_ARGS, CircuitStore  # noqa: E402
from zkimg.demo import demo_pipeline  # noqa: E402
from zkimg.lowering import lower_circuit  # noqa: E402

RECORD = HERE / "record.json"


def builtin_jobs():
    yield "demo-16", zkimg.TileJob(demo_pipeline(16), (16, 16, 3))
    singles = [zkimg.Crop(1, 1, 14, 14), zkimg.Resize(8, 8), zkimg.Resize(8, 8, "nearest"), zkimg.BoxBlur(3),
               zkimg.GaussianBlur(5), zkimg.Grayscale(), zkimg.Brightness(1.2), zkimg.Contrast(1.3),
               zkimg.WhiteBalance((1.1, 1.0, 0.9)), zkimg.Flip(), zkimg.Rotate90(1)]
    for t in singles:
        yield f"{t.op}-16", zkimg.TileJob(zkimg.Pipeline([t]), (16, 16, 3))
    yield "gaussian_blur-16-hidden", zkimg.TileJob(zkimg.Pipeline([zkimg.GaussianBlur(3)]), (16, 16, 3), True)


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
    a = ap.parse_args()
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

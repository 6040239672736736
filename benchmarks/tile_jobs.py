"""Per-transform cost of one tile job: circuit size, setup/prove/verify time, proof size, RSS.

Usage:  python benchmarks/tile_jobs.py [--sizes 16 32] [--only crop gaussian_blur ...]
        [--no-baseline] [--markdown out.md]

``hashed_per_input`` counts Poseidon field elements hashed per input pixel value.
Each job runs in a fresh process (so peak RSS is that job's) with a fresh circuit cache;
the development SRS is shared (generated once per logrows, not timed). ``setup s`` is
ONNX lowering + ezkl settings/compile + key generation; ``prove s`` includes the
witness. The baseline row is the straightforward ezkl way of committing the same tile:
``hashed`` input visibility (one Poseidon element per pixel value, unpacked), ezkl's
default run arguments otherwise (its own input/output range checks included), and a crop
as the transform.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import zkimg  # noqa: E402
from zkimg.hazmat.circuits import SRS, CircuitStore, min_logrows  # noqa: E402
from zkimg.transforms import REGISTRY  # noqa: E402


def transforms(s: int):
    """Every registered transform's benchmark examples for an ``s × s`` tile, by name."""
    out = {}
    for cls in REGISTRY.values():
        for t in cls.benchmark_examples(s):
            name = t.op if t.op != "resize" else f"resize_{t.mode}"
            out[name if name not in out else t.describe()] = t
    return out


def _tile(s: int) -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[100:100 + s, 180:180 + s])


def _zkimg_job(name: str, s: int, srs_dir: str, q) -> None:
    with tempfile.TemporaryDirectory(prefix="zkimg-bench-") as cache:  # keys are large: never left behind
        _zkimg_job_in(name, s, CircuitStore(cache, SRS(Path(srs_dir), development=True)), q)


def _zkimg_job_in(name: str, s: int, store: CircuitStore, q) -> None:
    job = zkimg.hazmat.TileJob(zkimg.Pipeline([transforms(s)[name]]), (s, s, 3))
    tile = _tile(s)
    circuit = store.circuit(job)
    store.srs.path(circuit.logrows)  # SRS generation is not part of setup
    t0 = time.perf_counter()
    store.keys(store.circuit(job))
    t1 = time.perf_counter()
    proved = zkimg.hazmat.prove_tile(job, tile, store=store)
    t2 = time.perf_counter()
    zkimg.hazmat.verify_tile(proved.proof, job, input_commitment=proved.proof.input_commitment,
                      output=proved.output, store=store)
    t3 = time.perf_counter()
    q.put({
        "job": name, "size": s, "logrows": circuit.logrows, "rows": circuit.num_rows,
        "rows_per_out": circuit.num_rows / int(np.prod(job.output_shape)),
        "hashed_per_input": circuit.hashed_felts / (s * s * 3),
        "setup_s": t1 - t0, "prove_s": t2 - t1, "verify_s": t3 - t2,
        "proof_bytes": len(proved.proof.proof),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    })


def baseline_job(s: int, srs_dir: str, q) -> None:
    """Naive ezkl: hashed (unpacked) input, default range checks, public output, crop."""
    with tempfile.TemporaryDirectory(prefix="zkimg-baseline-") as tmp:
        _baseline_in(s, srs_dir, Path(tmp), q)


def baseline_settings(s: int, d: Path) -> dict:
    """Write the naive baseline's graph (an ``s`` px crop of an RGB tile, ``n.onnx``) and its
    ezkl settings (``s.json``: ezkl's defaults, but integer pixels and the input hashed,
    unpacked) into ``d``; returns the settings, logrows set to the smallest that fits."""
    import ezkl
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rows = numpy_helper.from_array(np.arange(1, s - 1, dtype=np.int64), "rows")
    cols = numpy_helper.from_array(np.arange(1, s - 1, dtype=np.int64), "cols")
    g = helper.make_graph(
        [helper.make_node("Gather", ["x", "rows"], ["r"], axis=0), helper.make_node("Gather", ["r", "cols"], ["y"], axis=1)],
        "baseline", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [s, s, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [s - 2, s - 2, 3])], initializer=[rows, cols])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, d / "n.onnx")
    ra = ezkl.PyRunArgs()
    ra.input_scale, ra.param_scale, ra.param_visibility = 0, 0, "fixed"
    ra.input_visibility, ra.output_visibility = "hashed", "public"
    ezkl.gen_settings(str(d / "n.onnx"), str(d / "s.json"), py_run_args=ra)
    st = json.loads((d / "s.json").read_text())
    st["run_args"]["logrows"] = min_logrows(st)
    (d / "s.json").write_text(json.dumps(st))
    return st


def _baseline_in(s: int, srs_dir: str, d: Path, q) -> None:
    import ezkl

    st = baseline_settings(s, d)
    k = st["run_args"]["logrows"]
    ezkl.compile_circuit(str(d / "n.onnx"), str(d / "n.ezkl"), str(d / "s.json"))
    srs = SRS(Path(srs_dir), development=True).path(k)
    t0 = time.perf_counter()
    ezkl.setup(str(d / "n.ezkl"), str(d / "vk"), str(d / "pk"), srs_path=str(srs))
    t1 = time.perf_counter()
    (d / "i.json").write_text(json.dumps({"input_data": [_tile(s).ravel().tolist()]}))
    ezkl.gen_witness(str(d / "i.json"), str(d / "n.ezkl"), str(d / "w.json"))
    ezkl.prove(str(d / "w.json"), str(d / "n.ezkl"), str(d / "pk"), str(d / "p.json"), srs_path=str(srs))
    t2 = time.perf_counter()
    ezkl.verify(str(d / "p.json"), str(d / "s.json"), str(d / "vk"), srs_path=str(srs))
    t3 = time.perf_counter()
    q.put({
        "job": "baseline: crop, unpacked hashed input", "size": s, "logrows": k, "rows": st["num_rows"],
        "rows_per_out": st["num_rows"] / ((s - 2) * (s - 2) * 3),
        "hashed_per_input": 1.0, "setup_s": t1 - t0, "prove_s": t2 - t1, "verify_s": t3 - t2,
        "proof_bytes": len(json.loads((d / "p.json").read_text())["hex_proof"]) // 2 - 1,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    })


def run_isolated(target, *args):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    p.join()
    if p.exitcode != 0:
        raise RuntimeError(f"benchmark job {args} failed with exit code {p.exitcode}")
    return q.get(timeout=10)


COLUMNS = [("job", "{}"), ("size", "{}"), ("logrows", "{}"), ("rows", "{:,}"), ("rows_per_out", "{:.1f}"), ("hashed_per_input", "{:.3f}"),
           ("setup_s", "{:.1f}"), ("prove_s", "{:.1f}"), ("verify_s", "{:.2f}"), ("proof_bytes", "{:,}"),
           ("rss_mb", "{:,.0f}")]


def table(results) -> str:
    head = "| " + " | ".join(c for c, _ in COLUMNS) + " |"
    sep = "|" + "|".join("---" for _ in COLUMNS) + "|"
    rows = ["| " + " | ".join(f.format(r[c]) for c, f in COLUMNS) + " |" for r in results]
    return "\n".join([head, sep, *rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32])
    ap.add_argument("--only", nargs="+", default=None)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--srs-dir", default=str(Path(tempfile.gettempdir()) / "zkimg-bench-srs"))
    ap.add_argument("--markdown", default=None, help="also write the table to this file")
    a = ap.parse_args()
    results = []
    for s in a.sizes:
        if not a.no_baseline:
            results.append(run_isolated(baseline_job, s, a.srs_dir))
            print(table(results[-1:]).splitlines()[-1], flush=True)
        for name in transforms(s):
            if a.only and name not in a.only:
                continue
            results.append(run_isolated(_zkimg_job, name, s, a.srs_dir))
            print(table(results[-1:]).splitlines()[-1], flush=True)
    emit("", table(results), a.markdown)


def emit(context: str, table_text: str, markdown: "str | None") -> None:
    """Print ``table_text`` under a machine header (plus ``context``); also write it to ``markdown``."""
    header = (f"ezkl {zkimg.hazmat.circuits.EZKL_VERSION}, {platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}{context}")
    out = f"{header}\n\n{table_text}\n"
    print("\n" + out)
    if markdown:
        Path(markdown).write_text(out)


if __name__ == "__main__":
    main()

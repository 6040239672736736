"""Where one HD tile job's rows go, and what one such job costs to set up and prove.

Usage:
    python benchmarks/job_rows.py --workload resize --tile 32          # rows per ONNX op
    python benchmarks/job_rows.py --workload resize --tile 32 64 --prove
    python benchmarks/job_rows.py --tile 32 --run-arg num_inner_cols=4 --prove

For each capture tile size, takes the most common tile job of the workload's plan over a
1280×720 frame (see ``hd.py`` for the workloads) and reports the circuit's rows, logrows
and Poseidon rows from ``ezkl.gen_settings``, with the rows of every ONNX op kind read from
ezkl's layout log (exact; nothing is proved). With ``--prove`` it also runs setup and one
proof of that job on random bytes in a fresh process (ezkl on all cores) and reports
seconds, µs per input value, proof bytes, peak RSS and the whole frame's proving time if
every job cost the same (``jobs × prove s``, one job at a time), and the wall and CPU time
of one ``verify`` call on that proof (ezkl reloads key and SRS per call, so CPU time × jobs
/ cores is a lower bound on verifying the whole frame).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import re
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from zkimg.hazmat import SALT_BYTES, circuits  # noqa: E402
from zkimg.hazmat.lowering import lower_circuit  # noqa: E402
from zkimg.hazmat.plan import Plan  # noqa: E402
from zkimg.hazmat.tiles import TileLayout  # noqa: E402


def common_job(workload: str, tile: int):
    from hd import WORKLOADS

    layout = TileLayout(1280, 720, 3, tile, min(2, tile // 4))
    plan = Plan(WORKLOADS[workload](1280, 720), layout)
    spec, count = Counter(j.spec for j in plan.jobs).most_common(1)[0]
    return plan, spec, count


class _LayoutLog(logging.Handler):
    """Rows added by each node, from ezkl's layout log: "laying out N: OP" is followed by the
    region's row count *before* N, so a count's increase belongs to the node before."""

    def __init__(self) -> None:
        super().__init__(level=1)
        self.node = self.previous = None
        self.rows, self.by_op = 0, defaultdict(int)

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if msg.startswith("laying out "):
            self.node = re.sub(r" \(.*", "", msg.split(": ", 1)[1])
        m = re.match(r"\(rows=(\d+),", msg)
        if m:
            rows = int(m.group(1))
            if self.previous is not None:
                self.by_op[self.previous] += rows - self.rows
            self.rows, self.previous = rows, self.node


def settings(spec, run_args) -> tuple:
    """(gen_settings output, rows per ONNX op kind) for ``spec`` under ``run_args``."""
    import ezkl

    handler = _LayoutLog()
    log = logging.getLogger("ezkl")
    old = log.level
    log.addHandler(handler)
    log.setLevel(1)
    try:
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "n.onnx").write_bytes(lower_circuit(spec).model)
            ra = ezkl.PyRunArgs()
            for k, v in run_args.items():
                setattr(ra, k, v)
            ezkl.gen_settings(str(Path(d) / "n.onnx"), str(Path(d) / "s.json"), py_run_args=ra)
            s = json.loads((Path(d) / "s.json").read_text())
    finally:
        log.removeHandler(handler)
        log.setLevel(old)
    return s, dict(handler.by_op)


VERIFY_REPEATS = 5


def _prove(workload: str, tile: int, run_args: dict, srs_dir: str, out) -> None:
    import numpy as np

    from zkimg.hazmat import commit_many, hash_public
    from zkimg.hazmat.primitives import run_all
    from zkimg.hazmat.proving import prove_spec
    from zkimg.hazmat.verifying import check_proof

    circuits.BASE_RUN_ARGS.update(run_args)  # every scheme's circuits start from these
    plan, spec, _ = common_job(workload, tile)
    srs = circuits.SRS(Path(srs_dir), development=True)
    with tempfile.TemporaryDirectory(prefix="zkimg-job-rows-") as d:
        store = circuits.CircuitStore(d, srs)
        c = store.circuit(spec)
        srs.path(c.logrows)  # SRS generation is not timed
        t = time.perf_counter()
        store.keys(c)
        setup = time.perf_counter() - t
        rng = np.random.default_rng(1)
        parts = [rng.integers(0, 256, n, dtype=np.uint8) for n in spec.part_sizes]
        salts = [bytes(SALT_BYTES)] * len(parts)
        t = time.perf_counter()
        proof = prove_spec(store, spec, parts, salts)
        prove = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        # One verifier call (ezkl reloads key and SRS each time), wall and CPU of this process.
        output = run_all(spec.primitives, spec.assemble(parts).astype(np.int64)).astype(np.uint8)
        instances = commit_many(parts, salts) + [hash_public(output)]
        keys = store.keys(c, proving=False)
        t, cpu = time.perf_counter(), time.process_time()
        for _ in range(VERIFY_REPEATS):
            check_proof(c, keys, proof, instances)
        verify = (time.perf_counter() - t) / VERIFY_REPEATS
        verify_cpu = (time.process_time() - cpu) / VERIFY_REPEATS
    out.put({"setup_s": setup, "prove_s": prove, "proof_bytes": len(proof), "rss": rss,
             "verify_s": verify, "verify_cpu_s": verify_cpu})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=["example", "resize"], default="resize")
    ap.add_argument("--tile", type=int, nargs="+", default=[32])
    ap.add_argument("--run-arg", action="append", default=[], metavar="KEY=INT",
                    help="override one of zkimg's ezkl run arguments (experiments only)")
    ap.add_argument("--prove", action="store_true")
    ap.add_argument("--srs-dir", default=str(Path(tempfile.gettempdir()) / "zkimg-bench-srs"))
    ap.add_argument("--markdown", default=None)
    a = ap.parse_args()
    over = {k: int(v) for k, v in (kv.split("=", 1) for kv in a.run_arg)}
    run_args = {**circuits.RUN_ARGS, **over}
    ctx = mp.get_context("spawn")
    out = ["| tile | jobs (this shape) | inputs | rows | logrows | Poseidon rows | rows by op | setup s | prove s "
           "| µs / input | proof bytes | peak RSS GB | frame s (jobs × prove) | verify ms (CPU ms) "
           "| frame verify CPU s |", "|---" * 15 + "|"]
    for tile in a.tile:
        plan, spec, count = common_job(a.workload, tile)
        s, by_op = settings(spec, run_args)
        logrows = circuits.min_logrows(s)
        ops = ", ".join(f"{op.lower()} {n:,}" for op, n in sorted(by_op.items(), key=lambda kv: -kv[1]) if n)
        inputs = sum(spec.part_sizes)
        cells = [str(tile), f"{len(plan.jobs)} ({count})", f"{inputs:,}", f"{s['num_rows']:,}", str(logrows),
                 f"{s['module_sizes']['poseidon'][0]:,}", ops]
        if a.prove:
            q = ctx.Queue()
            p = ctx.Process(target=_prove, args=(a.workload, tile, over, a.srs_dir, q))
            p.start()
            r = q.get()
            p.join()
            cells += [f"{r['setup_s']:.1f}", f"{r['prove_s']:.1f}", f"{1e6 * r['prove_s'] / inputs:,.0f}",
                      f"{r['proof_bytes']:,}", f"{r['rss'] / 2**30:.2f}", f"{r['prove_s'] * len(plan.jobs):,.0f}",
                      f"{1e3 * r['verify_s']:.0f} ({1e3 * r['verify_cpu_s']:.0f})",
                      f"{r['verify_cpu_s'] * len(plan.jobs):.1f}"]
        else:
            cells += ["–"] * 8
        out.append("| " + " | ".join(cells) + " |")
    from tile_jobs import emit

    extra = f", run args {over}" if over else ""
    emit(f"; workload {a.workload} on 1280×720{extra}; command: python benchmarks/job_rows.py "
         + " ".join(sys.argv[1:]), "\n".join(out), a.markdown)


if __name__ == "__main__":
    main()

"""What refusing a hostile bundle costs the verifier: CPU seconds and peak memory per attack.

    python benchmarks/hostile.py            # every attack, default Limits
    python benchmarks/hostile.py --setup    # also the worst admissible circuit (a compile and a
                                            # setup near max_logrows: minutes, GBs)

Each row keeps a genuine, public signed capture (a 64×64 photo crop, 16 px tiles) and
declares something hostile; the bundle's proofs are garbage. Figures are for this process
(``time.process_time``; tracemalloc's peak of Python allocations, in a second call) except
the setup rows, which ezkl runs on every core (peak RSS of the process instead).
tests/README.md records a run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import resource
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import zkimg
from zkimg.bundle import Attestation, Segment
from zkimg.hazmat.circuits import CircuitStore


class NoBuild(CircuitStore):
    """Stops where circuit building would start (the row measures planning, not a setup)."""

    def circuit(self, job: object) -> "zkimg.hazmat.circuits.Circuit":
        raise zkimg.CircuitError("reached circuit building (stopped here)")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def declare(att: Attestation, pipeline: zkimg.Pipeline, proofs: int, *, max_out: int = 64,
            hidden: bool = True) -> Attestation:
    lay = att.capture.layout
    shape = pipeline.output_shape((lay.height, lay.width, lay.channels))
    seg = Segment(len(pipeline), (b"\x00" * 7,) * proofs, (1,) * proofs if hidden else None)
    return dataclasses.replace(att, pipeline=pipeline, max_out=max_out, output_shape=shape, segments=(seg,))


def _verify(att: Attestation, camera: zkimg.Camera, store: CircuitStore, published: "np.ndarray | None") -> str:
    try:
        zkimg.verify(att, published, policy=zkimg.TrustedCameras([camera.public_key], allow_development_srs=True), store=store)
        return "VERIFIED (!)"
    except zkimg.Error as e:
        return f"{type(e).__name__}: {str(e)[:70]}"


def attempt(name: str, att: Attestation, camera: zkimg.Camera, store: CircuitStore,
            published: "np.ndarray | None" = None, traced: bool = True) -> None:
    """One row: CPU and wall of a verify() call, then (a second call, unless ``traced`` is
    off) the peak of Python's own allocations under tracemalloc, which slows it down."""
    t, w = time.process_time(), time.perf_counter()
    outcome = _verify(att, camera, store, published)
    cpu, wall = time.process_time() - t, time.perf_counter() - w
    peak = "–"
    if traced:
        tracemalloc.start()
        _verify(att, camera, store, published)
        peak = f"{tracemalloc.get_traced_memory()[1] / 2**20:.1f}"
        tracemalloc.stop()
    print(f"| {name} | {cpu:.2f} | {wall:.2f} | {peak} | {outcome} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--setup", action="store_true", help="also compile and key the worst admissible circuit")
    ap.add_argument("--record", action="store_true",
                    help="make this table the current figures (benchmarks/current.json, RESULTS.md)")
    a = ap.parse_args()
    printed = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, printed)):
        _attacks(a)
    if a.record:
        import current

        current.record("hostile", "What refusing a hostile bundle costs the verifier",
                       "python benchmarks/hostile.py " + " ".join(sys.argv[1:]), printed.getvalue(),
                       "Default `zkimg.Limits`; a genuine signed 64×64 capture with something hostile declared and "
                       "garbage proofs.")


class _Tee(io.TextIOBase):
    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)


def _attacks(a: argparse.Namespace) -> None:
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut()[100:164, 180:244])
    camera = zkimg.Camera.generate()
    with tempfile.TemporaryDirectory(prefix="zkimg-hostile-") as cache:
        store = CircuitStore(cache)
        shot = camera.capture(photo, tile=16, border=2)
        att = zkimg.prove(shot, zkimg.Pipeline([zkimg.Flip()]), store=store, executor=ThreadPoolExecutor(1))
        print("| attack (genuine signed capture, garbage proofs) | CPU s | wall s | Python peak MB | refused with |")
        print("|---|---|---|---|---|")
        attempt("Resize to 1024², hidden, max_out 1: 1,048,576 jobs, 1 proof",
                declare(att, zkimg.Pipeline([zkimg.Resize(1024, 1024)]), 1, max_out=1), camera, store)
        attempt("Resize to 65536², max_out 1, 1 proof",
                declare(att, zkimg.Pipeline([zkimg.Resize(65536, 65536)]), 1, max_out=1), camera, store)
        attempt("Resize to 4096², max_out 4096: 16 jobs of 3 M values",
                declare(att, zkimg.Pipeline([zkimg.Resize(4096, 4096)]), 16, max_out=4096), camera, store)
        attempt("64 × GaussianBlur(15)", declare(att, zkimg.Pipeline([zkimg.GaussianBlur(15)] * 64), 16),
                camera, store)
        worst = zkimg.Pipeline([zkimg.Resize(4096, 4096)] + [zkimg.GaussianBlur(5)] * 3)
        n = zkimg.hazmat.Plan(worst, shot.signed.layout, hidden_output=True).job_count
        attempt(f"Resize 4096² + 3 × GaussianBlur(5): just under max_plan_work, {n:,} proofs",
                declare(att, worst, n), camera, NoBuild(Path(cache) / "nobuild", store.srs))
        lay = zkimg.hazmat.TileLayout(1024, 1024, 3, 4, 1)
        forged = dataclasses.replace(att.capture, layout=lay, cell_commitments=tuple(range(lay.cell_count)))
        attempt(f"forged capture, {lay.cell_count:,} cells", dataclasses.replace(att, capture=forged), camera, store)
        fresh = CircuitStore(Path(cache) / "fresh", store.srs)
        pipe = zkimg.Pipeline([zkimg.GaussianBlur(3)])
        plan = zkimg.hazmat.Plan(pipe, shot.signed.layout)
        lr = store.circuit(plan.jobs[0].spec).logrows
        store.srs.path(lr)  # the development SRS is made before the clock starts
        garbage = dataclasses.replace(declare(att, pipe, plan.job_count, hidden=False),
                                      srs_digests={lr: store.srs.digest(lr)})
        before = rss_mb()
        attempt(f"{plan.job_count} garbage proofs, {plan.distinct_circuits} circuits (cold cache: one compile "
                "and setup)", garbage, camera, fresh, pipe.apply(photo), traced=False)
        print(f"|   (its peak RSS: {rss_mb():.0f} MB, {before:.0f} MB before) | | | | |")
        # A job within max_job_values whose circuit is over max_logrows: refused after the compile.
        over = camera.capture(np.ascontiguousarray(data.astronaut()[:256, :256]), tile=128, border=2)
        over_pipe = zkimg.Pipeline([zkimg.Resize(128, 128)])
        n = zkimg.hazmat.Plan(over_pipe, over.signed.layout, hidden_output=True).job_count
        over_att = dataclasses.replace(declare(att, over_pipe, n), capture=over.signed)
        attempt("a 61,440-value job (2× downscale of a 128 px tile): compiled, over max_logrows", over_att, camera,
                CircuitStore(Path(cache) / "over", store.srs), traced=False)
        if a.setup:  # a 2× downscale job reading an 88×88 tile: just under 2^17 rows (the default max_logrows)
            wide = camera.capture(np.ascontiguousarray(data.astronaut()[:176, :176]), tile=88, border=2)
            big = zkimg.Pipeline([zkimg.Resize(88, 88)])
            cold = CircuitStore(Path(cache) / "cold", store.srs)
            plan = zkimg.hazmat.Plan(big, wide.signed.layout, hidden_output=True)
            assert plan.max_job_values <= zkimg.Limits().max_job_values
            job = plan.jobs[0]
            store.srs.path(CircuitStore(Path(cache) / "probe", store.srs).circuit(job.spec).logrows)
            t, w = time.process_time(), time.perf_counter()
            c = cold.circuit(job.spec)
            cold.keys(c, proving=False)
            print(f"| worst admissible circuit (2^{c.logrows}, {c.num_rows:,} rows): compile + setup | "
                  f"{time.process_time() - t:.1f} (this process) | {time.perf_counter() - w:.1f} | "
                  f"{rss_mb():.0f} (peak) | – |")


if __name__ == "__main__":
    main()

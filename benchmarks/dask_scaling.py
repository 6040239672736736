"""Scale-out benchmark: the same ``zkimg.prove()`` on a Dask LocalCluster of N workers.

Usage:
    python benchmarks/dask_scaling.py                       # N = 1, 2; 64×32 photo, 16 px tiles
    python benchmarks/dask_scaling.py --workers 1 2 4 --width 192 --height 128

ezkl's prover is itself multi-threaded (rayon) and uses every core of the machine it runs
on. To emulate a cluster of N one-core machines on one box, each Dask worker here is one
process limited to ``--threads`` ezkl threads (``RAYON_NUM_THREADS``, default 1), so wall(N)
is compared with wall(1)/N. Two reference rows run the same jobs with ezkl on all cores: one
process proving the jobs one after another, and the default local process pool.

Keys are built once before the timed runs (a warm-up ``prove()`` in this process, and one
untimed ``prove()`` per cluster so workers have imported ezkl); cluster start-up is not
timed. CPU seconds are user + system time of every process that proved (workers, or this
process and its pool).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hd import hd_photo
from tile_jobs import emit

import zkimg


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its reaped children."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--threads", type=int, default=1, help="ezkl threads per Dask worker")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--height", type=int, default=32)
    ap.add_argument("--tile", type=int, default=16)
    ap.add_argument("--markdown", type=Path, default=None)
    a = ap.parse_args()
    from distributed import Client, LocalCluster

    warnings.simplefilter("ignore", zkimg.DevelopmentSRSWarning)
    photo = hd_photo(a.width, a.height)
    pipe = zkimg.Pipeline([zkimg.Crop(2, 2, a.width - 4, a.height - 4), zkimg.Resize((a.width - 4) // 2,
                                                                                     (a.height - 4) // 2)])
    cam = zkimg.Camera.generate()
    shot = cam.capture(photo, tile=a.tile)
    rows = []

    def row(name: str, wall: float, cpu: float, ideal: str = "–", eff: str = "–") -> None:
        rows.append(f"| {name} | {jobs} | {wall:.1f} | {cpu:.1f} | {ideal} | {eff} |")

    with tempfile.TemporaryDirectory(prefix="zkimg-dask-bench-") as cache:
        store = zkimg.CircuitStore(cache)
        zkimg.prove(shot, pipe, store=store, executor=ThreadPoolExecutor(1))  # warm-up: every key built
        jobs = len(zkimg.hazmat.Plan(pipe, shot.signed.layout).jobs)
        c, t = cpu_seconds(), time.perf_counter()
        zkimg.prove(shot, pipe, store=store, executor=ThreadPoolExecutor(1))
        row("one process, jobs one after another, ezkl on all cores", time.perf_counter() - t, cpu_seconds() - c)
        base = None
        for n in a.workers:
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None, env={"RAYON_NUM_THREADS": str(a.threads)}) as cluster, \
                    Client(cluster) as client:
                zkimg.prove(shot, pipe, store=store, executor=client.get_executor(pure=False))  # imports, keys
                c, t = sum(client.run(cpu_seconds).values()), time.perf_counter()
                att = zkimg.prove(shot, pipe, store=store, executor=client.get_executor(pure=False))
                wall, cpu = time.perf_counter() - t, sum(client.run(cpu_seconds).values()) - c
            zkimg.verify(att, pipe.apply(photo), policy=zkimg.TrustedCameras([cam.public_key], allow_development_srs=True), store=store)
            base = base or wall * n
            row(f"Dask LocalCluster, {n} worker{'s' * (n > 1)} × {a.threads} ezkl thread{'s' * (a.threads > 1)}",
                wall, cpu, f"{base / n:.1f}", f"{base / n / wall:.2f}")
        c, t = cpu_seconds(), time.perf_counter()
        zkimg.prove(shot, pipe, store=store)
        row("local process pool (default executor, start-up included), ezkl on all cores",
            time.perf_counter() - t, cpu_seconds() - c)
    head = ["| executor | tile jobs | prove() wall s | CPU s | ideal wall(1)/N s | efficiency |",
            "|---|---|---|---|---|---|"]
    emit(f"; {a.width}×{a.height} photo, tile {a.tile}, crop + 2× bilinear, keys cached; command: python "
         f"benchmarks/dask_scaling.py --workers {' '.join(map(str, a.workers))} --threads {a.threads} "
         f"--width {a.width} --height {a.height}", "\n".join(head + rows), a.markdown)


if __name__ == "__main__":
    main()

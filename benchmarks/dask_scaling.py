"""Scale-out benchmark: the same ``zkimg.prove()`` on a Dask LocalCluster of N workers.

Usage:
    python benchmarks/dask_scaling.py                       # N = 1, 2; 64×32 photo, 16 px tiles
    python benchmarks/dask_scaling.py --workers 1 2 4 --width 192 --height 128

Keys are built once before the timed runs (a warm-up ``prove()`` in this process), so the
walls compare the proving itself: wall(N) against wall(1)/N. Each worker is one process
with one thread; the local process pool (``executor=None``) is timed alongside for
reference. Cluster start-up is not timed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hd import hd_photo  # noqa: E402
from tile_jobs import emit  # noqa: E402

import zkimg  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
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
    with tempfile.TemporaryDirectory(prefix="zkimg-dask-bench-") as cache:
        store = zkimg.CircuitStore(cache)
        zkimg.prove(shot, pipe, store=store, executor=ThreadPoolExecutor(1))  # warm-up: every key built
        jobs = len(zkimg.Plan(pipe, shot.signed.layout).jobs)
        rows, base = [], None
        for n in a.workers:
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None) as cluster, Client(cluster) as client:
                zkimg.prove(shot, pipe, store=store, executor=client.get_executor())  # workers import and load keys
                t = time.perf_counter()
                att = zkimg.prove(shot, pipe, store=store, executor=client.get_executor())
                wall = time.perf_counter() - t
            zkimg.verify(att, pipe.apply(photo), trusted_keys=[cam.public_key], store=store)
            base = base or wall * n
            rows.append(f"| Dask LocalCluster, {n} worker{'s' * (n > 1)} | {jobs} | {wall:.1f} | "
                        f"{base / n:.1f} | {base / n / wall:.2f} |")
        t = time.perf_counter()
        zkimg.prove(shot, pipe, store=store)
        local = time.perf_counter() - t
    rows.append(f"| local process pool (default executor, start-up included) | {jobs} | {local:.1f} | – | – |")
    head = ["| executor | tile jobs | prove() wall s | ideal wall(1)/N s | efficiency |", "|---|---|---|---|---|"]
    emit(f"; {a.width}×{a.height} photo, tile {a.tile}, crop + 2× bilinear, keys cached; command: python "
         f"benchmarks/dask_scaling.py --workers {' '.join(map(str, a.workers))} --width {a.width} --height {a.height}",
         "\n".join(head + rows), a.markdown)


if __name__ == "__main__":
    main()

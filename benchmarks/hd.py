"""HD attestation benchmark: a 1280×720 real photo, camera capture to verified bundle.

Workloads (``--workload``):

* ``example`` (default): the README example, crop → bilinear resize → Gaussian blur →
  contrast (the attestations issue).
* ``resize``: 1280×720 → 640×360 bilinear, hidden original, public output — the
  performance issue's workload; its table has a column with that issue's targets.
* ``region``: pixelate one face-sized box (168×210 px, 16 px cells) and prove every other
  pixel unchanged — the region-edit issue's figure.

Usage:
    python benchmarks/hd.py --all                 # the whole frame: every tile proved
    python benchmarks/hd.py --sample 24           # 24 tile jobs proved, the rest extrapolated
    python benchmarks/hd.py --workload resize --sample 16
    python benchmarks/hd.py --workload resize --sample 4 --width 3840 --height 2160   # 4K memory
    python benchmarks/hd.py --all --workload resize --scheme kzg    # KZG tile commitments (issue 17)
    [--tile 32] [--tiles-per-job 1] [--workers 2] [--width 1280 --height 720] [--markdown out.md]
    [--scheme poseidon|kzg] [--logrows K]   # kzg: the capture's column height (default: the tile's × 4)
    [--keep DIR]   # with --all: keep the bundle, published image and camera key to re-verify

What is measured (one run, fresh circuit cache — keys are *not* pre-cached; the
development SRS is shared between runs and its generation is not timed):

* ``capture``: ``Camera.capture()`` of the full frame (commitments + signature). Under KZG the
  camera's commitment key (an identity circuit's verifying key at ``K``, which
  ``ezkl.kzg_commit`` takes for its count of unusable rows) is built once per machine: the
  table shows the capture with it cached, and the first capture's time beside it.
* ``setup``: compile + key generation of every distinct tile circuit of the plan.
* ``prove``: proving the tile jobs on a process pool of ``--workers`` processes.
  With ``--all`` this is ``zkimg.prove()`` on the whole frame (setup included) and the
  bundle is verified with ``zkimg.verify()``. With ``--sample N`` a seeded random sample of
  N jobs is proved on the same pool and timed; the whole-frame prove wall is then
  *extrapolated* as ``setup + wall(sample) · jobs / N``, the verify time as the per-tile
  verification time of the sample times the number of jobs plus the (measured) root and
  signature check, and the bundle size is computed exactly (proofs have a fixed size)
  by serialising a bundle of the right number of proofs. Every extrapolated figure is
  labelled as such in the table.
* ``peak RSS``: the whole process tree (this process + pool workers), sampled every 0.2 s.
* the naive baseline, in the same run: one 32 px tile committed the straightforward ezkl
  way (unpacked ``hashed`` input, default range checks, a crop as the transform; see
  ``tile_jobs.py``), proved in one process (ezkl on all cores) and scaled linearly to the
  frame's number of 32 px tiles.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Dict

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import zkimg  # noqa: E402
from zkimg.attest import resolve_max_out  # noqa: E402
from zkimg.bundle import Attestation, Segment  # noqa: E402
from zkimg.hazmat.circuits import SRS, CircuitStore  # noqa: E402
from zkimg.hazmat.proving import proof_context, prove_spec  # noqa: E402
from zkimg.verification import _check  # noqa: E402


def hd_photo(width: int, height: int) -> np.ndarray:
    """scikit-image's 'coffee' (a real 400×600 photo) resized to ``width × height`` (Lanczos)."""
    from PIL import Image
    from skimage import data

    return np.asarray(Image.fromarray(data.coffee()).resize((width, height), Image.LANCZOS))


def example_pipeline(width: int, height: int) -> zkimg.Pipeline:
    """The README's edit: trim 8 px, halve the size (bilinear), 3×3 Gaussian, contrast 1.25."""
    w, h = width - 16, height - 16
    return zkimg.Pipeline([zkimg.Crop(left=8, top=8, width=w, height=h), zkimg.Resize(width=w // 2, height=h // 2),
                           zkimg.GaussianBlur(3), zkimg.Contrast(1.25)])


def resize_pipeline(width: int, height: int) -> zkimg.Pipeline:
    """The performance issue's edit: halve the size, bilinear (1280×720 → 640×360)."""
    return zkimg.Pipeline([zkimg.Resize(width=width // 2, height=height // 2)])


def region_pipeline(width: int, height: int) -> zkimg.Pipeline:
    """The region-edit issue's edit: pixelate one face-sized box (168×210 px at 1280×720,
    16 px cells), the rest of the frame proved unchanged."""
    bw, bh = width * 168 // 1280, height * 210 // 720
    return zkimg.Pipeline([zkimg.Pixelate([(width * 552 // 1280, height * 196 // 720, bw, bh)], block=16)])


WORKLOADS = {"example": example_pipeline, "resize": resize_pipeline, "region": region_pipeline}

# The KZG issue's targets, by workload and table row.
TARGETS = {
    "resize": {"prove_s": "≤ 1,000", "peak_rss": "≤ 8", "bundle_bytes": "≤ 1,000,000", "verify_s": "≤ 5",
               "capture_s": "≤ 10"},
    "example": {"prove_s": "≤ 2,000", "peak_rss": "≤ 8", "bundle_bytes": "≤ 1,000,000", "verify_s": "≤ 10",
                "capture_s": "≤ 10"},
}


class TreeRSS:
    """Peak resident memory of this process and all its descendants (Linux /proc), in bytes."""

    def __init__(self, period: float = 0.2) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(period,), daemon=True)

    @staticmethod
    def _tree_rss(root: int) -> int:
        parents: Dict[int, int] = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        parents[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    pass
        tree, frontier = {root}, [root]
        while frontier:
            p = frontier.pop()
            kids = [c for c, pp in parents.items() if pp == p and c not in tree]
            tree.update(kids)
            frontier.extend(kids)
        total = 0
        for pid in tree:
            try:
                with open(f"/proc/{pid}/statm") as f:
                    total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                pass
        return total

    def _run(self, period: float) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss(os.getpid()))
            self._stop.wait(period)

    def __enter__(self) -> "TreeRSS":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _prove_one(cache_dir: str, srs: SRS, spec, parts, salts, context):
    t = time.perf_counter()
    proof = prove_spec(CircuitStore(cache_dir, srs), spec, parts, salts, None, context)
    return proof, time.perf_counter() - t


def _baseline(srs_dir: str) -> dict:
    from tile_jobs import baseline_job, run_isolated

    return run_isolated(baseline_job, 32, srs_dir)


def run(a: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="zkimg-hd-") as tmp:  # caches hold GBs of keys: always removed
        return _run(a, Path(tmp))


def _run(a: argparse.Namespace, tmp: Path) -> dict:
    photo = hd_photo(a.width, a.height)
    pipe = WORKLOADS[a.workload](a.width, a.height)
    published = pipe.apply(photo)
    cam = zkimg.Camera.generate()
    res: dict = {"image": f"{a.width}×{a.height}×3", "tile": a.tile, "tiles_per_job": a.tiles_per_job,
                 "workers": a.workers, "workload": a.workload, "scheme": a.scheme,
                 "pipeline": repr(pipe)}

    srs = SRS(Path(a.srs_dir), development=True)
    kzg = {}
    if a.scheme == "kzg":
        kzg = {"scheme": "kzg", "logrows": a.logrows, "store": CircuitStore(tmp / "cache-capture", srs)}
        t = time.perf_counter()
        cam.capture(photo, tile=a.tile, **kzg)  # builds the commitment key (once per machine)
        res["capture_first_s"] = time.perf_counter() - t
    t = time.perf_counter()
    shot = cam.capture(photo, tile=a.tile, **kzg)
    res["capture_s"] = time.perf_counter() - t
    res["logrows"] = dict(shot.signed.layout.scheme_params).get("logrows")

    store = CircuitStore(tmp / "cache-compile", srs)
    max_out = resolve_max_out(None, pipe, shot.signed.layout, store, a.tiles_per_job)
    res["max_out"] = max_out
    plan = zkimg.hazmat.Plan(pipe, shot.signed.layout, max_out=max_out, tiles_per_job=a.tiles_per_job)
    jobs = plan.jobs
    specs = list(dict.fromkeys(j.spec for j in jobs))
    circuits = [store.circuit(s) for s in specs]  # (compile is timed below with setup)
    for c in circuits:
        srs.path(c.logrows)  # SRS generation is not part of the measurement
    by_spec = dict(zip(specs, circuits))
    res.update(jobs=len(jobs), distinct_circuits=len(specs), hashed_per_input=plan.hashed_per_input,
               hashed_felts_per_input=sum(by_spec[j.spec].hashed_felts for j in jobs) / (a.width * a.height * 3))
    shutil.rmtree(tmp / "cache-compile")
    store = CircuitStore(tmp / "cache", srs)  # cold again: setup is measured

    if a.all:
        with TreeRSS() as rss:
            t = time.perf_counter()
            att = zkimg.prove(shot, pipe, store=store, workdir=tmp / "work", tiles_per_job=a.tiles_per_job,
                              max_out=max_out,
                              executor=ProcessPoolExecutor(a.workers, mp_context=mp.get_context("spawn")))
            res["prove_s"] = time.perf_counter() - t
        res["peak_rss"] = rss.peak
        res["bundle_bytes"], res["bundle_json_bytes"] = len(att.dumps(compress=True)), len(att.dumps())
        if a.keep is not None:  # bundle, published image and camera key, to re-verify later
            a.keep.mkdir(parents=True, exist_ok=True)
            att.save(a.keep / f"{a.workload}.zkimg")
            np.save(a.keep / "published.npy", published)
            (a.keep / "camera.pub.pem").write_text(cam.public_key.pem())
        t = time.perf_counter()
        zkimg.verify(Attestation.loads(att.dumps(compress=True)), published, policy=zkimg.TrustedCameras([cam.public_key], allow_development_srs=True),
                     store=store)
        res["verify_s"] = time.perf_counter() - t
        res["mode"] = "all tiles proved"
    else:
        rng = random.Random(a.seed)
        sample = rng.sample(list(jobs), min(a.sample, len(jobs)))
        with TreeRSS() as rss:
            t = time.perf_counter()
            for s in specs:
                store.keys(store.circuit(s))
            res["setup_s"] = time.perf_counter() - t
            pixels, salts, layout = shot.secrets.pixels, shot.secrets.salts, shot.signed.layout
            t = time.perf_counter()
            with ProcessPoolExecutor(a.workers, mp_context=mp.get_context("spawn")) as pool:
                futs = {pool.submit(_prove_one, str(store.cache_dir), srs, j.spec,
                                    [layout.cell_pixels(pixels, layout.cells[k]).ravel() for k in j.cells],
                                    [salts[k] for k in j.cells],
                                    proof_context(store, j, layout, shot.signed.root, shot.signed.cell_commitments)): j
                        for j in sample}
                proved = {futs[f].index: f.result() for f in as_completed(futs)}
            res["sample_wall_s"] = time.perf_counter() - t
        res["peak_rss"] = rss.peak
        res["sample"] = len(sample)
        res["prove_job_s"] = float(np.mean([v[1] for v in proved.values()]))
        res["prove_s"] = res["setup_s"] + res["sample_wall_s"] * len(jobs) / len(sample)
        t = time.perf_counter()
        for j in sample:  # what verify() does per tile (links included under KZG), keys cached
            c = store.circuit(j.spec)
            ctx = proof_context(store, j, layout, shot.signed.root, shot.signed.cell_commitments)
            _check(j.spec.commitment_scheme, c, store.keys(c, proving=False), proved[j.index][0],
                   tuple(shot.signed.cell_commitments[k] for k in j.cells),
                   np.ascontiguousarray(published[j.rows[0]:j.rows[1], j.cols[0]:j.cols[1]]), f"tile {j.index}", ctx)
        per_tile = (time.perf_counter() - t) / len(sample)
        t = time.perf_counter()
        shot.signed.verify()
        res["verify_s"] = time.perf_counter() - t + per_tile * len(jobs)
        some = [v[0] for v in proved.values()]
        # random bytes of each sampled proof's length: proofs do not compress, repeated ones would
        full = tuple(os.urandom(len(some[i % len(some)])) for i in range(len(jobs)))
        att = Attestation(pipe, shot.signed, plan.max_out, plan.output_shape,
                          {c.logrows: store.keys(c).srs_digest for c in circuits}, True, (Segment(len(pipe), full),),
                          tiles_per_job=a.tiles_per_job)
        res["bundle_bytes"], res["bundle_json_bytes"] = len(att.dumps(compress=True)), len(att.dumps())
        res["mode"] = f"{len(sample)} of {len(jobs)} tile jobs proved, rest extrapolated"
    res["circuits"] = [(c.logrows, c.num_rows, sum(1 for j in jobs if j.spec == s)) for c, s in zip(circuits, specs)]
    res["baseline"] = None if a.no_baseline else _baseline(a.srs_dir)
    return res


def table(r: dict) -> str:
    ex = "" if r["mode"] == "all tiles proved" else " (extrapolated)"
    tiles32 = -(-r["width_px"] // 32) * -(-r["height_px"] // 32)
    b = r["baseline"] or {k: math.nan for k in ("setup_s", "prove_s", "logrows", "rows", "rss_mb", "verify_s")}
    # one process already keeps every core busy (ezkl's prover is multi-threaded; see the Dask
    # section of RESULTS.md), so the baseline's tiles are not divided over workers
    base_prove = b["setup_s"] + b["prove_s"] * tiles32
    rows = [  # (target key or None, figure, zkimg, naive baseline)
        (None, "mode", r["mode"], f"1 tile of {tiles32} proved, scaled linearly"),
        (None, "tile commitments", r["scheme"] + (f", columns of 2^{r['logrows']} rows" if r.get("logrows") else "")
         + f"; jobs of ≤ {r['max_out']} output rows/columns", "Poseidon, unpacked"),
        (None, "tile jobs / distinct circuits", f"{r['jobs']} / {r['distinct_circuits']}", f"{tiles32} / 1"),
        (None, "circuits (logrows, rows, jobs)", "; ".join(f"2^{k}, {n:,}, {m}" for k, n, m in r["circuits"]),
         f"2^{b['logrows']}, {b['rows']:,}, {tiles32}" if r["baseline"] else "not run"),
        ("capture_s", "capture s" + (" (commitment key cached; first capture on the machine in brackets)"
                                     if "capture_first_s" in r else ""),
         f"{r['capture_s']:.1f}" + (f" ({r['capture_first_s']:.1f})" if "capture_first_s" in r else ""), "–"),
        (None, "setup s (all distinct circuits)", f"{r['setup_s']:.1f}" if "setup_s" in r else "in prove",
         f"{b['setup_s']:.1f}"),
        (None, "prove s per tile job (one process)", f"{r['prove_job_s']:.1f}" if "prove_job_s" in r else "–",
         f"{b['prove_s']:.1f}"),
        ("prove_s", f"prove() wall s, setup included{ex}", f"{r['prove_s']:,.0f}", f"{base_prove:,.0f}"),
        ("peak_rss", "peak RSS GB (process tree)", f"{r['peak_rss'] / 2**30:.2f}",
         f"{b['rss_mb'] / 1024:.2f} (one process)"),
        ("hashed_per_input", "hashed values per input value", f"{r['hashed_per_input']:.3f}", "1.000"),
        (None, "hashed field elements per input value", f"{r['hashed_felts_per_input']:.3f}", "1.000"),
        ("bundle_bytes", f"bundle bytes, as saved (gzip){'' if not ex else ' (computed)'}", f"{r['bundle_bytes']:,}",
         "–"),
        (None, "bundle bytes, uncompressed JSON", f"{r['bundle_json_bytes']:,}", "–"),
        ("verify_s", f"verify() s, keys cached{ex}", f"{r['verify_s']:.1f}", f"{b['verify_s'] * tiles32:.1f}"),
    ]
    goals = TARGETS.get(r["workload"])
    out = ["| figure |" + (" target |" if goals else "") + " zkimg | naive baseline |",
           "|---|" + ("---|" if goals else "") + "---|---|"]
    out += [f"| {f} |" + (f" {goals.get(k, '') if k else ''} |" if goals else "") + f" {m} | {n} |"
            for k, f, m, n in rows]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--all", action="store_true", help="prove every tile of the frame")
    mode.add_argument("--sample", type=int, help="prove this many random tile jobs and extrapolate")
    ap.add_argument("--workload", choices=sorted(WORKLOADS), default="example")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--tile", type=int, default=32)
    ap.add_argument("--scheme", choices=["poseidon", "kzg"], default="poseidon")
    ap.add_argument("--logrows", type=int, default=None, help="kzg: the capture's column height 2^K")
    ap.add_argument("--tiles-per-job", type=int, default=1, help="tiles along the width proved by one job")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--srs-dir", default=str(Path(tempfile.gettempdir()) / "zkimg-bench-srs"))
    ap.add_argument("--markdown", default=None, help="also write the table to this file")
    ap.add_argument("--keep", type=Path, default=None, metavar="DIR",
                    help="with --all: save the bundle, the published image (.npy) and the camera's public key here")
    ap.add_argument("--record", action="store_true",
                    help="make this table the current figures of the workload (benchmarks/current.json, RESULTS.md)")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the naive baseline (a smoke run; its column says nan)")
    a = ap.parse_args()
    if a.record and a.no_baseline:
        ap.error("--record needs the naive baseline of the same run")
    r = run(a)
    r["width_px"], r["height_px"] = a.width, a.height
    from tile_jobs import emit

    per_job = f" ({r['tiles_per_job']} per job)" if r["tiles_per_job"] > 1 else ""
    emit(f"; {r['image']} image, {r['tile']} px tiles{per_job}, {r['workers']} workers; {r['workload']}: {r['pipeline']}",
         table(r), a.markdown)
    if a.record:
        import current

        key = f"hd-{a.workload}-{a.width}x{a.height}" + ("-kzg" if a.scheme == "kzg" else "")
        current.record(key, f"{a.width}×{a.height}, {a.workload} workload, {a.scheme} commitments ({r['mode']})",
                       "python benchmarks/hd.py " + " ".join(sys.argv[1:]), table(r),
                       f"{r['tile']} px tiles{per_job}, {r['workers']} workers; {r['pipeline']}")


if __name__ == "__main__":
    main()

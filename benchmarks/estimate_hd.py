"""How close ``zkimg.estimate`` comes to the measured HD runs: the README example (42 px tiles)
and the 720p → 640×360 resize (64 px tiles, 2 per job), planned and estimated with a fresh
cache, so with the reference rates (no prove has measured this machine yet) and 2 workers,
as in the recorded runs.

    python benchmarks/estimate_hd.py

Prints each estimate beside the figures recorded in benchmarks/current.json.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import zkimg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hd import example_pipeline, hd_photo, resize_pipeline

CURRENT = json.loads((Path(__file__).resolve().parent / "current.json").read_text())
WORKLOADS = [("hd-example-1280x720", example_pipeline, 42, 1), ("hd-resize-1280x720", resize_pipeline, 64, 2)]
FIGURES = {"prove() wall s, setup included": lambda e: f"{e.total_s:,.0f}",
           "peak RSS GB (process tree)": lambda e: f"{e.peak_rss_bytes / 1e9:.2f}",
           "bundle bytes, as saved (gzip)": lambda e: f"{e.bundle_bytes:,}"}


def measured(name: str) -> dict:
    rows = [line.strip("|").split("|") for line in CURRENT[name]["table"].splitlines()[2:]]
    header = [c.strip() for c in CURRENT[name]["table"].splitlines()[0].strip("|").split("|")]
    col = header.index("zkimg")
    return {r[0].strip(): r[col].strip() for r in rows}


def main() -> None:
    photo = hd_photo(1280, 720)
    print("| workload | figure | estimate (reference rates) | measured |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory() as cache:
        store = zkimg.CircuitStore(cache)
        for name, pipeline, tile, per_job in WORKLOADS:
            capture = zkimg.Camera.generate().capture(photo, tile)
            t = time.perf_counter()
            e = zkimg.estimate(capture, pipeline(1280, 720), store=store, workers=2, tiles_per_job=per_job)
            took = time.perf_counter() - t
            m = measured(name)
            print(f"| {name} | tile jobs | {e.jobs} | {m['tile jobs / distinct circuits'].split(' / ')[0]} |")
            for figure, show in FIGURES.items():
                print(f"| {name} | {figure} | {show(e)} | {m[figure]} |")
            print(f"| {name} | seconds to estimate (compiles {len(e.circuits)} circuits) | {took:.1f} | – |")


if __name__ == "__main__":
    main()

"""The current figures at the top of benchmarks/RESULTS.md: one table per workload.

Usage:
    python benchmarks/current.py                 # re-measure the tile-job rows, then re-render
    python benchmarks/current.py --render-only   # re-render RESULTS.md from current.json

Each workload's latest table lives in ``benchmarks/current.json`` with the command, commit
and date that made it; this script renders them, in a fixed order, between the
``current:begin``/``current:end`` markers of RESULTS.md (the dated history stays below).
Cheap workloads are re-measured here: the rows of every registered transform's tile job at
16 and 32 px beside the naive baseline (``gen_settings`` and compile only, about a minute).
Expensive ones (a whole 720p frame proved: one to two hours) are recorded by the script that
measures them (``hd.py --record``, ``capture.py --record``, ``hostile.py --record``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

import zkimg  # noqa: E402
from zkimg.hazmat.circuits import EZKL_VERSION, CircuitStore  # noqa: E402

CURRENT = ROOT / "benchmarks" / "current.json"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BEGIN, END = "<!-- current:begin (benchmarks/current.py writes this block) -->", "<!-- current:end -->"
#: Workloads in the order RESULTS.md shows them.
ORDER = ["tile-jobs", "hd-resize-1280x720-kzg", "hd-example-1280x720-kzg", "hd-example-1280x720", "hd-resize-1280x720",
         "hd-region-1280x720", "capture-1280x720", "hostile"]


def machine() -> str:
    return f"ezkl {EZKL_VERSION}, {platform.machine()}, {_cores()} cores, Python {platform.python_version()}"


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return out + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def record(key: str, title: str, command: str, table: str, notes: str = "") -> None:
    """Store one workload's current table (with its provenance) and re-render RESULTS.md."""
    data = json.loads(CURRENT.read_text()) if CURRENT.exists() else {}
    data[key] = {"title": title, "command": command, "commit": commit(), "date": datetime.date.today().isoformat(),
                 "machine": machine(), "table": table.strip(), "notes": notes.strip()}
    CURRENT.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    render()


def render() -> None:
    """Rewrite RESULTS.md's current block from current.json."""
    RESULTS.write_text(rendered(RESULTS.read_text(), json.loads(CURRENT.read_text())))


def rendered(text: str, data: Dict[str, Dict[str, str]]) -> str:
    """``text`` (RESULTS.md) with its current block made from ``data`` (current.json)."""
    keys = [k for k in ORDER if k in data] + sorted(k for k in data if k not in ORDER)
    parts = [BEGIN, "## Current figures", "",
             "The latest measurement of each workload (what is true of the code now; how it got here is in",
             "the dated history below). Regenerate with `python benchmarks/current.py`; the expensive",
             "workloads are re-recorded by the command shown with each.", ""]
    for k in keys:
        e = data[k]
        parts += [f"### {e['title']}", "",
                  f"`{e['command']}` — at {e['commit']}, {e['date']}; {e['machine']}.", "", e["table"], ""]
        if e.get("notes"):
            parts += [e["notes"], ""]
    parts.append(END)
    block = "\n".join(parts)
    if BEGIN in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + block + tail
    else:
        title, _, body = text.partition("\n")
        text = f"{title}\n\n{block}\n\n## History (dated, oldest first)\n{body}"
    return text


def _baseline_rows(s: int) -> Dict[str, Any]:
    """The naive ezkl commitment of an ``s`` px crop (tile_jobs.py's baseline), settings only."""
    from tile_jobs import baseline_settings

    with tempfile.TemporaryDirectory(prefix="zkimg-current-") as tmp:
        st = baseline_settings(s, Path(tmp))
    return {"job": "baseline: crop, unpacked hashed input", "logrows": st["run_args"]["logrows"],
            "rows": st["num_rows"], "out": (s - 2) * (s - 2) * 3}


#: The KZG column height the tile-job table lays its KZG circuits out at (large enough for
#: every job; the rows are the corrected main-region count, whatever the height).
KZG_TABLE_LOGROWS = 18


def _binding_rows(c: Any) -> int:
    """The rows that set a circuit's ``2^logrows``: its main region or its Poseidon region,
    whichever is longer (ezkl lays the Poseidon hashes out beside the main region)."""
    return int(max(c.num_rows, c.poseidon_rows))


def _scheme_rows(store: CircuitStore, job: Any, scheme: str, params: Any) -> int:
    import dataclasses

    return _binding_rows(store.circuit(dataclasses.replace(job.spec(), scheme=scheme, scheme_params=params)))


def measure_tile_jobs(sizes: List[int]) -> str:
    from tile_jobs import transforms

    from zkimg.hazmat.kzg_scheme import KZGScheme

    kzg = KZGScheme(KZG_TABLE_LOGROWS, srs_sha256="0" * 64).params
    lines = ["| job | size | logrows | rows | rows per output value | hashed field elements per input value "
             "| rows per input byte (main or Poseidon region, whichever is longer): Poseidon format 1 / format 3 / KZG |",
             "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="zkimg-current-") as cache:
        store = CircuitStore(cache)
        for s in sizes:
            b = _baseline_rows(s)
            lines.append(f"| {b['job']} | {s} | {b['logrows']} | {b['rows']:,} | {b['rows'] / b['out']:.1f} | 1.000 "
                         f"| {b['rows'] / (s * s * 3):.1f} |")
            for t in transforms(s).values():
                job = zkimg.hazmat.TileJob(zkimg.Pipeline([t]), (s, s, 3))
                c = store.circuit(job)
                out, n = int(np.prod(job.output_shape)), s * s * 3
                p31 = _scheme_rows(store, job, "poseidon", (("pack_bytes", 31),))
                k = _scheme_rows(store, job, "kzg", kzg)
                lines.append(f"| {t.describe()} | {s} | {c.logrows} | {c.num_rows:,} | {c.num_rows / out:.1f} | "
                             f"{c.hashed_felts / n:.3f} | {_binding_rows(c) / n:.2f} / {p31 / n:.2f} / {k / n:.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--render-only", action="store_true", help="only re-render RESULTS.md from current.json")
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32])
    a = ap.parse_args()
    if not a.render_only:
        table = measure_tile_jobs(a.sizes)
        print(table)
        record("tile-jobs", "Tile jobs per transform: circuit rows (public output, one tile)",
               "python benchmarks/current.py", table,
               "Every registered transform's benchmark examples on one `size × size × 3` tile. `rows` is "
               "ezkl's row count (Poseidon included) of the format-1 circuit (16 bytes per field element); "
               "hashed field elements per input value count the tile, its salt and the output, packed 16 "
               "bytes per element. The last column is the same job's rows per input byte under each "
               "scheme, counting whichever of the main and Poseidon regions is longer (it sets 2^logrows): "
               "Poseidon format 1, format 3 (31 bytes per element, what new captures use: it helps where "
               "hashing is the longer region, e.g. a crop or a redaction, not where the transform is) and "
               "KZG (the corrected main-region rows: no hash, an int64 graph). Proving time per job grows "
               "with 2^logrows (≈ 0.16–0.19 ms per row of 2^k on this machine, history below).")
    render()


if __name__ == "__main__":
    main()

"""Camera capture benchmark: ``Camera.capture()`` of an HD frame, serial vs parallel.

Usage:
    python benchmarks/capture.py                    # 1280×720, 32 px tiles
    python benchmarks/capture.py --width 3840 --height 2160 --tile 64

Measured in one run, on the same frame and salts: the baseline (every cell hashed in this
process with ``ezkl.poseidon_hash``, which zkimg used before :mod:`zkimg.hazmat.poseidon`), the
same with zkimg's native Poseidon, and ``Camera.capture()`` as shipped (cells hashed in
chunks on a process pool sized to the machine, worker start-up included), all three
checked to give the same commitments,
plus the cost per hashed field element and the peak RSS of the process tree.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hd import TreeRSS, hd_photo
from tile_jobs import emit

import zkimg
from zkimg.hazmat import SALT_BYTES
from zkimg.hazmat.poseidon_scheme import packed_len


def _ezkl_route(lay, photo, salts, expect) -> float:
    """Seconds to commit every cell with ``ezkl.poseidon_hash`` (checked equal to ``expect``)."""
    import ezkl
    import numpy as np

    from zkimg.hazmat import felt_from_hex, felt_to_hex, pack

    t = time.perf_counter()
    out = []
    for cell, salt in zip(lay.cells, salts):
        data = np.concatenate([lay.cell_pixels(photo, cell).ravel(), np.frombuffer(salt, np.uint8)])
        (h,) = ezkl.poseidon_hash([felt_to_hex(f) for f in pack(data)])
        out.append(felt_from_hex(h))
    seconds = time.perf_counter() - t
    assert out == expect
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--tile", type=int, default=32)
    ap.add_argument("--markdown", type=Path, default=None, help="append the table here")
    ap.add_argument("--record", action="store_true",
                    help="make this table the current figures (benchmarks/current.json, RESULTS.md)")
    a = ap.parse_args()
    photo = hd_photo(a.width, a.height)
    cam = zkimg.Camera.generate()
    with TreeRSS() as rss:
        t = time.perf_counter()
        shot = cam.capture(photo, tile=a.tile)
        parallel_s = time.perf_counter() - t
    lay = shot.signed.layout
    t = time.perf_counter()
    serial = lay.commit_cells(photo, shot.secrets.salts)  # the baseline, same cells and salts
    serial_s = time.perf_counter() - t
    assert list(shot.signed.cell_commitments) == serial
    ezkl_s = _ezkl_route(lay, photo, shot.secrets.salts, serial)
    felts = sum(packed_len(lay.cell_pixels(photo, c).size + SALT_BYTES) for c in lay.cells)
    frame = f"{a.width}×{a.height}, tile {a.tile}, {lay.cell_count:,} cells, {felts:,} field elements"
    lines = ["| path | capture s | µs per field element | peak RSS MB (tree) |", "|---|---|---|---|",
             f"| serial, `ezkl.poseidon_hash` (baseline: the hash before zkimg.hazmat.poseidon) | {ezkl_s:.1f} | "
             f"{ezkl_s / felts * 1e6:.0f} | – |",
             f"| serial, one process | {serial_s:.1f} | {serial_s / felts * 1e6:.0f} | – |",
             f"| `Camera.capture()`, pool of {os.cpu_count()} processes | {parallel_s:.1f} | "
             f"{parallel_s / felts * 1e6:.0f} | {rss.peak / 2**20:,.0f} |"]
    emit(f"; {frame}; command: python benchmarks/capture.py --width {a.width} --height {a.height} --tile {a.tile}",
         "\n".join(lines), a.markdown)
    if a.record:
        import current

        current.record(f"capture-{a.width}x{a.height}", f"Camera capture of a {a.width}×{a.height} frame",
                       "python benchmarks/capture.py " + " ".join(sys.argv[1:]), "\n".join(lines), frame)

if __name__ == "__main__":
    main()

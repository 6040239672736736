"""Soundness matrix: disable one verifier check at a time and show that a test catches it.

Usage:  python tests/mutants.py [--only NAME ...]

For every mutant below, the repository (zkimg/ and tests/) is copied to a temporary
directory, one check is patched out of the copy's source, and the tests named for that check
run against the copy (sharing the circuit cache, so only the proofs are redone). A mutant
is *caught* when every one of those tests passes on the unpatched copy and fails on the
patched one. The script prints one line per mutant
and exits non-zero if any mutant survives. Results are recorded in tests/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str
    check: str
    file: str
    old: str
    new: str
    tests: Tuple[str, ...]


MUTANTS = (
    Mutant("trusted-keys", "the camera key must be one of trusted_keys", "zkimg/verify.py",
           "        raise UntrustedKey(", "        0 and UntrustedKey(", ("tests/test_attest.py::test_untrusted_key",)),
    Mutant("root", "the cell commitments hash to the signed root", "zkimg/camera.py",
           "            raise RootMismatch(", "            0 and RootMismatch(",
           ("tests/test_attest.py::test_root_mismatch",)),
    Mutant("signature", "the camera signed the root", "zkimg/camera.py",
           "        self.camera_key.verify(capture_message(self.layout, self.root), self.signature)", "        pass",
           ("tests/test_attest.py::test_signature", "tests/test_attest.py::test_recommitted_image_under_another_key")),
    Mutant("output-size", "the declared output size is the pipeline's", "zkimg/verify.py",
           "        raise OutputMismatch(f\"bundle declares output", "        0 and OutputMismatch(f\"bundle declares output",
           ("tests/test_attest.py::test_output_size",)),
    Mutant("tile-count", "one proof per planned tile", "zkimg/verify.py",
           "            raise InvalidBundle(f\"segment {i} has", "            0 and InvalidBundle(f\"segment {i} has",
           ("tests/test_attest.py::test_missing_tile",)),
    Mutant("circuit-size", "the bundle's proofs were made for circuits of the sizes the verifier rebuilds",
           "zkimg/verify.py", "            if claimed is None:", "            if False:",
           ("tests/test_attest.py::test_proofs_for_circuits_of_another_size",)),
    Mutant("srs-digest", "the SRS recorded in the bundle is the verifier's", "zkimg/verify.py",
           "                raise SRSMismatch(", "                0 and SRSMismatch(",
           ("tests/test_attest.py::test_srs_digest",)),
    Mutant("srs-development", "the development-SRS status is the verifier's, not the bundle's claim",
           "zkimg/verify.py", "        raise SRSMismatch(f\"bundle says development SRS",
           "        0 and SRSMismatch(f\"bundle says development SRS",
           ("tests/test_attest.py::test_bundle_cannot_hide_a_development_srs",)),
    Mutant("proofs", "every proof verifies with verifier-made keys and instances (output pixels, pipeline "
           "parameters, tile order, reuse, hidden-output and chain commitments)", "zkimg/verify.py",
           "    import ezkl\n\n    with tempfile.TemporaryDirectory(prefix=\"zkimg-verify-\")",
           "    return\n    import ezkl\n\n    with tempfile.TemporaryDirectory(prefix=\"zkimg-verify-\")",
           ("tests/test_attest.py::test_output_pixel_changed", "tests/test_attest.py::test_pipeline_parameter_changed",
            "tests/test_attest.py::test_tiles_swapped", "tests/test_attest.py::test_proof_from_another_capture",
            "tests/test_attest.py::test_broken_chain_link_is_rejected", "tests/test_attest.py::test_hidden_output")),
    Mutant("input-range", "every hidden byte is looked up in [0, 255] before use", "zkimg/lowering.py",
           "    checked = g.lookup(g.concat(raw), np.arange(256))",
           "    checked = g.op(\"Cast\", [g.concat(raw)], to=TensorProto.FLOAT)",
           ("tests/test_proofs.py::test_pixel_outside_byte_range_cannot_be_proved",)),
    Mutant("rounding-remainder", "a rounding hint's remainder is looked up in [0, d)", "zkimg/lowering.py",
           "        r_s = g.lookup(r, r_table, extend=False)", "        r_s = r",
           ("tests/test_proofs.py::test_rounding_hint_off_by_one_cannot_be_proved",)),
)


def run(tests: Tuple[str, ...], cache: str, m: Optional[Mutant] = None) -> Dict[str, bool]:
    """Run ``tests`` on a copy of the repository, patched by ``m`` if given: {test id: failed}."""
    import xml.etree.ElementTree as ET

    with tempfile.TemporaryDirectory(prefix="zkimg-mutant-") as tmp:
        for d in ("zkimg", "tests", "circuits"):
            shutil.copytree(ROOT / d, Path(tmp) / d)
        shutil.copy(ROOT / "pyproject.toml", tmp)
        if m is not None:
            src = (Path(tmp) / m.file).read_text()
            if src.count(m.old) != 1:
                raise SystemExit(f"mutant {m.name}: the patched text must occur exactly once in {m.file}")
            (Path(tmp) / m.file).write_text(src.replace(m.old, m.new))
        env = dict(os.environ, PYTHONPATH=tmp, ZKIMG_CACHE=cache)
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "--junitxml", str(Path(tmp) / "junit.xml"), *tests],
                       cwd=tmp, env=env, capture_output=True, text=True)
        out = {}
        for case in ET.parse(Path(tmp) / "junit.xml").getroot().iter("testcase"):
            name = case.get("name").split("[")[0]
            failed = case.find("failure") is not None or case.find("error") is not None
            out[name] = out.get(name, False) or failed
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+")
    a = ap.parse_args()
    cache = os.environ.get("ZKIMG_CACHE") or tempfile.mkdtemp(prefix="zkimg-mutants-cache-")
    chosen = [m for m in MUTANTS if not a.only or m.name in a.only]
    all_tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
    control = run(all_tests, cache)
    broken = [t for t in all_tests if control.get(t.split("::")[1], True)]
    if broken:
        raise SystemExit(f"these tests do not pass on the unpatched code: {broken}")
    print("| check disabled (mutant) | tests (each passes unpatched) | failing when patched | caught |")
    print("|---|---|---|---|")
    bad = []
    for m in chosen:
        t = time.perf_counter()
        res = run(m.tests, cache, m)
        names = [x.split("::")[1] for x in m.tests]
        failing = [n for n in names if res.get(n, False)]
        caught = len(failing) == len(names)
        print(f"| {m.name}: {m.check} | {', '.join(names)} | {len(failing)}/{len(names)} "
              f"| {'yes' if caught else 'NO'} ({time.perf_counter() - t:.0f} s) |", flush=True)
        if not caught:
            bad.append(m.name)
    if bad:
        raise SystemExit(f"not caught by every listed test: {bad}")


if __name__ == "__main__":
    main()

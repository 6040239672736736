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
    Mutant("trusted-keys", "the camera key must be one the policy trusts", "zkimg/policy.py",
           "            raise UntrustedKey(", "            0 and UntrustedKey(", ("tests/test_attest.py::test_untrusted_key",)),
    Mutant("root", "the cell commitments hash to the signed root", "zkimg/camera.py",
           "            raise RootMismatch(", "            0 and RootMismatch(",
           ("tests/test_attest.py::test_root_mismatch",)),
    Mutant("signature", "the camera signed the root", "zkimg/camera.py",
           "        self.camera_key.verify(capture_message(self.layout, self.root), self.signature)", "        pass",
           ("tests/test_attest.py::test_signature", "tests/test_attest.py::test_recommitted_image_under_another_key")),
    Mutant("output-size", "the declared output size is the pipeline's", "zkimg/verification.py",
           "        raise OutputMismatch(f\"bundle declares output", "        0 and OutputMismatch(f\"bundle declares output",
           ("tests/test_attest.py::test_output_size",)),
    Mutant("tile-count", "one proof per planned tile", "zkimg/verification.py",
           "            raise TileCountMismatch(f\"segment {i} has", "            0 and TileCountMismatch(f\"segment {i} has",
           ("tests/test_attest.py::test_missing_tile",)),
    Mutant("circuit-size", "the bundle's proofs were made for circuits of the sizes the verifier rebuilds",
           "zkimg/verification.py", "    if claimed_srs is None:", "    if False:",
           ("tests/test_attest.py::test_proofs_for_circuits_of_another_size",)),
    Mutant("srs-digest", "the SRS recorded in the bundle is the verifier's", "zkimg/verification.py",
           "        raise SRSMismatch(f\"tile {index} was proved", "        0 and SRSMismatch(f\"tile {index} was proved",
           ("tests/test_attest.py::test_srs_digest",)),
    Mutant("srs-development", "the development-SRS status is the verifier's, not the bundle's claim",
           "zkimg/verification.py", "        raise SRSMismatch(f\"bundle says development SRS",
           "        0 and SRSMismatch(f\"bundle says development SRS",
           ("tests/test_attest.py::test_bundle_cannot_hide_a_development_srs",)),
    Mutant("dev-srs-policy", "a development SRS is refused unless the policy opts in to it", "zkimg/policy.py",
           'if trust == "development" and self.allow_development_srs:', 'if trust == "development":',
           ("tests/test_attest.py::test_development_srs_needs_an_explicit_opt_in",)),
    Mutant("unpinned-srs-policy", "an unpinned SRS is refused unless the policy opts in to it (a development "
           "opt-in does not cover it)", "zkimg/policy.py",
           'if trust == "unpinned" and self.allow_unpinned_srs:', 'if trust == "unpinned":',
           ("tests/test_hostile.py::test_srs_trust_is_judged_from_the_verifiers_files",
            "tests/test_hostile.py::test_cli_warns_about_an_unpinned_srs")),
    Mutant("srs-minimum", "an SRS below the policy's minimum trust is refused", "zkimg/policy.py",
           "if SRS_TRUST.index(trust) < SRS_TRUST.index(self.minimum_srs_trust):", "if False:",
           ("tests/test_attest.py::test_development_srs_needs_an_explicit_opt_in",
            "tests/test_hostile.py::test_srs_trust_is_judged_from_the_verifiers_files")),
    Mutant("proofs", "every proof verifies with verifier-made keys and instances (output pixels, pipeline "
           "parameters, tile order, reuse, hidden-output and chain commitments)", "zkimg/hazmat/_ezkl.py",
           "    with tempfile.TemporaryDirectory(prefix=\"zkimg-verify-\")",
           "    return\n    with tempfile.TemporaryDirectory(prefix=\"zkimg-verify-\")",
           ("tests/test_attest.py::test_output_pixel_changed", "tests/test_attest.py::test_pipeline_parameter_changed",
            "tests/test_attest.py::test_tiles_swapped", "tests/test_attest.py::test_proof_from_another_capture",
            "tests/test_attest.py::test_broken_chain_link_is_rejected", "tests/test_attest.py::test_hidden_output")),
    Mutant("signature-first", "the signature is checked before the root is recomputed", "zkimg/verification.py",
           "    cap.check_signature()  # cheap", "    cap.check_root()  # cheap",
           ("tests/test_hostile.py::test_signature_is_checked_before_the_root",
            "tests/test_hostile.py::test_forged_huge_capture_costs_one_signature_check")),
    Mutant("plan-work", "the planning work a declared pipeline implies is within max_plan_work", "zkimg/verification.py",
           "        _limit(plan.anchor_work,", "        0 and _limit(plan.anchor_work,",
           ("tests/test_hostile.py::test_a_long_pipeline_is_refused_before_planning",)),
    Mutant("job-values", "no job exceeds max_job_values (checked before any job is built)", "zkimg/verification.py",
           "        _limit(plan.max_job_values,", "        0 and _limit(plan.max_job_values,",
           ("tests/test_hostile.py::test_oversized_jobs_are_refused_before_building",)),
    Mutant("max-circuits", "at most max_circuits distinct circuits are built", "zkimg/verification.py",
           "                    _limit(len(circuits) + 1,", "                    0 and _limit(len(circuits) + 1,",
           ("tests/test_attest.py::test_distinct_circuits_are_bounded",)),
    Mutant("max-logrows", "a circuit over max_logrows is refused before its setup", "zkimg/verification.py",
           "    _limit(circuit.logrows,", "    0 and _limit(circuit.logrows,",
           ("tests/test_hostile.py::test_garbage_proofs_cost_one_setup",)),
    Mutant("one-setup", "queued proofs are checked before another circuit is built", "zkimg/verification.py",
           "                    queue.flush()  # a bad proof", "                    pass  # a bad proof",
           ("tests/test_hostile.py::test_garbage_proofs_cost_one_setup",)),
    Mutant("cache-address", "a cache entry is used only for the address it was built for", "zkimg/hazmat/circuits.py",
           'manifest.get("for") != built_for', "False",
           ("tests/test_hostile.py::test_planted_cache_entry_of_another_job_is_rebuilt",)),
    Mutant("cache-graph", "a cached circuit holds exactly the ONNX graph lowered for the job", "zkimg/hazmat/circuits.py",
           'sound=lambda d: (d / "network.onnx").read_bytes() == lowered.model)', "sound=lambda d: True)",
           ("tests/test_hostile.py::test_cache_entry_with_another_graph_is_rebuilt",)),
    Mutant("vk-pins", "a verifying key differing from its pinned digest is rebuilt or refused", "zkimg/hazmat/circuits.py",
           'sound=lambda d: pinned is None or sha256_file(d / "vk.key") == pinned)', "sound=lambda d: True)",
           ("tests/test_hostile.py::test_pinned_verifying_key_overrides_a_forged_entry",)),
    Mutant("srs-trust", "an SRS that is neither the ceremony's nor pinned is reported unpinned", "zkimg/hazmat/circuits.py",
           'return "pinned" if self.expected_digests.get(logrows) == d else "unpinned"', 'return "ceremony"',
           ("tests/test_hostile.py::test_srs_trust_is_judged_from_the_verifiers_files",
            "tests/test_hostile.py::test_cli_warns_about_an_unpinned_srs")),
    Mutant("regular-files", "input paths are regular files (no FIFO, device or folder)", "zkimg/_fileio.py",
           "        if not stat.S_ISREG(os.fstat(fd).st_mode):", "        if False:",
           ("tests/test_hostile.py::test_devices_fifos_and_folders_are_refused_at_once",
            "tests/test_hostile.py::test_c2pa_reader_refuses_a_fifo")),
    Mutant("einsum-guard", "a circuit with a Freivalds einsum column is refused", "zkimg/hazmat/_ezkl.py",
           "    if freivalds != 0:", "    if False:",
           ("tests/test_repo.py::test_shipped_circuits_keep_the_freivalds_einsum_chip_off",)),
    Mutant("colour-metadata", "a published file with colour-management metadata is refused", "zkimg/images.py",
           'if colour == "refuse" and found:', "if False:",
           ("tests/test_images.py::test_colour_managed_files_are_refused_when_asked",
            "tests/test_cli.py::test_colour_profile_added_to_published_file_is_not_verified")),
    Mutant("workdir-capture", "a work dir never hands one capture's proofs or output salts to another",
           "zkimg/hazmat/proving.py", 'h.update(b"\\0" + np.ascontiguousarray(pixels).tobytes() + b"".join(salts))', "pass",
           ("tests/test_hostile.py::test_workdir_never_mixes_captures",)),
    Mutant("input-range", "every hidden byte is looked up in [0, 255] before use (Poseidon scheme)",
           "zkimg/hazmat/poseidon_scheme.py",
           "        checked = g.lookup(g.concat(raw), np.arange(256))",
           "        checked = g.op(\"Cast\", [g.concat(raw)], to=1)",
           ("tests/test_proofs.py::test_pixel_outside_byte_range_cannot_be_proved",)),
    Mutant("rounding-remainder", "a rounding hint's remainder is looked up in [0, d)", "zkimg/hazmat/lowering.py",
           "        r_s = g.lookup(r, r_table, extend=False)", "        r_s = r",
           ("tests/test_proofs.py::test_rounding_hint_off_by_one_cannot_be_proved",
            "tests/test_edits.py::test_signed_rounding_hint_off_by_one_cannot_be_proved",
            "tests/test_kzg.py::test_a_rounding_hint_off_by_one_cannot_be_proved_in_an_int64_graph")),
    Mutant("rounding-quotient-range", "a folded rounding's hint is an index of its quotient table (int64 graphs)",
           "zkimg/hazmat/lowering.py",
           "            r = g.op(\"Sub\", [y, g.lookup(q_s, q_table, extend=False)])",
           "            r = g.op(\"Sub\", [y, g.op(\"Sub\", [g.op(\"Mul\", [q_s, g.operand([d_max])]), "
           "g.operand([int(off.flat[0]) + d_max * b])])])",
           ("tests/test_kzg.py::test_a_quotient_outside_its_table_cannot_be_proved_in_an_int64_graph",)),
    Mutant("cell-divisor", "a block mean's remainder is below its own cell's size", "zkimg/hazmat/lowering.py",
           "        if per_position:  # also r < d here", "        if False:  # also r < d here",
           ("tests/test_edits.py::test_block_mean_small_cell_checks_its_own_divisor",)),
    Mutant("select-mask", "inside a region box the kept branch is multiplied by the constant 0",
           "zkimg/hazmat/lowering.py", "        kept = g.op(\"Mul\", [keep, g.const(1 - m)])", "        kept = keep",
           ("tests/test_edits.py::test_redacted_pixels_do_not_reach_the_proof",)),
    Mutant("kzg-link", "each KZG input point is the signed commitment shifted in its salt rows (the link)",
           "zkimg/hazmat/kzg_scheme.py", "    if bn254.msm(z + [bn254.R - e], list(bases) + [diff]) != t:", "    if False:",
           ("tests/test_kzg.py::test_a_changed_pixel_is_refused_for_every_delta",
            "tests/test_kzg.py::test_a_false_link_is_refused", "tests/test_kzg.py::test_a_link_replayed_elsewhere_is_refused")),
    Mutant("kzg-response-range", "link responses are below the group order", "zkimg/hazmat/kzg_scheme.py",
           "    if any(v >= bn254.R for v in z):", "    if False:",
           ("tests/test_kzg.py::test_a_response_not_below_the_group_order_is_refused",)),
    Mutant("kzg-rerandomised", "a KZG input point is never the signed commitment itself", "zkimg/hazmat/kzg_scheme.py",
           "            if c2 == c:", "            if False:",
           ("tests/test_kzg.py::test_an_unrandomised_point_is_refused",)),
    Mutant("kzg-repeat", "no KZG input point repeats in a bundle", "zkimg/verification.py",
           "                        if point in points:", "                        if False:",
           ("tests/test_kzg.py::test_a_repeated_point_is_refused",)),
    Mutant("kzg-output-point", "a hidden KZG output is the proof's own committed column", "zkimg/hazmat/kzg_scheme.py",
           "            if point_int(self._output_point(proof, context.output_point, CommitmentMismatch)) != context.output:",
           "            if False:",
           ("tests/test_kzg.py::test_a_declared_output_that_is_not_the_proofs_column_is_refused",)),
    Mutant("kzg-capture-srs", "a KZG capture's signed SRS is the verifier's", "zkimg/verification.py",
           "    if not scheme.commits_natively:  # the capture signed", "    if False:  # the capture signed",
           ("tests/test_kzg.py::test_the_capture_srs_must_be_the_verifiers",)),
    Mutant("point-decoding", "points are decoded strictly (on the curve)", "zkimg/hazmat/bn254.py",
           "    if not on_curve(x, y):", "    if False:",
           ("tests/test_kzg.py::test_malformed_points_are_refused", "tests/test_kzg.py::test_points_decode_strictly")),
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

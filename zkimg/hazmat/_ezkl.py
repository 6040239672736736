"""The ezkl backend: every call into ezkl goes through this module.

Settings, compile, SRS generation, key setup, witness, prove, verify and the proof file
format live here, with what ezkl 23.0.5 was measured to do (see the notes beside each).
Failures become zkimg errors: Rust panics surface through pyo3 as ``PanicException``, a
``BaseException``, so they are caught as such (never ``KeyboardInterrupt``/``SystemExit``).
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple, Type

from .._codec import felt_to_hex
from ..errors import CircuitError, Error, ProofInvalid, ProvingError
from ..limits import MAX_LOGROWS

EZKL_VERSION = "23.0.5"

#: ezkl reserves this many rows for blinding factors (ASSUMED_BLINDING_FACTORS + pad), with margin.
_RESERVED_ROWS = 16
MIN_LOGROWS = 8


def _drop_scale_warning(record: logging.LogRecord) -> bool:
    """ezkl warns "low scale values (<8) may impact precision" for every circuit; zkimg's
    circuits are integer-exact at scale 0 by design, so that one message is noise. So is
    "SRS for poly commit does not exist" from every KZG-scheme witness: zkimg never asks ezkl
    for the witness's commitments (the prover reads its points from the proof)."""
    message = record.getMessage()
    return "low scale values" not in message and "SRS for poly commit" not in message


# ezkl logs through Python logging (pyo3_log), by Rust module path; a logger's filter does not
# see its children's records, so each emitting module's logger gets it.
for _name in ("ezkl", "ezkl.execute", "ezkl.graph"):
    logging.getLogger(_name).addFilter(_drop_scale_warning)

#: Run arguments of every zkimg circuit, whatever its commitment scheme (which adds the
#: visibilities); see lowering.py for the soundness argument.
BASE_RUN_ARGS: Dict[str, Any] = {
    "input_scale": 0,  # pixels are integers
    "param_scale": 0,  # every constant is an integer
    # zkimg's circuits use no decomposition-based op (range checks are lookups), but ezkl
    # 23.0.5 decomposes every constant that it lays out as a cell (a constant used by more
    # than one node after tract merges equal constants) when
    # ignore_range_check_inputs_outputs is set (the flag is inverted for constants in
    # graph/utilities.rs). The packing powers reach 256^15 = 2^120, so the bound must exceed
    # that: 512^14 = 2^126 (and stay below i128).
    "decomp_base": 512,
    "decomp_legs": 14,
    "num_inner_cols": 2,
    # ezkl's Freivalds einsum chip returns values that later cells are not tied to (measured
    # in ezkl 23.0.5): never let it lay out a MatMul/einsum (also checked after gen_settings).
    "disable_freivalds": True,
    "check_mode": "unsafe",
    # Redundant here: inputs are range-checked by explicit lookups, outputs are bound by their
    # commitment.
    "ignore_range_check_inputs_outputs": True,
}


def _call(what: str, error: Type[Error], fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call into ezkl; its exceptions (Rust panics included) become ``error``."""
    try:
        return fn(*args, **kwargs)
    except (KeyboardInterrupt, SystemExit, Error):
        raise
    except BaseException as e:  # pyo3's PanicException is a BaseException
        raise error(f"ezkl {what} failed: {e}") from e


def _module() -> Any:
    import ezkl  # imported on first use: ~0.5 s, and not needed to parse or plan

    return ezkl


def gen_srs(path: Path, logrows: int) -> None:
    """Write a development SRS for ``logrows`` (its trapdoor is known to this process)."""
    _call("gen_srs", CircuitError, _module().gen_srs, str(path), logrows)


def _committed_inputs(settings: Mapping[str, Any]) -> int:
    return int(sum(settings["module_sizes"].get("polycommit", []) or []))


def main_rows(settings: Mapping[str, Any]) -> int:
    """Rows of the circuit's main region, from the settings ``gen_settings`` wrote. ezkl
    23.0.5's ``gen_settings`` counts a copy of every
    ``polycommit`` input and output (its values over ``num_inner_cols`` columns) that synthesis
    never lays out (the values stay in their own committed column): that count is taken off.
    Measured for an output too: 3,000 values + 5 salts proved in 2^11 rows, where the
    uncorrected count (4,515) asked for 2^13. Measured: a
    gather of 300 values from 9 inputs of 197 is counted 886 rows more than from one input of
    300 (= (9·197 − 300) / 2). Were the correction too large, ezkl refuses to prove ("not
    enough rows", tests/test_kzg.py), it never proves something else."""
    committed = _committed_inputs(settings)
    return int(settings["num_rows"]) - -(-committed // int(settings["run_args"]["num_inner_cols"]))


def min_logrows(settings: Mapping[str, Any], spill: bool = False) -> int:
    """The smallest logrows at which every region of the circuit fits (mirrors ezkl's rules).
    With ``spill`` the main region is left out: ezkl lays a main region longer than the
    column height into more columns side by side (``total_assignments`` sets how many)."""
    modules = settings["module_sizes"]["poseidon"]
    instances = sum(modules[1]) + sum(math.prod(shape) for shape in settings.get("model_instance_shapes", []))
    needs = [
        0 if spill else settings["num_rows"],
        modules[0],
        settings.get("total_dynamic_col_size", 0) + settings.get("total_shuffle_col_size", 0),
        instances,
        max([hi - lo for lo, hi in settings.get("required_range_checks", [])] + [0]) + 1,
    ]
    return max(MIN_LOGROWS, math.ceil(math.log2(max(needs) + _RESERVED_ROWS)))


def compile_circuit(directory: Path, model: bytes, run_args: Mapping[str, Any]) -> Dict[str, Any]:
    """Write ``network.onnx``, ``settings.json`` and ``network.ezkl`` into ``directory``;
    returns the settings. The settings are made reproducible (ezkl fills its range-check and
    lookup lists from a per-process random ``HashSet``: they are sorted, so every party derives
    the same keys) and logrows is the smallest that fits. Refuses circuits over
    :data:`~zkimg.limits.MAX_LOGROWS` and any einsum laid out with the Freivalds chip."""
    ezkl = _module()
    onnx_path, settings_path = directory / "network.onnx", directory / "settings.json"
    onnx_path.write_bytes(model)
    forced = run_args.get("logrows")
    try:
        _gen_settings(onnx_path, settings_path, run_args)
    except CircuitError as e:
        if forced is None:
            raise
        # At a forced logrows ezkl 23.0.5 fails outright ("too many values to flush for this
        # column size": a dynamic lookup table, such as a strong Sharpen's clamp table, longer
        # than one column) instead of reporting what the job needs: ask it without the height.
        _gen_settings(onnx_path, settings_path, {k: v for k, v in run_args.items() if k != "logrows"})
        need = min_logrows(json.loads(settings_path.read_text()), spill=True)
        if need <= forced:
            raise e
        raise CircuitError(f"this tile job needs 2^{need} rows and its inputs' columns have 2^{forced} (the "
                           "capture's logrows): capture with a larger logrows") from e
    try:
        s: Dict[str, Any] = json.loads(settings_path.read_text())
        # ezkl sizes the main columns from total_assignments (one cell per value laid out):
        # the same uncounted copy is taken off it, which keeps one set of columns at the
        # capture's K (the raw count doubled them: 3,296 → 5,024-byte proofs, measured).
        s["num_rows"], s["total_assignments"] = main_rows(s), int(s["total_assignments"]) - _committed_inputs(s)
        need = min_logrows(s, spill=forced is not None)
        if forced is not None and need > forced:
            raise CircuitError(f"this tile job needs 2^{need} rows and its inputs' columns have 2^{forced} "
                               f"(the capture's logrows): use a smaller max_out")
        s["run_args"]["logrows"] = forced if forced is not None else need
        s["required_range_checks"] = sorted(s.get("required_range_checks", []))
        s["required_lookups"] = sorted(s.get("required_lookups", []), key=json.dumps)
        freivalds = (s.get("einsum_params") or {}).get("total_einsum_col_size", 0)
    except CircuitError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise CircuitError(f"ezkl wrote settings zkimg cannot read: {e}") from e
    if freivalds != 0:
        raise CircuitError("ezkl laid out an einsum with the Freivalds chip, whose outputs later cells are "
                           "not tied to: refusing to build this circuit")
    if s["run_args"]["logrows"] > MAX_LOGROWS:
        raise CircuitError(f"tile job needs 2^{s['run_args']['logrows']} rows; use smaller tiles")
    try:
        settings_path.write_text(json.dumps(s, sort_keys=True))
    except OSError as e:
        raise CircuitError(f"cannot write the circuit's settings: {e}") from e
    _call("compile", CircuitError, ezkl.compile_circuit, str(onnx_path), str(directory / "network.ezkl"),
          str(settings_path))
    return s


def _gen_settings(onnx_path: Path, settings_path: Path, run_args: Mapping[str, Any]) -> None:
    ezkl = _module()
    ra = ezkl.PyRunArgs()
    for k, v in run_args.items():
        setattr(ra, k, v)
    if not _call("gen_settings", CircuitError, ezkl.gen_settings, str(onnx_path), str(settings_path),
                 py_run_args=ra):
        raise CircuitError("ezkl gen_settings failed")


def kzg_commit(message: Sequence[str], vk: Path, settings: Path, srs: Path) -> List[Tuple[int, int]]:
    """``ezkl.kzg_commit``: the KZG commitments (affine points) of ``message`` (field elements
    as hex) cut into columns of ``2^K − unusable rows`` values, ``K`` being the SRS file's
    (ezkl 23.0.5 reads it from the file: an SRS of another size silently gives another point);
    the unusable rows (blinding factors + 1, from ``vk``) hold 1. One point more than full
    columns: the last is the remainder's."""
    points = _call("kzg_commit", CircuitError, _module().kzg_commit, list(message), str(vk), str(settings), str(srs))
    return [(int.from_bytes(bytes.fromhex(p.x), "little"), int.from_bytes(bytes.fromhex(p.y), "little"))
            for p in points]


def setup(compiled: Path, vk: Path, pk: Path, srs: Path) -> None:
    """Generate the verifying and proving keys of a compiled circuit under ``srs``."""
    ok = _call("setup", CircuitError, _module().setup, str(compiled), str(vk), str(pk), srs_path=str(srs))
    if not ok:
        raise CircuitError("ezkl setup failed")


def gen_witness(inputs: Sequence[Sequence[int | str]], compiled: Path, workdir: Path) -> Dict[str, Any]:
    """Run the compiled circuit on ``inputs`` (one flat list per graph input: integers, or field
    elements as ezkl's hex, which it uses as they are); returns the
    witness JSON (also kept in ``workdir / "witness.json"`` for :func:`prove`)."""
    data_path, wit_path = workdir / "input.json", workdir / "witness.json"
    data_path.write_text(json.dumps({"input_data": [[v if isinstance(v, str) else int(v) for v in x] for x in inputs]}))
    _call("witness generation", ProvingError, _module().gen_witness, str(data_path), str(compiled), str(wit_path))
    witness: Dict[str, Any] = json.loads(wit_path.read_text())
    return witness


def prove(workdir: Path, compiled: Path, pk: Path, srs: Path) -> bytes:
    """Prove the witness :func:`gen_witness` left in ``workdir``; the proof's bytes (no instances)."""
    proof_path = workdir / "proof.json"
    _call("prove", ProvingError, _module().prove, str(workdir / "witness.json"), str(compiled), str(pk),
          str(proof_path), srs_path=str(srs))
    raw = json.loads(proof_path.read_text())
    return bytes.fromhex(raw["hex_proof"].removeprefix("0x"))


def proof_json(proof: bytes, instances: Sequence[int]) -> Dict[str, Any]:
    """The proof file ezkl's verifier reads, with instances supplied by the caller (ezkl reads
    ``"proof"`` and ``"instances"``; ``"hex_proof"`` is informational)."""
    return {
        "protocol": None,
        "instances": [[felt_to_hex(i) for i in instances]],
        "proof": list(proof),
        "hex_proof": "0x" + proof.hex(),
        "split": None,
        "pretty_public_inputs": None,
        "timestamp": 0,
        "version": EZKL_VERSION,
    }


def verify(proof: bytes, instances: Sequence[int], settings: Path, vk: Path, srs: Path, what: str = "proof") -> None:
    """Run ezkl's verifier with instances, settings, key and SRS all chosen by the caller;
    raises :class:`~zkimg.errors.ProofInvalid` unless the proof verifies. (ezkl reports a
    failed proof as an exception, a panic or ``False``.)"""
    with tempfile.TemporaryDirectory(prefix="zkimg-verify-") as tmp:
        path = Path(tmp) / "proof.json"
        path.write_text(json.dumps(proof_json(proof, instances)))
        try:
            ok = _call("verify", ProofInvalid, _module().verify, str(path), str(settings), str(vk), srs_path=str(srs))
        except ProofInvalid as e:
            raise ProofInvalid(f"{what} does not verify: {e.__cause__}") from e.__cause__
    if ok is not True:
        raise ProofInvalid(f"{what} does not verify")

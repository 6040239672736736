"""Proving one tile job: witness, proof, and the public :class:`TileProof` record."""

from __future__ import annotations

import json
import logging
import tempfile
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .circuits import EZKL_VERSION, Circuit, CircuitStore
from .commitments import check_salt, commit, felt_from_hex, felt_to_hex, new_salt
from .errors import CircuitError, CommitmentMismatch, InvalidBundle, InvalidParameter, ProvingError
from .fileio import write_atomic, write_private
from .pipeline import parse_json
from .lowering import PACK_GROUP, SALT_BYTES, CircuitSpec, TileJob, run_reference
from .pool import executor_for
from .primitives import run_all
from .progress import ProgressCallback, report
from .transforms import check_image

log = logging.getLogger("zkimg.prove")

TILE_PROOF_SCHEMA = "zkimg.tile-proof/1"
MAX_PROOF_BYTES = 1 << 20


def _ezkl_call(what: str, fn, *args: Any, **kwargs: Any) -> Any:
    """Call into ezkl, turning its exceptions (Rust panics included) into ``ProvingError``."""
    try:
        return fn(*args, **kwargs)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # pyo3's PanicException is a BaseException
        raise ProvingError(f"ezkl {what} failed: {e}") from e


def _unpack(felts_hex: List[str], n: int) -> np.ndarray:
    """Inverse of ``pack`` for witness outputs: n byte values from little-endian hex felts."""
    out = bytearray()
    for h in felts_hex:
        out += felt_from_hex(h).to_bytes(32, "little")[:PACK_GROUP]
    return np.frombuffer(bytes(out[:n]), dtype=np.uint8)


@dataclass(frozen=True)
class Witness:
    """ezkl's witness of one circuit: its own outputs and commitments."""

    circuit: Circuit
    path: Path
    output: np.ndarray  # uint8, spec.output_shape, as computed in the circuit
    part_commitments: Tuple[int, ...]  # Poseidon(pack(part_i ‖ salt_i)) for every part
    output_commitment: int  # Poseidon(pack(output [‖ output salt]))

    @property
    def input_commitment(self) -> int:
        """The single part's commitment (one-part circuits such as a :class:`TileJob`)."""
        (c,) = self.part_commitments
        return c


def generate_witness(store: CircuitStore, job: "TileJob | CircuitSpec", parts: "np.ndarray | Sequence[np.ndarray]",
                     salts: "bytes | Sequence[bytes]", output_salt: Optional[bytes], workdir: Path) -> Witness:
    """Run the circuit of ``job`` on its hidden ``parts`` (a tile, for a :class:`TileJob`).

    Checks nothing about the result; :func:`prove_tile` compares it with the reference.
    """
    import ezkl

    spec = job.spec() if isinstance(job, TileJob) else job
    if isinstance(parts, np.ndarray):
        parts, salts = [parts], [salts]  # type: ignore[list-item]
    circuit = store.circuit(spec)
    _, hints = run_reference(spec, spec.assemble(parts))
    inputs: List[List[int]] = [np.asarray(p).ravel().tolist() + list(s) for p, s in zip(parts, salts)]
    if spec.hidden_output:
        inputs.append(list(output_salt or b""))
    inputs += [h.ravel().tolist() for h in hints]
    data_path, wit_path = workdir / "input.json", workdir / "witness.json"
    data_path.write_text(json.dumps({"input_data": inputs}))
    _ezkl_call("witness generation", ezkl.gen_witness, str(data_path), str(circuit.compiled_path), str(wit_path))
    w = json.loads(wit_path.read_text())
    hashes = [felt_from_hex(h) for h in w["processed_outputs"]["poseidon_hash"]]
    out = _unpack(w["outputs"][-1], int(np.prod(spec.output_shape))).reshape(spec.output_shape)
    return Witness(circuit, wit_path, out, tuple(hashes[:-1]), hashes[-1])


@dataclass(frozen=True)
class TileProof:
    """The public record of one proved tile job. Holds no pixels, salts or output instances."""

    job: TileJob
    input_commitment: int
    output_commitment: Optional[int]  # only for a hidden output; a public one is recomputed
    srs_digest: str
    development_srs: bool
    proof: bytes

    def to_json(self) -> Dict[str, Any]:
        return {
            "schema": TILE_PROOF_SCHEMA,
            "job": self.job.to_json(),
            "input_commitment": felt_to_hex(self.input_commitment),
            "output_commitment": None if self.output_commitment is None else felt_to_hex(self.output_commitment),
            "srs_digest": self.srs_digest,
            "development_srs": self.development_srs,
            "proof": self.proof.hex(),
        }

    @classmethod
    def from_json(cls, data: Any) -> "TileProof":
        """Strictly parse :meth:`to_json` output; anything else raises InvalidBundle."""
        keys = {"schema", "job", "input_commitment", "output_commitment", "srs_digest", "development_srs", "proof"}
        if not isinstance(data, dict) or set(data) != keys:
            raise InvalidBundle(f"a tile proof is an object with exactly the keys {sorted(keys)}")
        if data["schema"] != TILE_PROOF_SCHEMA:
            raise InvalidBundle(f"unsupported tile proof schema {data['schema']!r}")
        job = TileJob.from_json(data["job"])
        try:
            c_in = felt_from_hex(data["input_commitment"])
            c_out = None if data["output_commitment"] is None else felt_from_hex(data["output_commitment"])
        except CommitmentMismatch as e:
            raise InvalidBundle(f"malformed commitment: {e}") from e
        if (c_out is not None) != job.hidden_output:
            raise InvalidBundle("output_commitment is present exactly when the output is hidden")
        srs = data["srs_digest"]
        if not isinstance(srs, str) or len(srs) != 64 or any(ch not in "0123456789abcdef" for ch in srs):
            raise InvalidBundle("srs_digest must be 64 lowercase hex digits")
        if not isinstance(data["development_srs"], bool):
            raise InvalidBundle("development_srs must be a boolean")
        p = data["proof"]
        if not isinstance(p, str) or not 0 < len(p) <= 2 * MAX_PROOF_BYTES or len(p) % 2:
            raise InvalidBundle("proof must be a non-empty even-length hex string of bounded size")
        try:
            proof = bytes.fromhex(p)
        except ValueError as e:
            raise InvalidBundle("proof is not hexadecimal") from e
        return cls(job, c_in, c_out, srs, data["development_srs"], proof)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def loads(cls, text: str | bytes) -> "TileProof":
        return cls.from_json(parse_json(text, 4 * MAX_PROOF_BYTES, "tile proof"))


@dataclass(frozen=True)
class ProvedTile:
    """A proof plus the prover's secrets. Publish ``proof`` (and ``output`` if public) only."""

    proof: TileProof
    output: np.ndarray
    salt: bytes
    output_salt: Optional[bytes]


def prove_tile(job: TileJob, tile: np.ndarray, *, salt: Optional[bytes] = None,
               output_salt: Optional[bytes] = None, store: Optional[CircuitStore] = None) -> ProvedTile:
    """Prove ``job`` on the hidden ``tile`` (uint8, ``job.input_shape``).

    ``salt`` is the tile's commitment salt (fresh from the CSPRNG if omitted; pass the
    camera's salt to link to its commitment). ``output_salt`` likewise for a hidden output.
    Keys come from ``store`` (setup runs only the first time a job shape is seen).
    """
    check_image(tile, "tile")
    if tile.shape != job.input_shape:
        raise InvalidParameter("tile", f"expected shape {job.input_shape}, got {tile.shape}")
    salt = check_salt(new_salt() if salt is None else salt)
    if job.hidden_output:
        output_salt = check_salt(new_salt() if output_salt is None else output_salt, "output_salt")
    elif output_salt is not None:
        raise InvalidParameter("output_salt", "only a hidden output takes a salt")
    store = store if store is not None else CircuitStore()
    proof_bytes = prove_spec(store, job.spec(), [tile.ravel()], [salt], output_salt)
    keys = store.keys(store.circuit(job))
    output = job.apply(tile)
    c_out = commit(output, output_salt) if output_salt is not None else None
    return ProvedTile(
        proof=TileProof(job, commit(tile, salt), c_out, keys.srs_digest, store.srs.development, proof_bytes),
        output=output,
        salt=salt,
        output_salt=output_salt,
    )


def ezkl_proof_json(proof: bytes, instances: Tuple[int, ...]) -> Dict[str, Any]:
    """The proof file ezkl's verifier reads, with instances supplied by the caller."""
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




# --------------------------------------------------------------------------- whole images



def prove_spec(store: CircuitStore, spec: CircuitSpec, parts: Sequence[np.ndarray], salts: Sequence[bytes],
               output_salt: Optional[bytes] = None) -> bytes:
    """Prove one circuit on its hidden parts; returns the proof bytes (no instances)."""
    import ezkl

    with tempfile.TemporaryDirectory(prefix="zkimg-prove-") as tmp:
        work = Path(tmp)
        wit = generate_witness(store, spec, list(parts), list(salts), output_salt, work)
        expected = run_all(spec.primitives, spec.assemble(parts).astype(np.int64))
        if not np.array_equal(wit.output, expected):
            raise CircuitError("circuit output differs from the reference (a lowering bug)")
        keys = store.keys(wit.circuit)
        proof_path = work / "proof.json"
        _ezkl_call("prove", ezkl.prove, str(wit.path), str(wit.circuit.compiled_path), str(keys.pk_path),
                   str(proof_path), srs_path=str(keys.srs_path))
        raw = json.loads(proof_path.read_text())
        return bytes.fromhex(raw["hex_proof"].removeprefix("0x"))


def _prove_job(cache_dir: str, srs: Any, spec: CircuitSpec, parts: List[np.ndarray], salts: List[bytes],
               output_salt: Optional[bytes]) -> bytes:
    """Executor entry point (module level, so it pickles): one job in a worker."""
    return prove_spec(CircuitStore(cache_dir, srs), spec, parts, salts, output_salt)


@dataclass(frozen=True)
class PlanProofs:
    """The proofs of a plan (job order), SRS digests by logrows and, for a hidden output,
    each output tile's commitment and salt (the salts are secret)."""

    proofs: Tuple[bytes, ...]
    srs_digests: Dict[int, str]
    output_commitments: Optional[Tuple[int, ...]]
    output_salts: Optional[Tuple[bytes, ...]]


def _output_salt(workdir: Optional[Path], index: int) -> bytes:
    """A fresh salt for a hidden output tile, kept (owner-only) in ``workdir`` for resumption."""
    if workdir is None:
        return new_salt()
    f = workdir / f"job-{index:06d}.salt"
    if f.exists() and f.stat().st_size == SALT_BYTES:
        return f.read_bytes()
    salt = new_salt()
    write_private(f, salt)
    return salt


def prove_plan(plan: Any, pixels: np.ndarray, salts: Sequence[bytes], *, store: Optional[CircuitStore] = None,
               executor: Optional[Executor] = None, progress: Optional[ProgressCallback] = None,
               workdir: Optional[Path] = None) -> PlanProofs:
    """Prove every job of ``plan`` over the committed ``pixels`` (one salt per layout cell).

    Circuits and keys are built once per distinct circuit, in this process, before the
    jobs run on ``executor`` (default: a process pool sized to the machine). Finished
    proofs are written to ``workdir`` as they complete (atomically), and a later call with
    the same ``workdir`` reuses them. ``progress`` gets ("setup", circuits ready, distinct
    circuits) and ("prove", jobs done, jobs) as each finishes.
    For a hidden-output plan each output tile gets a fresh salt (kept beside its proof).
    """
    store = store if store is not None else CircuitStore()
    layout = plan.layout
    layout.check_image(pixels)
    if len(salts) != len(layout.cells):
        raise InvalidParameter("salts", f"need one salt per cell ({len(layout.cells)})")
    workdir = Path(workdir) if workdir is not None else None
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        stamp, digest = workdir / "plan.sha256", plan_digest(plan, pixels, salts)
        if stamp.exists() and stamp.read_text() != digest:
            raise InvalidParameter("workdir", f"{workdir} holds tile proofs of a different plan or capture")
        stamp.write_text(digest)
    jobs = plan.jobs
    digests: Dict[int, str] = {}
    specs = list(dict.fromkeys(j.spec for j in jobs))
    report(progress, "setup", 0, len(specs))
    for n, spec in enumerate(specs, 1):  # one setup per distinct circuit
        circuit = store.circuit(spec)
        digests[circuit.logrows] = store.keys(circuit).srs_digest
        report(progress, "setup", n, len(specs))
    out_salts = {j.index: _output_salt(workdir, j.index) for j in jobs} if plan.hidden_output else {}
    proofs: Dict[int, bytes] = {}
    pending = []
    for job in jobs:
        f = workdir / f"job-{job.index:06d}.proof" if workdir is not None else None
        if f is not None and f.exists() and f.stat().st_size > 0:
            proofs[job.index] = f.read_bytes()
        else:
            pending.append(job)
    total, done = len(jobs), len(proofs)
    report(progress, "prove", done, total)
    with executor_for(executor, len(pending), 2) as pool:
        if pool is None:
            results = ((job, prove_spec(store, job.spec, _parts(layout, pixels, job), [salts[k] for k in job.cells],
                                        out_salts.get(job.index)))
                       for job in pending)
        else:
            futs = {pool.submit(_prove_job, str(store.cache_dir), store.srs, job.spec, _parts(layout, pixels, job),
                                [salts[k] for k in job.cells], out_salts.get(job.index)): job for job in pending}
            results = ((futs[f], f.result()) for f in as_completed(futs))
        for job, proof in results:
            proofs[job.index] = proof
            if workdir is not None:
                write_atomic(workdir / f"job-{job.index:06d}.proof", proof)
            done += 1
            log.info("proved tile job %d/%d", done, total)
            report(progress, "prove", done, total)
    commitments = salts_out = None
    if plan.hidden_output:
        output = plan.pipeline.apply(pixels)
        salts_out = tuple(out_salts[j.index] for j in jobs)
        commitments = tuple(commit(np.ascontiguousarray(output[j.rows[0]:j.rows[1], j.cols[0]:j.cols[1]]), s)
                            for j, s in zip(jobs, salts_out))
    return PlanProofs(tuple(proofs[j.index] for j in jobs), digests, commitments, salts_out)


def _parts(layout: Any, pixels: np.ndarray, job: Any) -> List[np.ndarray]:
    return [layout.cell_pixels(pixels, layout.cells[k]).ravel() for k in job.cells]


def plan_digest(plan: Any, pixels: np.ndarray, salts: Sequence[bytes]) -> str:
    """Identifies a plan's jobs (pipeline, layout, plan parameters) over one committed input
    (its pixels and salts, so a work dir never hands one capture's proofs or output salts to
    another) for resumable work dirs."""
    import hashlib

    from .pipeline import canonical_json

    h = hashlib.sha256(canonical_json({"pipeline": plan.pipeline.to_json(), "layout": plan.layout.to_json(),
                                       "max_out": plan.max_out, "hidden": plan.hidden_output,
                                       "tiles_per_job": plan.tiles_per_job}))
    h.update(b"\0" + np.ascontiguousarray(pixels).tobytes() + b"".join(salts))
    return h.hexdigest()

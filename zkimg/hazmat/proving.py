"""Proving: one circuit on its hidden parts (:func:`prove_spec`), one tile job
(:func:`prove_tile`), and every job of a plan (:func:`prove_plan`, resumable)."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import sys
import tempfile
import time
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple, cast

import numpy as np

from .._codec import canonical_json
from .._fileio import write_atomic, write_private
from .._pool import executor_for
from .._validate import check_image
from ..errors import CircuitError, InvalidParameter
from ..progress import ProgressCallback, report
from . import _ezkl
from .circuits import SRS, Circuit, CircuitStore, sha256_file
from .commitments import CommitmentScheme, ProofContext, check_salt, new_salt
from .lowering import CircuitSpec, TileJob, run_reference
from .plan import Plan, PlannedJob
from .primitives import run_all
from .tile_proof import TileProof
from .tiles import TileLayout

log = logging.getLogger("zkimg.hazmat.proving")


@dataclass(frozen=True)
class Witness:
    """ezkl's witness of one circuit: its own outputs and commitments."""

    circuit: Circuit
    workdir: Path  # holds ezkl's witness file, which :func:`_ezkl.prove` reads
    output: np.ndarray  # uint8, spec.output_shape, as computed in the circuit
    part_commitments: Tuple[int, ...]  # the commitment of every part with its salt (schemes hashing in the circuit)
    output_commitment: Optional[int]  # the output's (with its salt if hidden)
    state: Any = None  # the scheme's per-proof secrets, for its seal (KZG: the salt shifts)

    @property
    def path(self) -> Path:
        """ezkl's witness file."""
        return self.workdir / "witness.json"

    @property
    def input_commitment(self) -> int:
        """The single part's commitment (one-part circuits such as a :class:`TileJob`)."""
        (c,) = self.part_commitments
        return c


def generate_witness(store: CircuitStore, job: "TileJob | CircuitSpec", parts: "np.ndarray | Sequence[np.ndarray]",
                     salts: "bytes | Sequence[bytes]", output_salt: Optional[bytes], workdir: Path) -> Witness:
    """Run the circuit of ``job`` on its hidden ``parts`` (a tile, for a :class:`TileJob`).

    Checks nothing about the result; :func:`prove_spec` compares it with the reference.
    """
    spec = job.spec() if isinstance(job, TileJob) else job
    if isinstance(parts, np.ndarray):
        part_list, salt_list = [parts], [salts]
    else:
        part_list, salt_list = list(parts), list(salts)  # type: ignore[arg-type]
    circuit = store.circuit(spec)
    _, hints = run_reference(spec, spec.assemble(part_list))  # the rounding hints
    scheme = spec.commitment_scheme
    inputs, state = scheme.witness_inputs(part_list, cast(List[bytes], salt_list), output_salt if spec.hidden_output else None, hints)
    w = _ezkl.gen_witness(inputs, circuit.compiled_path, workdir)
    hashes = scheme.witness_commitments(w)
    out = scheme.witness_output(w, int(np.prod(spec.output_shape))).reshape(spec.output_shape)
    return Witness(circuit, workdir, out, tuple(hashes[:-1]), hashes[-1] if hashes else None, state)


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
    spec = job.spec()
    proof_bytes, output = _prove(store, spec, [tile.ravel()], [salt], output_salt)
    keys = store.keys(store.circuit(spec))
    scheme = spec.commitment_scheme
    c_out = scheme.commit(output, output_salt) if output_salt is not None else None
    return ProvedTile(
        proof=TileProof(job, scheme.commit(tile, salt), c_out, keys.srs_digest, store.srs.development, proof_bytes),
        output=output,
        salt=salt,
        output_salt=output_salt,
    )


def _prove(store: CircuitStore, spec: CircuitSpec, parts: Sequence[np.ndarray], salts: Sequence[bytes],
           output_salt: Optional[bytes], context: Optional[ProofContext] = None) -> Tuple[bytes, np.ndarray]:
    """:func:`prove_spec`, also returning the proved output. Per job the reference graph runs
    once (onnxruntime: the rounding hints) and the numpy specification once: the circuit's
    output must equal the specification, which shares no code with the lowering."""
    with tempfile.TemporaryDirectory(prefix="zkimg-prove-") as tmp:
        wit = generate_witness(store, spec, list(parts), list(salts), output_salt, Path(tmp))
        expected = run_all(spec.primitives, spec.assemble(parts).astype(np.int64)).astype(np.uint8)
        if not np.array_equal(wit.output, expected):
            raise CircuitError("circuit output differs from the specification (a lowering bug)")
        keys = store.keys(wit.circuit)
        proof = _ezkl.prove(wit.workdir, wit.circuit.compiled_path, keys.pk_path, keys.srs_path)
        if wit.state is None:
            return proof, expected
        if context is None:
            raise InvalidParameter("context", f"a {spec.scheme} proof is bound to its place in a capture")
        return spec.commitment_scheme.seal(proof, wit.state, dataclasses.replace(context, srs_path=keys.srs_path)), expected


def prove_spec(store: CircuitStore, spec: CircuitSpec, parts: Sequence[np.ndarray], salts: Sequence[bytes],
               output_salt: Optional[bytes] = None, context: Optional[ProofContext] = None) -> bytes:
    """Prove one circuit on its hidden parts; returns the proof record (no instances): ezkl's
    proof, with what the scheme binds to ``context`` (the KZG links) in front."""
    return _prove(store, spec, parts, salts, output_salt, context)[0]


def _peak_rss() -> int:
    """This process's peak resident memory in bytes (0 where the platform does not say)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return 0
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(kb if sys.platform == "darwin" else kb * 1024)  # macOS reports bytes, Linux KiB


def _prove_job(cache_dir: str, srs: SRS, spec: CircuitSpec, parts: List[np.ndarray], salts: List[bytes],
               output_salt: Optional[bytes], context: Optional[ProofContext]) -> Tuple[bytes, int]:
    """Executor entry point (module level, so it pickles): one job in a worker; the proof and
    the worker's peak memory."""
    return prove_spec(CircuitStore(cache_dir, srs), spec, parts, salts, output_salt, context), _peak_rss()


@dataclass(frozen=True)
class PlanProofs:
    """The proofs of a plan (job order), SRS digests by logrows and, for a hidden output,
    each output tile's commitment and salt (the salts are secret)."""

    proofs: Tuple[bytes, ...]
    srs_digests: Dict[int, str]
    output_commitments: Optional[Tuple[int, ...]]
    output_salts: Optional[Tuple[bytes, ...]]


def proof_file(workdir: Path, index: int) -> Path:
    """Where a work folder keeps the finished proof of job ``index``."""
    return workdir / f"job-{index:06d}.proof"


def finished_jobs(workdir: Path, jobs: int) -> Set[int]:
    """Indices (below ``jobs``) of the jobs whose proofs ``workdir`` holds: what a rerun with it
    reuses (whether they belong to this plan is checked by :func:`prove_plan`, not here)."""
    return {i for i in range(jobs) if _nonempty(proof_file(workdir, i))} if workdir.is_dir() else set()


def _nonempty(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def _output_salt(scheme: CommitmentScheme, workdir: Optional[Path], index: int) -> bytes:
    """A fresh salt (``scheme``'s) for a hidden output tile, kept (owner-only) in ``workdir``
    for resumption."""
    if workdir is None:
        return scheme.new_salt()
    f = workdir / f"job-{index:06d}.salt"
    if f.exists() and f.stat().st_size == scheme.salt_bytes:
        return scheme.check_salt(f.read_bytes(), str(f))
    salt = scheme.new_salt()
    write_private(f, salt)
    return salt


def prove_plan(plan: Plan, pixels: np.ndarray, salts: Sequence[bytes], *, store: Optional[CircuitStore] = None,
               executor: Optional[Executor] = None, progress: Optional[ProgressCallback] = None,
               workdir: Optional[Path] = None, root: int = 0,
               commitments: Optional[Sequence[int]] = None) -> PlanProofs:
    """Prove every job of ``plan`` over the committed ``pixels`` (one salt per layout cell).

    Circuits and keys are built once per distinct circuit, in this process, before the
    jobs run on ``executor`` (default: a process pool sized to the machine). Finished
    proofs are written to ``workdir`` as they complete (atomically), and a later call with
    the same ``workdir`` reuses them. ``progress`` gets ("setup", circuits ready, distinct
    circuits), ("resume", proofs reused, jobs) once if a ``workdir`` is given, and ("prove",
    jobs done, jobs) as each finishes. What the run cost (setup and proving rates per row of
    ``2^logrows``, peak memory, proof sizes) is recorded in the store's cache
    (:meth:`CircuitStore.record_timings`) for :func:`zkimg.estimate`.
    For a hidden-output plan each output tile gets a fresh salt (kept beside its proof).
    Under a scheme that binds proofs to their place (KZG), ``root`` and ``commitments`` (the
    capture's, one per cell) are required: each proof's links name them.
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
            raise InvalidParameter("workdir", f"{workdir} holds tile proofs of another edit or capture: "
                                              "use another work folder, or delete this one to start afresh")
        stamp.write_text(digest)
    jobs = plan.jobs
    digests: Dict[int, str] = {}
    specs = list(dict.fromkeys(j.spec for j in jobs))
    setup_rates: Dict[int, float] = {}  # logrows → seconds per row of a setup measured here
    report(progress, "setup", 0, len(specs))
    for n, spec in enumerate(specs, 1):  # one setup per distinct circuit
        circuit = store.circuit(spec)
        store.srs.digest(circuit.logrows)  # a development SRS made now is not part of the setup's time
        built, t0 = store.stats.setups, time.perf_counter()
        digests[circuit.logrows] = store.keys(circuit).srs_digest
        if store.stats.setups > built:
            setup_rates[circuit.logrows] = (time.perf_counter() - t0) / circuit.laid_out_rows
        report(progress, "setup", n, len(specs))
    out_salts = {j.index: _output_salt(plan.scheme, workdir, j.index) for j in jobs} if plan.hidden_output else {}
    done_before = finished_jobs(workdir, len(jobs)) if workdir is not None else set()
    proofs = {job.index: proof_file(workdir, job.index).read_bytes() for job in jobs
              if workdir is not None and job.index in done_before}
    pending = [job for job in jobs if job.index not in proofs]
    total, done = len(jobs), len(proofs)
    if workdir is not None:
        report(progress, "resume", done, total)
    report(progress, "prove", done, total)
    rows = {job.index: store.circuit(job.spec).laid_out_rows for job in pending}
    vk_digests: Dict[CircuitSpec, str] = {}
    contexts = {job.index: proof_context(store, job, layout, root, commitments, vk_digests)
                for job in (jobs if plan.hidden_output else pending)}  # a hidden output's point is read from its proof
    rss, t0 = 0, time.perf_counter()
    with executor_for(executor, len(pending), 2) as pool:
        workers = 1 if pool is None else (min(os.cpu_count() or 1, len(pending)) if executor is None else None)
        results: Iterator[Tuple[PlannedJob, Tuple[bytes, int]]]
        if pool is None:
            results = ((job, (prove_spec(store, job.spec, _parts(layout, pixels, job), [salts[k] for k in job.cells],
                                         out_salts.get(job.index), contexts[job.index]), 0))
                       for job in pending)
        else:
            futs = {pool.submit(_prove_job, str(store.cache_dir), store.srs, job.spec, _parts(layout, pixels, job),
                                [salts[k] for k in job.cells], out_salts.get(job.index), contexts[job.index]): job
                    for job in pending}
            results = ((futs[f], f.result()) for f in as_completed(futs))
        for job, (proof, job_rss) in results:
            proofs[job.index] = proof
            rss = max(rss, job_rss or _peak_rss())
            if workdir is not None:
                write_atomic(proof_file(workdir, job.index), proof)
            done += 1
            log.info("proved tile job %d/%d", done, total)
            report(progress, "prove", done, total)
    if pending or setup_rates:
        sizes = [store.circuit(j.spec).logrows for j in pending]
        main = max(set(sizes), key=lambda k: sizes.count(k) * 2 ** k) if sizes else None  # most of the rows
        wall = time.perf_counter() - t0
        store.record_timings(
            setup_s_per_row=setup_rates,
            prove_s_per_row={main: wall / sum(rows.values())} if main is not None and workers else {},
            prove_workers=workers if pending else None,
            rss_bytes_per_row={max(sizes): rss / 2 ** max(sizes)} if rss and sizes else {},
            proof_bytes={store.circuit(j.spec).digest: len(proofs[j.index]) for j in pending})
    out_commitments = salts_out = None
    if plan.hidden_output:
        output = plan.pipeline.apply(pixels)
        salts_out = tuple(out_salts[j.index] for j in jobs)
        out_commitments = tuple(
            plan.scheme.proved_output_commitment(proofs[j.index],
                                                 np.ascontiguousarray(output[j.rows[0]:j.rows[1], j.cols[0]:j.cols[1]]),
                                                 s, contexts.get(j.index))
            for j, s in zip(jobs, salts_out))
    return PlanProofs(tuple(proofs[j.index] for j in jobs), digests, out_commitments, salts_out)


def proof_context(store: CircuitStore, job: PlannedJob, layout: TileLayout, root: int,
                  commitments: Optional[Sequence[int]],
                  vk_digests: Optional[Dict[CircuitSpec, str]] = None) -> Optional[ProofContext]:
    """What a proof of ``job`` is bound to, where its scheme binds proofs (else None);
    ``vk_digests`` caches the verifying keys' digests by circuit across calls."""
    if layout.scheme.commits_natively:
        return None
    vk_digests = vk_digests if vk_digests is not None else {}
    if commitments is None or len(commitments) != len(layout.cells):
        raise InvalidParameter("commitments", f"a {layout.scheme.name} plan needs its input's cell commitments")
    circuit = store.circuit(job.spec)
    if job.spec not in vk_digests:
        vk_digests[job.spec] = sha256_file(store.keys(circuit).vk_path)
    return ProofContext(root, job.index, job.cells, vk_digests[job.spec], tuple(commitments[k] for k in job.cells),
                        job.spec.part_sizes, output_point=circuit.output_point)


def _parts(layout: TileLayout, pixels: np.ndarray, job: PlannedJob) -> List[np.ndarray]:
    return [layout.cell_pixels(pixels, layout.cells[k]).ravel() for k in job.cells]


def plan_digest(plan: Plan, pixels: np.ndarray, salts: Sequence[bytes]) -> str:
    """Identifies a plan's jobs (pipeline, layout, plan parameters) over one committed input
    (its pixels and salts, so a work dir never hands one capture's proofs or output salts to
    another) for resumable work dirs."""
    h = hashlib.sha256(canonical_json({"pipeline": plan.pipeline.to_json(), "layout": plan.layout.to_json(),
                                       "max_out": plan.max_out, "hidden": plan.hidden_output,
                                       "tiles_per_job": plan.tiles_per_job}))
    h.update(b"\0" + np.ascontiguousarray(pixels).tobytes() + b"".join(salts))
    return h.hexdigest()

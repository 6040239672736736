"""``zkimg.estimate``: what proving an edit will cost, before any key is made or tile proved.

The plan (jobs, distinct circuits) is exact, and so are each circuit's rows and ``logrows``:
:func:`estimate` compiles every distinct circuit, as :func:`zkimg.prove` would first (the
compiled circuits stay in the cache, so the later prove does not pay for them again). Times,
memory and bundle size are estimates: every cost of a circuit grows with its ``2^logrows``, so
they scale rates per row of ``2^logrows`` measured on this machine by the last prove that used
the same cache (:class:`~zkimg.hazmat.circuits.Timings`). Until a first prove has measured
them, the reference rates below are used, and :attr:`Estimate.measured` is ``False``.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .attest import resolve_max_out
from .camera import Capture, SignedCapture
from .errors import InvalidParameter
from .hazmat.circuits import CircuitStore, Timings
from .hazmat.plan import DEFAULT_TILES_PER_JOB, chain_plans, segment_workdir
from .hazmat.proving import finished_jobs
from .pipeline import Pipeline, as_pipeline

#: Reference rates, measured on a 2-core x86_64 machine with ezkl 23.0.5 (benchmarks/RESULTS.md:
#: the 720p README example, 527 jobs of mostly 2^16 rows in 7,052 s on 2 workers, 3.86 GB peak;
#: the 2^17 baseline circuit's setup, 26.8 s). Used until this machine has measured its own.
REFERENCE_SETUP_S_PER_ROW = 2.0e-4
REFERENCE_PROVE_S_PER_ROW = 2.0e-4  # wall seconds per row of the jobs, for REFERENCE_WORKERS workers
REFERENCE_WORKERS = 2
REFERENCE_RSS_BYTES_PER_ROW = 28_000.0
REFERENCE_PROOF_BYTES = 4_300
#: The parent process's own memory while its workers prove (the plan, pixels, bookkeeping).
PARENT_RSS_BYTES = 400 * 2 ** 20
#: A prove whose estimate exceeds this many seconds is worth a warning (the CLI prints one).
LONG_RUN_S = 600.0


@dataclass(frozen=True)
class CircuitCost:
    """One distinct circuit of the plan: its size and how many jobs use it."""

    digest: str
    logrows: int
    rows: int  # rows of the main region (over 2^logrows: laid out in several blocks of columns)
    jobs: int
    keyed: bool  # its keys are already in the cache (no setup to pay)

    @property
    def laid_out_rows(self) -> int:
        """``2^logrows`` per block of main columns (as :attr:`Circuit.laid_out_rows`)."""
        n = 1 << int(self.logrows)
        return n * max(1, -(-int(self.rows) // n))


@dataclass(frozen=True)
class Estimate:
    """What :func:`zkimg.prove` would do and, roughly, cost on this machine.

    ``jobs`` and ``circuits`` are exact; ``setup_s`` (keys of the circuits not yet keyed),
    ``prove_s`` (wall time of proving the jobs on ``workers`` processes), ``peak_rss_bytes``
    and ``bundle_bytes`` (saved, gzip) are estimates from rates per row of ``2^logrows``:
    measured on this machine when ``measured`` is true, else reference rates of a 2-core
    machine. ``reused`` proofs were found in the work folder and are not proved again.
    """

    jobs: int
    circuits: Tuple[CircuitCost, ...]
    workers: int
    setup_s: float
    prove_s: float
    peak_rss_bytes: int
    bundle_bytes: int
    measured: bool
    reused: int = 0
    measured_at: Tuple[int, ...] = ()  # the logrows this machine's proving rates were measured at

    @property
    def total_s(self) -> float:
        """Estimated wall time of setup and proving together, seconds."""
        return self.setup_s + self.prove_s

    @property
    def long(self) -> bool:
        """Whether the estimate is over :data:`LONG_RUN_S` (worth a warning before starting)."""
        return self.total_s > LONG_RUN_S

    def lines(self) -> List[str]:
        """A human summary, one fact per line."""
        by_k: Dict[int, List[CircuitCost]] = {}
        for c in self.circuits:
            by_k.setdefault(c.logrows, []).append(c)
        sizes = "; ".join(
            f"2^{k}: {sum(c.jobs for c in cs):,} job{'s' * (sum(c.jobs for c in cs) != 1)} on {len(cs)} circuit"
            f"{'s' * (len(cs) != 1)} of " + _span([c.rows for c in cs]) + " rows"
            for k, cs in sorted(by_k.items(), reverse=True))
        fresh = sum(not c.keyed for c in self.circuits)
        basis = (f"rates measured on this machine at {', '.join(f'2^{k}' for k in self.measured_at)}"
                 + (" (the nearest size for the others)" if set(by_k) - set(self.measured_at) else "")
                 if self.measured else
                 "reference rates of a 2-core machine (a first prove here measures this machine's)")
        return [
            f"tile jobs    {self.jobs:,}" + (f" ({self.reused:,} already proved in the work folder)" if self.reused else ""),
            f"circuits     {len(self.circuits)} distinct: {sizes}",
            f"setup        ~{duration(self.setup_s)} ({fresh} of {len(self.circuits)} circuits to key)",
            f"prove        ~{duration(self.prove_s)} on {self.workers} worker{'s' * (self.workers != 1)}",
            f"memory       ~{self.peak_rss_bytes / 2 ** 30:.1f} GiB peak",
            f"bundle       ~{_size(self.bundle_bytes)}",
            f"estimate     {basis}",
        ]


def _span(values: List[int]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"


def duration(seconds: float) -> str:
    """``seconds`` for a person: "45 s", "12 min", "2.5 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def estimate(capture: "Capture | SignedCapture", pipeline: Pipeline, *, store: Optional[CircuitStore] = None,
             hide_output: bool = False, segments: Optional[Sequence[int]] = None,
             tiles_per_job: int = DEFAULT_TILES_PER_JOB, max_out: Optional[int] = None,
             workers: Optional[int] = None, workdir: Optional["Path | str"] = None) -> Estimate:
    """Estimate :func:`zkimg.prove` with the same arguments, without proving (see the module doc).

    Needs only the public capture record (``capture`` may be a :class:`~zkimg.Capture` or its
    ``signed`` part). ``workers`` defaults to what ``prove`` would start (one per core, at most
    one per job); ``workdir`` counts proofs already there as done (a resumed run; ``prove``
    itself refuses a work folder of another edit or capture, which only it can tell).
    """
    signed = capture.signed if isinstance(capture, Capture) else capture
    if not isinstance(signed, SignedCapture):
        raise InvalidParameter("capture", "expected a Capture or a SignedCapture")
    pipeline = as_pipeline(pipeline)
    store = store if store is not None else CircuitStore()
    max_out = resolve_max_out(max_out, pipeline, signed.layout, store, tiles_per_job, hide_output=hide_output,
                              segments=segments)
    plans = chain_plans(pipeline, signed.layout, hidden_output=hide_output, max_out=max_out, segments=segments,
                        tiles_per_job=tiles_per_job)
    uses: Dict[str, int] = {}
    costs: Dict[str, CircuitCost] = {}
    reused, hidden_tiles = 0, 0
    job_sizes: Dict[int, int] = {}  # logrows → rows laid out by the jobs still to prove
    for i, plan in enumerate(plans):
        done = finished_jobs(segment_workdir(workdir, i), plan.job_count) if workdir is not None else set()
        reused += len(done)
        if plan.hidden_output:
            hidden_tiles += plan.job_count
        for job in plan.jobs:
            circuit = store.circuit(job.spec)
            uses[circuit.digest] = uses.get(circuit.digest, 0) + 1
            if circuit.digest not in costs:
                costs[circuit.digest] = CircuitCost(circuit.digest, circuit.logrows, circuit.num_rows, 0,
                                                    store.keyed(circuit))
            if job.index not in done:  # rows laid out, by logrows (the rates are per row of 2^logrows)
                job_sizes[circuit.logrows] = job_sizes.get(circuit.logrows, 0) + circuit.laid_out_rows
    circuits = tuple(CircuitCost(c.digest, c.logrows, c.rows, uses[d], c.keyed) for d, c in costs.items())
    jobs = sum(p.job_count for p in plans)
    pending = jobs - reused
    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, pending)) if pending >= 2 else 1
    elif not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise InvalidParameter("workers", "must be a positive int")
    t = store.timings()
    measured = bool(t.prove_s_per_row) and t.prove_workers is not None
    scale = (t.prove_workers or REFERENCE_WORKERS) / workers if measured else REFERENCE_WORKERS / workers

    def rate(table: "Dict[int, float]", k: int, reference: float) -> float:
        found = Timings.rate(table, k)
        return reference if found is None else found

    top = max((c.logrows for c in circuits), default=0)
    proof_bytes = sum(t.proof_bytes.get(c.digest, REFERENCE_PROOF_BYTES) * c.jobs for c in circuits)
    record = len(gzip.compress(json.dumps(signed.to_json()).encode(), mtime=0))
    return Estimate(
        jobs=jobs,
        circuits=circuits,
        workers=workers,
        setup_s=sum(rate(dict(t.setup_s_per_row), c.logrows, REFERENCE_SETUP_S_PER_ROW) * c.laid_out_rows
                    for c in circuits if not c.keyed),
        prove_s=sum(rate(dict(t.prove_s_per_row) if measured else {}, k, REFERENCE_PROVE_S_PER_ROW) * rows
                    for k, rows in job_sizes.items()) * scale,
        peak_rss_bytes=int(rate(dict(t.rss_bytes_per_row), top, REFERENCE_RSS_BYTES_PER_ROW) * 2 ** top
                           * min(workers, max(pending, 1)) + (PARENT_RSS_BYTES if workers > 1 else 0)),
        bundle_bytes=record + proof_bytes + 40 * hidden_tiles + 1024,
        measured=measured,
        reused=reused,
        measured_at=tuple(sorted(t.prove_s_per_row)) if measured else (),
    )


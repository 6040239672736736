"""``zkimg.prove``: attest a pipeline applied to a whole captured image."""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple, cast

from .bundle import Attestation, Segment
from .camera import Capture
from .errors import CircuitError, InvalidParameter
from .hazmat import CircuitSpec
from .hazmat.circuits import CircuitStore
from .hazmat.plan import DEFAULT_MAX_OUT, DEFAULT_TILES_PER_JOB, chain_plans, segment_workdir
from .hazmat.proving import prove_plan
from .hazmat.tiles import TileLayout
from .pipeline import Pipeline, as_pipeline
from .progress import ProgressCallback, shifted

#: Output runs tried by :func:`fit_max_out`, largest first. Runs above 64 let ``tiles_per_job``
#: group more tiles into one KZG job: at ``K = 14`` four 64 px tiles of a 2× downscale (a
#: 128-pixel run) fit, and cost the verifier less per tile than two (benchmarks/RESULTS.md).
_RUNS = (256, 192, 128, 96, 64, 48, 40, 32, 24, 20, 16, 12, 10, 8, 6, 4, 3, 2, 1)


def fit_max_out(pipeline: Pipeline, layout: TileLayout, store: Optional[CircuitStore] = None, *,
                tiles_per_job: int = DEFAULT_TILES_PER_JOB, hide_output: bool = False,
                segments: Optional[Sequence[int]] = None) -> int:
    """The largest output run (``max_out``) whose jobs over ``layout`` all fit its scheme's
    fixed column height (KZG: ``2^K`` rows, signed in the capture), given as the smallest run
    that plans exactly those jobs; compiles each candidate's circuits in ``store`` (kept: the
    chosen ones are the ones proved). Runs longer than the jobs ``tiles_per_job`` makes plan the
    same jobs: such a candidate is compiled once. InvalidParameter if even single-pixel runs
    do not fit."""
    pipeline = as_pipeline(pipeline)
    store = store if store is not None else CircuitStore()

    def jobs(run: int) -> Tuple[CircuitSpec, ...]:
        plans = chain_plans(pipeline, layout, hidden_output=hide_output, max_out=run, segments=segments,
                            tiles_per_job=tiles_per_job)
        return tuple(j.spec for p in plans for j in p.jobs)

    refused: Set[Tuple[CircuitSpec, ...]] = set()
    for i, run in enumerate(_RUNS):
        planned = jobs(run)
        if planned in refused:
            continue
        try:
            for spec in dict.fromkeys(planned):
                store.circuit(spec)
        except CircuitError:
            refused.add(planned)
            continue
        for smaller in _RUNS[i + 1:]:
            if jobs(smaller) != planned:
                break
            run = smaller
        return run
    raise InvalidParameter("logrows", "no tile job of this pipeline fits the capture's columns; capture with a "
                                      "larger logrows")


def resolve_max_out(max_out: Optional[int], pipeline: Pipeline, layout: TileLayout, store: CircuitStore,
                    tiles_per_job: int = DEFAULT_TILES_PER_JOB, *, hide_output: bool = False,
                    segments: Optional[Sequence[int]] = None) -> int:
    """``max_out`` if given; else 64, or under a capture with fixed columns :func:`fit_max_out`."""
    if max_out is not None:
        return max_out
    if layout.scheme.commits_natively:
        return DEFAULT_MAX_OUT
    return fit_max_out(pipeline, layout, store, tiles_per_job=tiles_per_job, hide_output=hide_output,
                       segments=segments)


def prove(capture: Capture, pipeline: Pipeline, *, store: Optional[CircuitStore] = None,
          executor: Optional[Executor] = None, progress: Optional[ProgressCallback] = None,
          workdir: Optional[Path | str] = None, max_out: Optional[int] = None,
          hide_output: bool = False, segments: Optional[Sequence[int]] = None,
          tiles_per_job: int = DEFAULT_TILES_PER_JOB) -> Attestation:
    """Prove that ``pipeline.apply(original)`` is the published output of ``capture``.

    The original stays hidden (only its cells' salted commitments, signed by the camera,
    are public). Jobs run on ``executor`` (any ``concurrent.futures.Executor``, e.g. a
    Dask ``client.get_executor()``; default: a process pool sized to the machine);
    ``progress(stage, done, total)`` reports ``"setup"`` (circuits keyed) and ``"prove"``
    (tile proofs finished, counted over all segments); ``workdir`` keeps finished proofs so
    that an interrupted run resumes where it stopped (``"resume"`` then reports, per
    segment, how many proofs it found there). :func:`zkimg.estimate` says beforehand what
    a call will cost; every call records what it measured for the next estimate.
    With ``hide_output`` the output is committed tile by tile with fresh salts instead of
    being published; the salts are in ``attestation.output_salts`` (secret, not saved).
    ``segments`` (e.g. ``[1, 1, 1]``) proves groups of consecutive steps separately, with
    the images between them hidden behind fresh per-tile commitments that link the proofs;
    by default all steps are fused into one circuit per tile. ``tiles_per_job`` (1–16) proves
    that many consecutive tiles along the width in one job (the last segment's): fewer, larger
    proofs — a smaller bundle and fewer verifier calls, each job needing about that many times
    the rows, memory and time. ``max_out`` bounds a job's output run along each axis (default
    64; under a KZG capture, the largest run whose jobs fit the capture's ``2^K`` rows:
    :func:`fit_max_out`). The bundle records it: the verifier plans the same jobs.
    """
    if not isinstance(capture, Capture):
        raise InvalidParameter("capture", "expected a Capture (from Camera.capture) with its secrets")
    pipeline = as_pipeline(pipeline)
    store = store if store is not None else CircuitStore()
    if not isinstance(hide_output, bool):
        raise InvalidParameter("hide_output", "must be a bool")
    max_out = resolve_max_out(max_out, pipeline, capture.signed.layout, store, tiles_per_job, hide_output=hide_output,
                              segments=segments)
    plans = chain_plans(pipeline, capture.signed.layout, hidden_output=hide_output, max_out=max_out,
                        segments=segments, tiles_per_job=tiles_per_job)  # all first: progress counts the whole run
    totals = {"setup": sum(p.distinct_circuits for p in plans), "prove": sum(len(p.jobs) for p in plans)}
    before = {"setup": 0, "prove": 0}
    pixels, salts, commitments = capture.secrets.pixels, capture.secrets.salts, capture.signed.cell_commitments
    work = Path(workdir) if workdir is not None else None
    digests: Dict[int, str] = {}
    done: List[Segment] = []
    out_salts = None
    for i, plan in enumerate(plans):
        res = prove_plan(plan, pixels, salts, store=store, executor=executor,
                         progress=shifted(progress, before, totals),
                         workdir=segment_workdir(work, i) if work is not None else None,
                         root=capture.signed.root, commitments=commitments)
        before = {"setup": before["setup"] + plan.distinct_circuits, "prove": before["prove"] + len(plan.jobs)}
        digests.update(res.srs_digests)
        done.append(Segment(len(plan.pipeline), res.proofs, res.output_commitments))
        out_salts = res.output_salts
        if i < len(plans) - 1:  # the hidden intermediate becomes the next segment's committed input
            pixels = plan.pipeline.apply(pixels)
            salts = cast(Tuple[bytes, ...], res.output_salts)  # a hidden output always has salts
            commitments = cast(Tuple[int, ...], res.output_commitments)
    lay = capture.signed.layout
    final = pipeline.output_shape((lay.height, lay.width, lay.channels))
    return Attestation(pipeline, capture.signed, max_out, final, digests, store.srs.development, tuple(done),
                       out_salts if hide_output else None, tiles_per_job=tiles_per_job)

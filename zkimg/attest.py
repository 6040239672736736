"""``zkimg.prove``: attest a pipeline applied to a whole captured image."""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path
from typing import Optional

from .bundle import Attestation
from .camera import Capture
from .circuits import CircuitStore
from .errors import InvalidParameter
from .pipeline import Pipeline, as_pipeline
from .plan import DEFAULT_MAX_OUT, Plan
from .prove import ProgressCallback, prove_plan


def prove(capture: Capture, pipeline: Pipeline, *, store: Optional[CircuitStore] = None,
          executor: Optional[Executor] = None, progress: Optional[ProgressCallback] = None,
          workdir: Optional[Path | str] = None, max_out: int = DEFAULT_MAX_OUT,
          hide_output: bool = False) -> Attestation:
    """Prove that ``pipeline.apply(original)`` is the published output of ``capture``.

    The original stays hidden (only its cells' salted commitments, signed by the camera,
    are public). Jobs run on ``executor`` (any ``concurrent.futures.Executor``; default: a
    process pool sized to the machine); ``progress(done, total)`` reports finished tiles;
    ``workdir`` keeps finished proofs so that an interrupted run resumes where it stopped.
    With ``hide_output`` the output is committed tile by tile with fresh salts instead of
    being published; the salts are in ``attestation.output_salts`` (secret, not saved).
    """
    if not isinstance(capture, Capture):
        raise InvalidParameter("capture", "expected a Capture (from Camera.capture) with its secrets")
    pipeline = as_pipeline(pipeline)
    store = store if store is not None else CircuitStore()
    if not isinstance(hide_output, bool):
        raise InvalidParameter("hide_output", "must be a bool")
    plan = Plan(pipeline, capture.signed.layout, hide_output, max_out)
    done = prove_plan(plan, capture.secrets.pixels, capture.secrets.salts, store=store, executor=executor,
                      progress=progress, workdir=Path(workdir) if workdir is not None else None)
    return Attestation(pipeline, capture.signed, max_out, plan.output_shape, done.srs_digests,
                       store.srs.development, done.proofs, done.output_commitments, done.output_salts)

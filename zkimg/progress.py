"""Progress reporting: one callback type shared by every long-running call.

The library never draws progress bars; it calls ``progress(stage, done, total)`` and logs
through :mod:`logging`. The CLI turns these calls into bars.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional

#: ``progress(stage, done, total)``; ``stage`` is one of :data:`STAGES`, ``0 <= done <= total``.
ProgressCallback = Callable[[str, int, int], None]

#: "commit": cells committed by ``Camera.capture``; "setup": distinct circuits compiled and
#: keyed; "prove": tile proofs finished (all segments of a chain, one count); "verify":
#: tile proofs checked; "resume": once per plan proved with a work folder, the tile proofs
#: found there and reused (``done``) of the plan's ``total``.
STAGES = ("commit", "setup", "prove", "verify", "resume")


def report(progress: Optional[ProgressCallback], stage: str, done: int, total: int) -> None:
    """Call ``progress`` if given (the one place the library calls a progress callback)."""
    if progress is not None:
        progress(stage, done, total)


def shifted(progress: Optional[ProgressCallback], before: Dict[str, int],
            totals: Dict[str, int]) -> Optional[ProgressCallback]:
    """A callback reporting counts of the stages in ``before`` shifted by it, out of
    ``totals`` (several plans that make one run report one count per stage)."""
    if progress is None:
        return None

    def call(stage: str, done: int, total: int) -> None:
        if stage in before:
            progress(stage, before[stage] + done, totals[stage])
        else:
            progress(stage, done, total)

    return call

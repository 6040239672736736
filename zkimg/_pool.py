"""The one place zkimg starts worker processes of its own (always with the ``spawn`` start
method: ezkl's threads and a forked child do not mix)."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Iterator, Optional


@contextmanager
def executor_for(executor: Optional[Executor], tasks: int, threshold: int) -> Iterator[Optional[Executor]]:
    """The executor to run ``tasks`` tasks on: ``executor`` if the caller gave one; else, from
    ``threshold`` tasks on and on a multi-core machine, a local pool of spawned processes (one
    per core, at most one per task) shut down on exit; else ``None``: run in this process."""
    cpus = os.cpu_count() or 1
    if executor is not None or tasks < threshold or cpus < 2:
        yield executor
        return
    pool = process_pool(min(cpus, tasks))
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes (the caller shuts it down)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))

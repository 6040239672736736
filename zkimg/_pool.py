"""The one place zkimg starts worker processes of its own (always with the ``spawn`` start
method: ezkl's threads and a forked child do not mix).

A spawned worker normally re-runs the parent's ``__main__`` script first, which is why
multiprocessing asks scripts for an ``if __name__ == "__main__":`` guard: without one the
script's top level (a capture, a ``prove()``) would run again in every worker. zkimg's
workers need nothing from ``__main__`` (their tasks are zkimg functions), so its pools start
them with the script hidden from multiprocessing and a plain script works unguarded. The one
thing that cannot cross then is a class defined in the script itself (a ``Transform`` of your
own): keep such classes in an importable module.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, TypeVar

T = TypeVar("T")
_MAIN_LOCK = threading.Lock()


@contextmanager
def executor_for(executor: Optional[Executor], tasks: int, threshold: int) -> Iterator[Optional[Executor]]:
    """The executor to run ``tasks`` tasks on: ``executor`` if the caller gave one; else, from
    ``threshold`` tasks on and on a multi-core machine, a local pool of spawned processes (one
    per core, at most one per task) shut down on exit; else ``None``: run in this process."""
    if executor is not None or tasks < threshold:
        yield executor
        return
    with PoolOnDemand() as pool:
        yield pool.start(tasks)


class PoolOnDemand:
    """A local pool of spawned processes started only when :meth:`start` is first called
    (and only on a multi-core machine); on exit it is shut down, or stopped at once after an
    error or Ctrl-C, as :func:`executor_for`'s."""

    def __init__(self, *, one_thread: bool = False) -> None:
        self.one_thread = one_thread
        self.pool: Optional[ProcessPoolExecutor] = None

    def start(self, tasks: int, warm: Optional[Callable[[], Any]] = None) -> Optional[Executor]:
        """The pool (one process per core, at most one per task; started now if need be), or
        ``None`` on a single-core machine or for fewer than two tasks. A pool started now
        runs ``warm`` once per worker first: its workers start (and import what ``warm``'s
        module imports) while the caller goes on."""
        cpus = os.cpu_count() or 1
        if self.pool is None and cpus >= 2 and tasks >= 2:
            workers = min(cpus, tasks)
            self.pool = process_pool(workers, one_thread=self.one_thread)
            if warm is not None:
                for _ in range(workers):
                    self.pool.submit(warm)
        return self.pool

    def __enter__(self) -> "PoolOnDemand":
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if self.pool is None:
            return
        if kind is not None:
            stop(self.pool)
        self.pool.shutdown(cancel_futures=True)


def stop(pool: Executor) -> None:
    """Cancel what has not started and end the worker processes of a local process pool now,
    instead of waiting for their running tasks (a proof can take minutes). Other executors
    are only asked to stop without waiting (and to cancel pending work, where they can)."""
    if not isinstance(pool, ProcessPoolExecutor):
        try:
            pool.shutdown(wait=False, cancel_futures=True)
        except TypeError:  # an executor whose shutdown() predates cancel_futures (Dask's)
            pool.shutdown(wait=False)
        return
    terminate = getattr(pool, "terminate_workers", None)  # Python ≥ 3.14
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())  # earlier: the pool's own table
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


@contextmanager
def _script_hidden() -> Iterator[None]:
    """While workers start: no ``__file__`` on a script's ``__main__``, so multiprocessing's
    spawn preparation does not ask the worker to run it (``__main__`` of ``python -m``, of a
    notebook or an interactive session is left alone: workers never run those)."""
    main = sys.modules.get("__main__")
    with _MAIN_LOCK:
        if main is None or getattr(main, "__spec__", None) is not None or "__file__" not in vars(main):
            yield
            return
        path = vars(main).pop("__file__")
        try:
            yield
        finally:
            vars(main)["__file__"] = path


class _Pool(ProcessPoolExecutor):
    """A spawn pool whose workers never re-run the parent's ``__main__`` script (module doc)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> "Future[T]":
        with _script_hidden():  # a submit may start a worker
            return super().submit(fn, *args, **kwargs)


def _one_thread() -> None:
    """Worker initializer: ezkl's thread pool (rayon's, sized when first used) gets one thread."""
    os.environ["RAYON_NUM_THREADS"] = "1"


def process_pool(workers: int, *, one_thread: bool = False) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes (the caller shuts it down). With ``one_thread``
    each worker runs ezkl on a single thread: right when the workers already fill the cores
    with short calls (verifying), where threads of one call only contend with the others'."""
    return _Pool(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                 initializer=_one_thread if one_thread else None)

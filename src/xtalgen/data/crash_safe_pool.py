"""An ordered process-pool map that survives a worker process dying (segfault, ``os._exit``, OOM kill).

``multiprocessing.Pool`` replaces a dead worker but never finishes the task it held, so ``imap``
waits forever. ``concurrent.futures.ProcessPoolExecutor`` notices the death and fails every pending
future with ``BrokenProcessPool``. This map uses the latter: when the pool breaks, the job at the head
of the queue is split into single-entry jobs that run one at a time in a separate one-worker pool; an
entry whose process dies becomes a result built by ``crashed`` and the rest of its job is kept. A new
pool then takes the jobs that were in flight (one of them may hold the culprit: the same recovery
repeats), so every job finishes and results come back in submission order.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

J = TypeVar("J")
R = TypeVar("R")

#: What a job's result says about an entry whose worker process died.
CRASH_DETAIL = "the worker process died while reading this entry (a crash in native code, e.g. a segfault)"


def _context() -> mp.context.BaseContext:
    """Fork where available (workers inherit the parent's state, starts fast); the default elsewhere."""
    return mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()


def map_surviving_crashes(
    func: Callable[[J], R],
    jobs: Iterable[J],
    workers: int,
    *,
    split: Callable[[J], list[J]],
    merge: Callable[[list[R]], R],
    crashed: Callable[[J], R],
    in_flight: int | None = None,
) -> Iterator[R]:
    """Yield ``func(job)`` for each job, in order, computed in ``workers`` processes.

    ``split(job)`` gives single-entry jobs, ``merge`` joins their results, ``crashed(single_job)`` is
    the result for an entry that killed its process. At most ``in_flight`` jobs (default
    ``2 * workers``) are submitted ahead of the one being waited for.
    """
    ctx = _context()
    limit = in_flight or 2 * workers
    pending = iter(jobs)
    pool = ProcessPoolExecutor(workers, mp_context=ctx)
    window: deque[tuple[J, Future[R]]] = deque()
    try:
        while True:
            while len(window) < limit and (job := next(pending, _END)) is not _END:
                window.append((job, _submit(pool, func, job)))  # type: ignore[arg-type]
            if not window:
                return
            job, future = window.popleft()
            try:
                result = future.result()
            except BrokenProcessPool:
                pool.shutdown(wait=True, cancel_futures=True)
                result = merge(_one_by_one(func, split(job), crashed, ctx))
                pool = ProcessPoolExecutor(workers, mp_context=ctx)
                window = deque((j, _submit(pool, func, j)) for j, _ in window)
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_END = object()


def _submit(pool: ProcessPoolExecutor, func: Callable[[J], R], job: J) -> Future[R]:
    """``pool.submit``, or a future already failed with BrokenProcessPool when the pool broke meanwhile."""
    try:
        return pool.submit(func, job)
    except BrokenProcessPool as exc:
        failed: Future[R] = Future()
        failed.set_exception(exc)
        return failed


def _one_by_one(
    func: Callable[[J], R], singles: list[J], crashed: Callable[[J], R], ctx: mp.context.BaseContext
) -> list[R]:
    """Run single-entry jobs one after another in a one-worker pool, replaced after each crash."""
    results: list[R] = []
    pool = ProcessPoolExecutor(1, mp_context=ctx)
    try:
        for single in singles:
            try:
                results.append(pool.submit(func, single).result())
            except BrokenProcessPool:
                results.append(crashed(single))
                pool.shutdown(wait=True)
                pool = ProcessPoolExecutor(1, mp_context=ctx)
    finally:
        pool.shutdown(wait=True)
    return results

"""Run a per-item function over many items on a few processes, caching each result as it finishes."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any

from xtalgen.evaluation.cache import JsonlCache
from xtalgen.progress import progress_bar as _bar


def init_worker() -> None:
    """Worker setup: one BLAS/torch thread per process, library warnings silenced."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warnings.filterwarnings("ignore")
    if "torch" in sys.modules:  # only when the parent already loaded it; feature jobs do not need torch
        sys.modules["torch"].set_num_threads(1)


def make_pool(workers: int, start_method: str | None = None) -> ProcessPoolExecutor:
    """A process pool whose workers run :func:`init_worker` (reuse it across many ``map_cached`` calls)."""
    ctx = mp.get_context(start_method) if start_method else None
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_worker)


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich progress bar; yields ``advance(n)``."""
    if not enabled or total == 0:
        yield lambda n=1: None
        return
    with _bar(description) as prog:
        task = prog.add_task(description, total=total)
        yield lambda n=1: prog.advance(task, n)


class _Deferred:
    """A payload loaded when its batch is submitted (so huge reference sets never sit in memory)."""

    __slots__ = ("load", "payload")

    def __init__(self, load: Callable[[Any], Any], payload: Any) -> None:
        self.load, self.payload = load, payload


def _resolve(batch: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(k, p.load(p.payload) if isinstance(p, _Deferred) else p) for k, p in batch]


#: CPU seconds spent by worker processes inside per-item jobs, by ``map_cached`` description (jobs
#: run in the calling process are not counted here: its own process time has them). The runner adds
#: them to its own CPU time to report per-metric CPU seconds.
JOB_CPU_SECONDS: dict[str, float] = {}


def _run_batch(func: Callable[[Any], Any], batch: list[tuple[str, Any]]) -> tuple[list[tuple[str, Any]], float]:
    """Results of ``func`` on a batch and the CPU seconds this process spent on it."""
    start = time.process_time()
    out = []
    for key, payload in batch:
        try:
            out.append((key, func(payload)))
        except Exception as exc:  # one bad sample must not stop the run; it is recorded with the reason
            out.append((key, {"error": f"{type(exc).__name__}: {exc}"[:300]}))
    return out, time.process_time() - start


def map_cached(
    func: Callable[[Any], Any],
    items: Sequence[tuple[str, Any]],
    cache: JsonlCache,
    *,
    workers: int = 2,
    description: str = "working",
    batch_size: int = 8,
    progress: bool = True,
    start_method: str | None = None,
    load: Callable[[Any], Any] | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> dict[str, Any]:
    """Apply ``func`` to each ``(key, payload)``; return ``{key: result}``.

    Keys already in ``cache`` are not recomputed; every new result is written to the cache as soon
    as its batch finishes, so an interrupted run resumes. ``func`` must be a picklable top-level
    function when ``workers > 1``. An exception in ``func`` is stored as ``{"error": message}``.
    ``load`` (main process) turns a payload into ``func``'s argument, only for items not yet cached.
    ``pool``: an existing process pool to use (see :func:`make_pool`); else one is made for this call.
    """
    todo: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for key, payload in items:
        if key not in cache and key not in seen:
            todo.append((key, payload))
            seen.add(key)
    if load is not None:
        todo = [(key, _Deferred(load, payload)) for key, payload in todo]
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    with progress_bar(description, len(todo), enabled=progress) as advance:
        if workers <= 1 or len(batches) <= 1:
            for batch in batches:
                results, _ = _run_batch(func, _resolve(batch))  # CPU already counted in this process
                for key, value in results:
                    cache.put(key, value)
                advance(len(batch))
        else:
            own = pool is None
            executor = make_pool(workers, start_method) if own else pool
            try:
                pending: set[Future[tuple[list[tuple[str, Any]], float]]] = set()
                queue = iter(batches)
                for batch in queue:
                    pending.add(executor.submit(_run_batch, func, _resolve(batch)))
                    if len(pending) >= 4 * workers:
                        break
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        results, cpu = fut.result()
                        JOB_CPU_SECONDS[description] = JOB_CPU_SECONDS.get(description, 0.0) + cpu
                        for key, value in results:
                            cache.put(key, value)
                        advance(len(results))
                        nxt = next(queue, None)
                        if nxt is not None:
                            pending.add(executor.submit(_run_batch, func, _resolve(nxt)))
            finally:
                if own:
                    executor.shutdown(cancel_futures=True)
    return {key: cache[key] for key, _ in items}

"""Run a job on many ``(id, payload)`` items, resumably: a JSON-lines record store and a small process pool.

Each finished item is appended to the JSON-lines file at once (one ``{"id": ..., ...}`` line), so an
interrupted run resumes without redoing finished items; a cut-off last line is ignored. A failing item is
recorded with an ``error`` and the run goes on. Jobs run in this process or in spawned worker processes with
one torch thread and one BLAS thread each. Relaxations (:mod:`xtalgen.postprocess.fire_energy_model`),
reference energies and energy–volume points all run through :func:`run_resumable`.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, as_completed, wait
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from xtalgen.data.json_values import json_ready

#: Runs a job on many ``(id, payload)`` items at once; yields ``(id, record)`` as each finishes, in any order.
ManyJob = Callable[[Sequence[tuple[str, Any]]], Iterable[tuple[str, dict[str, Any]]]]
#: Stores one finished row (a dict with its ``id``).
_Record = Callable[[dict[str, Any]], None]


def read_jsonl(path: Path | None) -> dict[str, dict[str, Any]]:
    """Finished records by ``id`` from a JSON-lines file (a cut-off last line is ignored)."""
    done: dict[str, dict[str, Any]] = {}
    if path is None or not path.is_file():
        return done
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                row = json.loads(line)
                done[str(row["id"])] = row
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return done


def _init_worker() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warnings.filterwarnings("ignore")
    import scipy.linalg  # noqa: F401 - load scipy's BLAS now so that the limit below applies to it
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    # ASE's Fréchet cell filter does many 3x3 scipy solves; with a multi-threaded BLAS on a busy
    # machine each one costs milliseconds, which made relaxations ~7x slower.
    threadpool_limits(1)


@contextmanager
def _progress(description: str, total: int, enabled: bool) -> Iterator[Callable[[], None]]:
    if not enabled or total == 0:
        yield lambda: None
        return
    from xtalgen.progress import progress_bar

    with progress_bar(description) as prog:
        task = prog.add_task(description, total=total)
        yield lambda: prog.advance(task)


def _safe(func: Callable[[Any], dict[str, Any]], key: str, payload: Any) -> dict[str, Any]:
    try:
        out = func(payload)
    except Exception as exc:  # one failing structure is recorded, the run goes on
        out = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"id": key, **{k: json_ready(v) for k, v in out.items()}}


def _safe_many(many: ManyJob, chunk: Sequence[tuple[str, Any]]) -> Iterator[dict[str, Any]]:
    """Rows of ``many`` on ``chunk``; if it fails as a whole, an error row for each id it had not finished."""
    left = dict(chunk)
    error = "no result"
    try:
        for key, out in many(chunk):
            if key in left:
                del left[key]
                yield {"id": key, **{k: json_ready(v) for k, v in out.items()}}
    except Exception as exc:  # e.g. the model failed to load: every unfinished id is recorded as failed
        error = f"{type(exc).__name__}: {exc}"[:300]
    for key in left:
        yield {"id": key, "error": error}


def _safe_many_list(many: ManyJob, chunk: Sequence[tuple[str, Any]]) -> list[dict[str, Any]]:
    return list(_safe_many(many, chunk))


def _run_here(func: Callable[[Any], dict[str, Any]], many: ManyJob | None, todo: list[tuple[str, Any]],
              record: _Record) -> None:  # fmt: skip
    """Every item in this process, one torch and one BLAS thread (``many`` gets every item at once)."""
    import scipy.linalg  # noqa: F401 - load scipy's BLAS before limiting its threads
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread is faster than two on a shared 2-core machine
    try:
        with threadpool_limits(1):  # see _init_worker
            rows = (_safe(func, k, p) for k, p in todo) if many is None else _safe_many(many, todo)
            for row in rows:
                record(row)
    finally:
        torch.set_num_threads(threads)


def _run_chunks(many: ManyJob, todo: list[tuple[str, Any]], record: _Record, workers: int, chunk_size: int) -> None:
    """``many`` on ``chunk_size`` items per task in ``workers`` spawned processes."""
    size = max(chunk_size, 1)
    chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker) as pool:
        futures = [pool.submit(_safe_many_list, many, chunk) for chunk in chunks]
        for fut in as_completed(futures):
            for row in fut.result():
                record(row)


def _run_each(func: Callable[[Any], dict[str, Any]], todo: list[tuple[str, Any]], record: _Record,
              workers: int) -> None:  # fmt: skip
    """``func`` on one item per task in ``workers`` spawned processes, at most two tasks queued per worker."""
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker) as pool:
        queue = iter(todo)
        pending = set()
        for key, payload in queue:
            pending.add(pool.submit(_safe, func, key, payload))
            if len(pending) >= 2 * workers:
                break
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                record(fut.result())
                nxt = next(queue, None)
                if nxt is not None:
                    pending.add(pool.submit(_safe, func, *nxt))


def _still_valid(done: dict[str, dict[str, Any]], meta: Mapping[str, Mapping[str, Any]]) -> None:
    """Drop from ``done`` every record whose stored fields differ from the id's ``meta``."""
    for key, fields in meta.items():
        if key in done and any(done[key].get(f) != v for f, v in fields.items()):
            del done[key]


def run_resumable(
    func: Callable[[Any], dict[str, Any]],
    items: Sequence[tuple[str, Any]],
    cache_path: str | Path | None,
    *,
    workers: int = 1,
    description: str = "CHGNet",
    progress: bool = True,
    item_meta: Mapping[str, Mapping[str, Any]] | None = None,
    many: ManyJob | None = None,
    chunk_size: int = 32,
) -> dict[str, dict[str, Any]]:
    """Run ``func`` on each ``(id, payload)`` not yet in ``cache_path``; append one JSON line per result.

    ``item_meta``: fields stored with each id's record (e.g. a content hash and the settings); a recorded
    result is reused only when its stored fields equal them, otherwise the id is run again and its new
    record (the last line of that id) replaces the old one. Returns every requested id's record.
    Workers are spawned processes with one torch thread each.
    ``many``: a job that takes many items at once (e.g. a batched relaxation) used instead of ``func``: in this
    process it gets every item at once, in workers ``chunk_size`` items per task.
    """
    path = Path(cache_path) if cache_path is not None else None
    done = read_jsonl(path)
    meta = {k: dict(v) for k, v in (item_meta or {}).items()}
    _still_valid(done, meta)
    todo = [(k, p) for k, p in dict(items).items() if k not in done]
    fh: IO[str] | None = None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the whole run
    try:
        with _progress(description, len(todo), progress) as advance:

            def record(row: dict[str, Any]) -> None:
                row.update(meta.get(row["id"], {}))
                done[row["id"]] = row
                if fh is not None:
                    fh.write(json.dumps(row, separators=(",", ":")) + "\n")
                    fh.flush()
                advance()

            if workers <= 1 or len(todo) <= 1:
                _run_here(func, many, todo, record)
            elif many is not None:
                _run_chunks(many, todo, record, workers, chunk_size)
            else:
                _run_each(func, todo, record, workers)
    finally:
        if fh is not None:
            fh.close()
    return {k: done[k] for k, _ in items}

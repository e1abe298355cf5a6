"""Where ``xtalgen screen`` runs its per-structure work: in this process, or on Dask distributed.

``open_scheduler("none")`` runs tasks here, one after the other; ``"local"`` starts a Dask ``LocalCluster``
of ``workers`` processes (one thread each) for the run; any other text is the address of a running Dask
scheduler (``tcp://host:8786``, e.g. one started by dask-jobqueue on SLURM or PBS). No scheduling is done
here: Dask places the tasks, and re-runs the tasks of a worker that dies on the others.

A task (:func:`run_task`) is idempotent: it returns the stored result when there is one, otherwise it
computes it and writes it (atomically) before returning, so a task re-run after a worker died redoes at
most that one structure and nothing finished is lost. The caller writes every result it receives too,
so a cluster whose workers cannot write into the output folder still keeps them. A :class:`BatchTask`
(several structures computed together, e.g. a batched relaxation) stores each structure's result as it
finishes, so its re-run redoes only the structures that had not finished.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pymatgen.core import Structure

from xtalgen.pipelines.screen.store import read_result, write_result

#: ``--scheduler`` values that are not an address.
IN_PROCESS = "none"
LOCAL_CLUSTER = "local"


@dataclass(frozen=True)
class Task:
    """One structure's work: ``func(structure) -> record``, its result file and a unique Dask key."""

    key: str
    func: Callable[[Structure], dict[str, Any]]
    structure: dict[str, Any]  # Structure.as_dict(): plain data, cheap to send to a worker
    path: str


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Torch and BLAS at one thread each (one task per core is faster than threads on a shared machine)."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(threads)


def run_task(task: Task) -> dict[str, Any]:
    """The task's stored result, or compute it, store it and return it (with ``cpu_s`` and ``wall_s``).

    An exception inside ``func`` becomes ``{"error": ...}`` (one bad structure does not stop the screen); it
    is stored for the record, but a later run computes that structure again.
    """
    done = read_result(task.path)
    if done is not None and "error" not in done:  # a failure is tried again (it may have been passing)
        return {**done, "cached": True}
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        with _one_thread():
            record = dict(task.func(Structure.from_dict(task.structure)))
    except Exception as exc:
        record = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    record.update(cpu_s=time.process_time() - cpu, wall_s=time.perf_counter() - wall)
    with contextlib.suppress(OSError):  # a remote worker may not see the output folder; the caller writes it
        write_result(task.path, record)
    return {**record, "cached": False}


@dataclass(frozen=True)
class BatchTask:
    """Several structures' work done together (e.g. a batched relaxation): ``many`` takes ``(key, structure)``
    pairs and yields ``(key, record)`` for each, in any order; each structure keeps its own :class:`Task`
    (key, result file), so results are stored, reused and reported per structure."""

    key: str
    many: Callable[[list[tuple[str, Structure]]], Iterable[tuple[str, dict[str, Any]]]]
    tasks: tuple[Task, ...]


def run_batch_task(batch: BatchTask) -> list[dict[str, Any]]:
    """The records of ``batch.tasks`` (in order): stored ones reused, the rest computed together by ``many`` and
    stored one by one as they finish. ``cpu_s``/``wall_s`` of the computation are shared evenly by the
    structures computed and stored with them once the batch ends (a record stored by a batch whose worker died
    has none); a failure of ``many`` as a whole fails each structure it had not finished."""
    out: dict[str, dict[str, Any]] = {}
    for task in batch.tasks:
        done = read_result(task.path)
        if done is not None and "error" not in done:
            out[task.key] = {**done, "cached": True}
    todo = {t.key: t for t in batch.tasks if t.key not in out}
    if todo:
        wall, cpu = time.perf_counter(), time.process_time()
        fresh: dict[str, dict[str, Any]] = {}
        try:
            with _one_thread():
                pairs = [(key, Structure.from_dict(t.structure)) for key, t in todo.items()]
                for key, record in batch.many(pairs):
                    if key in todo and key not in fresh:
                        fresh[key] = dict(record)
                        with contextlib.suppress(OSError):  # see run_task
                            write_result(todo[key].path, fresh[key])
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
            fresh.update({key: {"error": error} for key in todo if key not in fresh})
        fresh.update({key: {"error": "no result"} for key in todo if key not in fresh})
        share_cpu, share_wall = (time.process_time() - cpu) / len(todo), (time.perf_counter() - wall) / len(todo)
        for key, record in fresh.items():
            record.update(cpu_s=share_cpu, wall_s=share_wall)
            if "error" not in record:  # the stored record gets its cost share too (a failure stays unstored)
                with contextlib.suppress(OSError):  # see run_task
                    write_result(todo[key].path, record)
            out[key] = {**record, "cached": False}
    return [out[t.key] for t in batch.tasks]


def _run_any(task: Task | BatchTask) -> list[tuple[Task, dict[str, Any]]]:
    if isinstance(task, BatchTask):
        return list(zip(task.tasks, run_batch_task(task), strict=True))
    return [(task, run_task(task))]


class InProcess:
    """Runs tasks in this process."""

    name = IN_PROCESS

    def map(self, tasks: Sequence[Task | BatchTask]) -> Iterator[tuple[Task, dict[str, Any]]]:
        for task in tasks:
            yield from _run_any(task)


class DaskScheduler:
    """Runs tasks on a Dask distributed cluster through ``client``; yields results as they finish."""

    def __init__(self, client: Any, name: str) -> None:
        self.client, self.name = client, name

    def map(self, tasks: Sequence[Task | BatchTask]) -> Iterator[tuple[Task, dict[str, Any]]]:
        from distributed import as_completed

        if not tasks:
            return
        by_key = {t.key: t for t in tasks}
        futures = self.client.map(_run_any, list(tasks), key=list(by_key), pure=False)
        for future in as_completed(futures):
            job = by_key[future.key]
            try:
                pairs, store = future.result(), True
            except Exception as exc:  # e.g. KilledWorker: the task killed every worker it ran on
                error = {"error": f"{type(exc).__name__}: {exc}"[:300], "cached": False}
                pairs, store = [(t, dict(error)) for t in (job.tasks if isinstance(job, BatchTask) else (job,))], False
            for task, record in pairs:
                if store and not record.get("cached") and read_result(task.path) is None:
                    write_result(task.path, {k: v for k, v in record.items() if k != "cached"})
                yield task, record


def _local_cluster(workers: int) -> Any:
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
        env={"OMP_NUM_THREADS": "1"}, silence_logs=50,
    )  # fmt: skip


@contextlib.contextmanager
def open_scheduler(scheduler: str = LOCAL_CLUSTER, workers: int = 2, client: Any = None) -> Iterator[Any]:
    """An object with ``map(tasks)``: in-process (``"none"``), a LocalCluster of ``workers`` processes
    (``"local"``) or the Dask scheduler at an address; ``client``: an existing Dask client to use instead."""
    if client is not None:
        yield DaskScheduler(client, f"Dask scheduler {getattr(client.scheduler, 'address', '?')}")
        return
    if scheduler == IN_PROCESS:
        yield InProcess()
        return
    try:
        from distributed import Client
    except ImportError:
        raise ValueError(
            f"--scheduler {scheduler}: Dask distributed is not installed (pip install 'xtalgen[dask]'), "
            "or pass --scheduler none"
        ) from None
    if workers < 1:
        raise ValueError(f"workers: must be >= 1, got {workers}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if scheduler == LOCAL_CLUSTER:
        with _local_cluster(workers) as cluster, Client(cluster) as dask_client:
            yield DaskScheduler(dask_client, f"local cluster of {workers} workers")
        return
    try:
        dask_client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({exc})") from None
    with dask_client:
        yield DaskScheduler(dask_client, scheduler)

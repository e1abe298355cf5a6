"""Compute a reference-energy table: static CHGNet (or SevenNet) energies (eV/atom) of a dataset's structures.

Batched (:func:`xtalgen.postprocess.batch_energies.batch_static_energies`) and resumable in chunks:
the structures are cut into chunks of ``chunk`` entries in a fixed order; each finished chunk is
written atomically to ``<output>.parts/chunk-NNNNN.parquet``, so an interrupted run continues with
the first unfinished chunk (a run's inputs are recorded in ``<output>.parts/manifest.json`` and a
resume with different inputs is refused). When every chunk is done they are merged into the table
(:mod:`xtalgen.evaluation.reference_table`), failures go to ``<output>.failures.csv`` and the parts
folder is removed. Per-entry failures (unreadable entry, CHGNet error) are recorded, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pymatgen.core import Structure

from xtalgen.data.atomic import atomic_path, atomic_write
from xtalgen.data.hashing import file_sha256
from xtalgen.evaluation.reference_table import (
    COLUMNS,
    cell_formula,
    chemsys,
    table_from_rows,
    write_reference_table,
)
from xtalgen.postprocess.batch_energies import batch_static_energies

#: Start method of the worker processes ("spawn": each worker imports torch and loads CHGNet itself).
START_METHOD = "spawn"
ENERGY_CONVENTION = (
    "raw CHGNet static energy per atom of the structure as given (no correction added by xtalgen; "
    "CHGNet is trained on MP2020-corrected MPtrj energies), eV/atom"
)


@dataclass
class EnergySource:
    """The entries to compute, in a fixed order: ids, a structure builder, and read failures."""

    name: str
    sha256: str | None
    ids: list[str]
    structure: Callable[[int], Structure]
    read_failures: list[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class EnergyTableResult:
    """What a run produced: table path, rows, failures, size (bytes) and timings (s)."""

    path: Path
    n_rows: int
    n_failed: int
    size_bytes: int
    n_chunks: int
    chunks_reused: int
    wall_s: float
    cpu_s: float


def open_source(source: str | Path, split: str | None = None, limit: int | None = None) -> EnergySource:
    """A prepared dataset (``.parquet``) or any source ``read_structures`` accepts, optionally one split."""
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"dataset not found: {path}")
    sha = file_sha256(path) if path.is_file() else None
    if path.suffix == ".parquet":
        from xtalgen.data.dataset import load_dataset

        ds = load_dataset(path)
        if split is not None:
            ds = ds.subset(split=split)
        n = len(ds) if limit is None else min(limit, len(ds))
        return EnergySource(path.name, sha, ds.ids[:n], ds.structure, [])
    from xtalgen.data.readers import read_structures
    from xtalgen.data.records import ReadReport

    report = ReadReport()
    ids: list[str] = []
    structures: list[Structure] = []
    has_split = False
    for rec in read_structures(path, report=report):
        has_split |= "split" in rec.properties
        if split is not None and rec.properties.get("split") != split:
            continue
        ids.append(rec.id)
        structures.append(rec.structure)
        if limit is not None and len(ids) >= limit:
            break
    if split is not None and not has_split and (ids or report.accepted):
        raise ValueError(f"{path}: entries carry no 'split' column, so --split {split} cannot be applied")
    failures = [(r.id, f"{r.reason}: {r.detail}"[:300]) for r in report.rejections]
    return EnergySource(path.name, sha, ids, structures.__getitem__, failures)


def _rows(items: Sequence[tuple[str, Structure]], results: Sequence[tuple[float | None, str | None]]) -> pa.Table:
    rows = []
    for (eid, s), (energy, error) in zip(items, results, strict=True):
        comp = s.composition
        rows.append({
            "id": eid, "formula": cell_formula(comp), "chemsys": chemsys(el.symbol for el in comp.elements),
            "nsites": len(s), "energy_per_atom": np.nan if energy is None else energy, "error": error,
        })  # fmt: skip
    table = table_from_rows(rows)
    return table.append_column("error", pa.array([r["error"] for r in rows], pa.string()))


def _static_energies(
    structures: list[Structure], batch_size: int, model_name: str, potential: str, report: Any
) -> list[tuple[float | None, str | None]]:
    """(energy in eV/atom or None, error or None) per structure: CHGNet batched, other potentials one by one."""
    if potential == "chgnet":
        return batch_static_energies(structures, batch_size=batch_size, model_name=model_name, on_batch=report)
    from xtalgen.postprocess.potentials import static_energy

    out: list[tuple[float | None, str | None]] = []
    for s in structures:
        try:
            out.append((static_energy(potential, s, model=model_name)[0], None))
        except Exception as exc:  # one failing entry is recorded, the run goes on
            out.append((None, f"{type(exc).__name__}: {exc}"[:300]))
        report(1)
    return out


def _run_chunk(
    items: Sequence[tuple[str, Structure]], out: Path, batch_size: int, model_name: str, report: Any,
    potential: str = "chgnet",
) -> int:  # fmt: skip
    """Energies of one chunk, written atomically to ``out``; returns the number of failures."""
    structures = [s for _, s in items]
    results = _static_energies(structures, batch_size, model_name, potential, report)
    with atomic_path(out) as tmp:
        pq.write_table(_rows(items, results), tmp, compression="zstd")
    return sum(e is None for e, _ in results)


def _queue_reporter(queue: Any) -> Callable[[int], None]:
    return lambda n: queue.put(n)


def _chunk_job(
    items: list[tuple[str, Structure]], out: str, batch_size: int, model_name: str, queue: Any, potential: str
) -> int:
    return _run_chunk(items, Path(out), batch_size, model_name, _queue_reporter(queue), potential)


def _init_worker() -> None:
    import warnings

    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(1)


@contextmanager
def _bar(total: int, done: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on a terminal; in a log file (background run) a plain line every ~2 minutes."""
    if not enabled:
        yield lambda n: None
        return
    if not sys.stdout.isatty():
        yield _log_lines(total, done)
        return
    from xtalgen.progress import progress_bar

    with progress_bar("CHGNet energies") as prog:
        task = prog.add_task("energies", total=total, completed=done)
        yield lambda n: prog.advance(task, n)


def _log_lines(total: int, done: int, every_s: float = 120.0) -> Callable[[int], None]:
    start, state = time.perf_counter(), {"n": done, "new": 0, "last": 0.0}
    print(f"CHGNet energies: {done}/{total} entries already done", flush=True)

    def advance(n: int) -> None:
        state["n"] += n
        state["new"] += n
        elapsed = time.perf_counter() - start
        if elapsed - state["last"] >= every_s or state["n"] >= total:
            state["last"] = elapsed
            eta = elapsed / state["new"] * (total - state["n"]) if state["new"] else float("nan")
            print(f"CHGNet energies: {state['n']}/{total} ({100 * state['n'] / max(total, 1):.1f}%), "
                  f"{elapsed:.0f} s elapsed, ~{eta:.0f} s left", flush=True)  # fmt: skip

    return advance


def parts_dir(output: str | Path) -> Path:
    """Folder holding the finished chunks of an unfinished run: ``<output>.parts``."""
    out = Path(output)
    return out.with_name(out.name + ".parts")


def _manifest(
    source: EnergySource, split: str | None, chunk: int, model_name: str, potential: str = "chgnet"
) -> dict[str, Any]:
    ids_sha = hashlib.sha256("\n".join(source.ids).encode()).hexdigest()
    model = model_name if potential == "chgnet" else f"{potential} {model_name}"
    return {"dataset": source.name, "dataset_sha256": source.sha256, "split": split, "chunk": chunk,
            "model": model, "n_entries": len(source), "ids_sha256": ids_sha}  # fmt: skip


def _check_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    path = folder / "manifest.json"
    if path.is_file():
        old = json.loads(path.read_text())
        diff = sorted(k for k in manifest if old.get(k) != manifest[k])
        if diff:
            raise ValueError(
                f"{folder} holds chunks of a run with other inputs ({', '.join(diff)} differ); "
                "re-run with the same options, or delete that folder to start again"
            )
        return
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as fh:
        json.dump(manifest, fh, indent=1)


def compute_reference_energies(
    source: str | Path,
    output: str | Path,
    *,
    split: str | None = None,
    batch_size: int = 32,
    chunk: int = 2000,
    workers: int = 1,
    model_name: str | None = None,
    limit: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    potential: str = "chgnet",
) -> EnergyTableResult:
    """Compute the static energy (``potential``: chgnet or sevennet) of every structure of ``source`` and
    write the reference table.

    Re-running after an interruption continues from the finished chunks. ``workers`` processes take
    whole chunks (one torch thread each). ``limit`` keeps the first N entries (trial runs).
    ``model_name``: the potential's model (default: CHGNet 0.3.0, SevenNet 7net-l3i5).
    """
    from xtalgen.postprocess.potentials import require_potential

    model_name = model_name or require_potential(potential).default_model
    if batch_size < 1 or chunk < 1 or workers < 1:
        raise ValueError(f"batch_size, chunk and workers must be ≥ 1, got {batch_size}, {chunk}, {workers}")
    out = Path(output)
    if out.exists() and not overwrite:
        raise ValueError(f"{out} exists; pass overwrite=True (--overwrite) to replace it")
    t0, c0 = time.perf_counter(), time.process_time()
    src = open_source(source, split, limit)
    folder = parts_dir(out)
    _check_manifest(folder, _manifest(src, split, chunk, model_name, potential))
    starts = list(range(0, len(src), chunk))
    paths = [folder / f"chunk-{k:05d}.parquet" for k in range(len(starts))]
    todo = [k for k, p in enumerate(paths) if not p.is_file()]
    done_entries = len(src) - sum(min(chunk, len(src) - starts[k]) for k in todo)

    def items(k: int) -> list[tuple[str, Structure]]:
        return [(src.ids[i], src.structure(i)) for i in range(starts[k], min(starts[k] + chunk, len(src)))]

    worker_cpu = 0.0
    with _bar(len(src), done_entries, progress) as advance:
        if workers == 1 or len(todo) <= 1:
            worker_cpu = _run_serial(todo, items, paths, batch_size, model_name, advance, potential)
        else:
            worker_cpu = _run_pool(todo, items, paths, batch_size, model_name, advance, workers, potential)
    frames = [pq.read_table(p).to_pandas() for p in paths]
    merged = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["id", "error"])
    failed_mask = merged["error"].notna().to_numpy() if len(merged) else np.zeros(0, dtype=bool)
    failures = pd.concat(
        [pd.DataFrame(src.read_failures, columns=["id", "reason"]),
         merged.loc[failed_mask, ["id", "error"]].rename(columns={"error": "reason"})],
        ignore_index=True,
    )  # fmt: skip
    ok = merged.loc[~failed_mask]
    table = pa.Table.from_pandas(ok[list(COLUMNS)], preserve_index=False) if len(ok) else table_from_rows([])
    meta = _table_meta(src, split, model_name, batch_size, len(failures), potential)
    write_reference_table(table, out, meta, failures)
    shutil.rmtree(folder)
    return EnergyTableResult(
        out, len(ok), len(failures), out.stat().st_size, len(paths), len(paths) - len(todo),
        time.perf_counter() - t0, time.process_time() - c0 + worker_cpu,
    )  # fmt: skip


def _table_meta(
    src: EnergySource, split: str | None, model_name: str, batch_size: int, n_failed: int, potential: str = "chgnet"
) -> dict:
    import importlib

    import xtalgen
    from xtalgen.postprocess.potentials import energy_model, potential_info

    info = potential_info(potential)
    package = importlib.import_module(info.module)
    return {
        "reference_tag": energy_model(potential, model=model_name).reference_tag,
        "model": f"{info.label} {model_name}",
        "model_version": model_name,
        f"{info.module}_version": getattr(package, "__version__", "unknown"),
        "energy": ENERGY_CONVENTION.replace("CHGNet", info.label),
        "dataset": src.name,
        "dataset_sha256": src.sha256,
        "split": split or "all",
        "n_entries": len(src),
        "n_failed": n_failed,
        "batch_size": batch_size,
        "xtalgen_version": xtalgen.__version__,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


ItemsFn = Callable[[int], list[tuple[str, Structure]]]


def _run_serial(
    todo: list[int], items: ItemsFn, paths: list[Path], batch_size: int, model_name: str,
    advance: Callable[[int], None], potential: str = "chgnet",
) -> float:  # fmt: skip
    """Chunks in this process (one torch and BLAS thread); returns 0 (its CPU time is the caller's)."""
    import scipy.linalg  # noqa: F401 - load BLAS before limiting its threads
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            for k in todo:
                _run_chunk(items(k), paths[k], batch_size, model_name, advance, potential)
    finally:
        torch.set_num_threads(threads)
    return 0.0


def _run_pool(
    todo: list[int], items: ItemsFn, paths: list[Path], batch_size: int, model_name: str,
    advance: Callable[[int], None], workers: int, potential: str = "chgnet",
) -> float:  # fmt: skip
    """Chunks on ``workers`` spawned processes; returns their CPU seconds (approximate: children's time)."""
    ctx = mp.get_context(START_METHOD)
    before = os.times()
    with ctx.Manager() as manager, ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker) as pool:
        queue = manager.Queue()
        waiting = iter(todo)
        pending = set()
        for k in waiting:
            pending.add(pool.submit(_chunk_job, items(k), str(paths[k]), batch_size, model_name, queue, potential))
            if len(pending) >= workers + 1:
                break
        while pending:
            finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            while not queue.empty():
                advance(queue.get())
            for fut in finished:
                fut.result()
                k = next(waiting, None)
                if k is not None:
                    job = (items(k), str(paths[k]), batch_size, model_name, queue, potential)
                    pending.add(pool.submit(_chunk_job, *job))
        while not queue.empty():
            advance(queue.get())
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)

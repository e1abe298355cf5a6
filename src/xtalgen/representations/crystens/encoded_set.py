"""Encode a dataset into one memory-mappable float32 ``.npy`` of CrysTens, plus config, ids and skips.

Files written for ``out = X.npy``: ``X.npy`` (shape (M, 4, N, N)), ``X.config.json`` (the
:class:`CrysTensConfig` and counts), ``X.ids.txt`` (one id per tensor, in order) and ``X.skipped.csv``
(id, reason, detail of every structure that was not encoded).
"""

from __future__ import annotations

import csv
import json
import struct
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xtalgen.data.atomic import atomic_path, atomic_write
from xtalgen.representations.crystens.cell import CapacityError, structure_arrays
from xtalgen.representations.crystens.config import CrysTensConfig
from xtalgen.representations.crystens.encode import OutOfRangeError, encode_arrays

_HEADER_BYTES = 128  # fixed .npy (v1.0) header size, so the shape can be rewritten once the count is known
_Item = tuple[str, np.ndarray, np.ndarray, np.ndarray, "int | None"]


def sidecar_paths(out: str | Path) -> dict[str, Path]:
    """Paths of the files that go with a CrysTens array file."""
    p = Path(out)
    stem = p.with_suffix("")
    return {"array": p, "config": Path(f"{stem}.config.json"), "ids": Path(f"{stem}.ids.txt"),
            "skipped": Path(f"{stem}.skipped.csv")}


@dataclass
class EncodeReport:
    """What :func:`encode_dataset` wrote and what it skipped (id, reason, detail)."""

    paths: dict[str, Path]
    encoded: int = 0
    skipped: list[tuple[str, str, str]] = field(default_factory=list)

    def counts_by_reason(self) -> dict[str, int]:
        return dict(Counter(r for _, r, _ in self.skipped).most_common())


@dataclass(frozen=True)
class EncodedSet:
    """A CrysTens array file opened read-only: tensors (memory-mapped), their ids and the config."""

    tensors: np.ndarray
    ids: list[str]
    config: CrysTensConfig


def load_encoded(path: str | Path) -> EncodedSet:
    """Open ``X.npy`` written by :func:`encode_dataset` (memory-mapped) with its config and ids."""
    paths = sidecar_paths(path)
    if not paths["array"].is_file():
        raise FileNotFoundError(f"CrysTens array not found: {paths['array']}")
    if not paths["config"].is_file():
        raise FileNotFoundError(f"CrysTens config not found next to the array: {paths['config']}")
    config = CrysTensConfig.from_json(paths["config"])
    tensors = np.load(paths["array"], mmap_mode="r")
    n = config.size
    if tensors.ndim != 4 or tensors.shape[1:] != (4, n, n):
        raise ValueError(f"{paths['array']} has shape {tensors.shape}, expected (M, 4, {n}, {n}) from its config")
    if not paths["ids"].is_file():
        raise FileNotFoundError(f"CrysTens ids file not found next to the array: {paths['ids']}")
    ids = paths["ids"].read_text().splitlines()
    if len(ids) != len(tensors):
        raise ValueError(f"{paths['ids']} lists {len(ids)} ids for {len(tensors)} tensors")
    return EncodedSet(tensors, ids, config)


def _npy_header(shape: tuple[int, ...]) -> bytes:
    body = "{'descr': '<f4', 'fortran_order': False, 'shape': " + repr(tuple(shape)) + ", }"
    size = _HEADER_BYTES - 10  # magic (6) + version (2) + header length (2)
    if len(body) + 1 > size:
        raise ValueError(f"array shape {shape} too large for the fixed .npy header")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", size) + (body.ljust(size - 1) + "\n").encode("latin1")


def _items(source: Any, config: CrysTensConfig) -> Iterator[_Item | tuple[str, str, str]]:
    """(id, matrix, frac, numbers, spacegroup) per entry, or (id, reason, detail) if unreadable."""
    if hasattr(source, "frame") and hasattr(source, "structure"):  # a PreparedDataset
        same_prec = abs(float(getattr(source, "symprec", -1.0)) - config.symprec) < 1e-12
        sgs = source.frame["spacegroup"].tolist() if same_prec else [None] * len(source)
        for i, entry_id in enumerate(source.frame["id"].tolist()):
            m, f, z = structure_arrays(source.structure(i))
            yield str(entry_id), m, f, z, (int(sgs[i]) if sgs[i] is not None else None)
        return
    for entry in source:
        sg = None
        if hasattr(entry, "structure") and hasattr(entry, "id"):  # a StructureRecord
            entry_id, structure = entry.id, entry.structure
        elif len(entry) == 3:
            entry_id, structure, sg = entry
        else:
            entry_id, structure = entry
        try:
            m, f, z = structure_arrays(structure)
        except ValueError as exc:
            yield str(entry_id), "invalid structure", str(exc)
            continue
        yield str(entry_id), m, f, z, sg


_WORKER_CONFIG: CrysTensConfig | None = None


def _init_worker(config_dict: dict[str, Any]) -> None:
    global _WORKER_CONFIG
    _WORKER_CONFIG = CrysTensConfig.from_dict(config_dict)


def _encode_one(item: _Item, config: CrysTensConfig) -> tuple[str, np.ndarray | None, str, str]:
    entry_id, m, f, z, sg = item
    try:
        return entry_id, encode_arrays(m, f, z, config, sg), "", ""
    except CapacityError as exc:
        return entry_id, None, "too many sites", str(exc)
    except OutOfRangeError as exc:
        return entry_id, None, "out of range", str(exc)
    except ValueError as exc:
        reason = "symmetry failed" if "spglib" in str(exc) else "invalid structure"
        return entry_id, None, reason, str(exc)


def _encode_chunk(chunk: list[_Item]) -> list[tuple[str, np.ndarray | None, str, str]]:
    if _WORKER_CONFIG is None:
        raise RuntimeError("worker not initialised")
    return [_encode_one(item, _WORKER_CONFIG) for item in chunk]


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _results(items: Iterable[Any], config: CrysTensConfig, workers: int,
             chunk_size: int) -> Iterator[tuple[str, np.ndarray | None, str, str]]:
    """Encoded results in input order; unreadable entries pass straight through as skips."""

    def split(chunk: list[Any]) -> tuple[list[_Item], list[tuple[str, str, str]]]:
        good = [c for c in chunk if len(c) == 5]
        return good, [c for c in chunk if len(c) == 3]

    if workers <= 1:
        for item in items:
            yield (item[0], None, item[1], item[2]) if len(item) == 3 else _encode_one(item, config)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                             initargs=(config.to_dict(),)) as pool:
        window: deque[tuple[Future[Any], list[tuple[str, str, str]]]] = deque()
        for chunk in _chunks(items, chunk_size):
            good, bad = split(chunk)
            window.append((pool.submit(_encode_chunk, good), bad))
            while len(window) > 4 * workers:
                fut, bad_ = window.popleft()
                yield from fut.result()
                yield from ((i, None, r, d) for i, r, d in bad_)
        while window:
            fut, bad_ = window.popleft()
            yield from fut.result()
            yield from ((i, None, r, d) for i, r, d in bad_)


def encode_dataset(source: Any, out: str | Path, config: CrysTensConfig | None = None, *, workers: int = 2,
                   chunk_size: int = 64, progress: bool = True) -> EncodeReport:
    """Encode every structure of ``source`` into ``out`` (a ``.npy`` of shape (M, 4, N, N), float32).

    ``source``: a :class:`~xtalgen.data.dataset.PreparedDataset` (its stored space groups are reused
    when its symprec equals ``config.symprec``), or an iterable of ``StructureRecord``,
    ``(id, Structure)`` or ``(id, Structure, spacegroup)``. Structures that cannot be encoded (too
    many atoms for N, values outside the configured ranges, failed symmetry analysis) are skipped and
    listed in the report and in ``X.skipped.csv``. Work is spread over ``workers`` processes.
    """
    config = config or CrysTensConfig()
    paths = sidecar_paths(out)
    if paths["array"].suffix != ".npy":
        raise ValueError(f"output must be a .npy file, got {paths['array']}")
    report = EncodeReport(paths=paths)
    total = len(source) if hasattr(source, "__len__") else None
    ids: list[str] = []
    n = config.size
    with atomic_path(paths["array"]) as tmp, open(tmp, "wb") as fh:
        fh.write(_npy_header((0, 4, n, n)))
        bar, task = None, None
        if progress:
            from xtalgen.progress import progress_bar

            bar = progress_bar("encoding CrysTens", extra=("skipped {task.fields[skipped]}",))
            bar.start()
            task = bar.add_task("encode", total=total, skipped=0)
        try:
            for entry_id, tensor, reason, detail in _results(_items(source, config), config, workers, chunk_size):
                if tensor is None:
                    report.skipped.append((entry_id, reason, detail))
                else:
                    fh.write(np.ascontiguousarray(tensor, dtype="<f4").tobytes())
                    ids.append(entry_id)
                if bar is not None:
                    bar.update(task, advance=1, skipped=len(report.skipped))
        finally:
            if bar is not None:
                bar.stop()
        fh.seek(0)
        fh.write(_npy_header((len(ids), 4, n, n)))
    report.encoded = len(ids)
    with atomic_write(paths["ids"]) as fh:
        fh.write("".join(f"{i}\n" for i in ids))
    with atomic_write(paths["skipped"], newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "reason", "detail"])
        writer.writerows(report.skipped)
    meta = {"config": config.to_dict(), "count": len(ids), "shape": [len(ids), 4, n, n],
            "ids": paths["ids"].name, "skipped": len(report.skipped),
            "skipped_by_reason": report.counts_by_reason()}
    with atomic_write(paths["config"]) as fh:
        json.dump(meta, fh, indent=2)
        fh.write("\n")
    return report

"""Prepare a dataset: parse every entry once, analyse symmetry, filter, split, write one cached file.

Parsing and symmetry analysis run in worker processes; every rejected entry is kept in a report with
its id and reason, and the report is written next to the output (``<output>.rejections.csv``).
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from xtalgen import __version__
from xtalgen.data.crash_safe_pool import CRASH_DETAIL, map_surviving_crashes
from xtalgen.data.dataset import build_table, save_dataset
from xtalgen.data.readers import RawEntry, iter_raw_entries, parse_entry
from xtalgen.data.records import OnError, ReadReport, StructureReadError
from xtalgen.data.structure_checks import MIN_INTERATOMIC_DISTANCE
from xtalgen.data.symmetry import DEFAULT_SYMPREC, analyse_symmetry

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class PrepareFilters:
    """Which structures to keep. ``None`` means no constraint.

    ``elements``: every element of a kept structure is in this set; ``n_elements`` / ``spacegroups`` /
    ``n_base_sites``: allowed numbers of distinct elements / space group numbers / symmetry-independent
    sites. Only ordered structures are ever kept (xtalgen's representations need one species per site).
    """

    max_sites: int | None = None
    elements: frozenset[str] | None = None
    n_elements: frozenset[int] | None = None
    spacegroups: frozenset[int] | None = None
    n_base_sites: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if self.max_sites is not None and self.max_sites < 1:
            raise ValueError(f"max_sites must be >= 1, got {self.max_sites}")
        if self.spacegroups is not None:
            bad = sorted(n for n in self.spacegroups if not 1 <= n <= 230)
            if bad:
                raise ValueError(f"space group numbers must be in 1..230, got {bad}")
        if self.elements is not None:
            from pymatgen.core import Element

            for symbol in self.elements:
                if not Element.is_valid_symbol(symbol):
                    raise ValueError(f"unknown element symbol {symbol!r} in the elements filter")

    def composition_reason(self, elements: set[str]) -> str | None:
        """Why the element / number-of-elements filters reject a structure with ``elements``, else None."""
        if self.elements is not None and not elements <= self.elements:
            return f"elements {sorted(elements - self.elements)} not allowed"
        if self.n_elements is not None and len(elements) not in self.n_elements:
            return f"{len(elements)} elements not in {sorted(self.n_elements)}"
        return None

    def symmetry_reason(self, spacegroup: int, n_base_sites: int) -> str | None:
        """Why the space-group / base-site filters reject a structure, else None."""
        if self.spacegroups is not None and spacegroup not in self.spacegroups:
            return f"space group {spacegroup} not requested"
        if self.n_base_sites is not None and n_base_sites not in self.n_base_sites:
            return f"{n_base_sites} base sites not in {sorted(self.n_base_sites)}"
        return None

    def as_dict(self) -> dict[str, Any]:
        return {k: (sorted(v) if isinstance(v, frozenset) else v) for k, v in asdict(self).items()}


@dataclass
class PrepareResult:
    """Where the dataset went, how many entries were kept, and the rejection report."""

    path: Path
    kept: int
    report: ReadReport
    report_path: Path
    split_counts: dict[str, int] = field(default_factory=dict)


def assign_split(entry_id: str, seed: int, fractions: tuple[float, float, float]) -> str:
    """Deterministic split from a hash of (seed, id): the same id always lands in the same split."""
    digest = hashlib.sha1(f"{seed}:{entry_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    edge = 0.0
    for name, frac in zip(SPLITS, fractions, strict=True):
        edge += frac
        if u < edge:
            return name
    return SPLITS[-1]


#: g/cm³ per (amu/Å³).
_AMU_PER_A3_TO_G_PER_CM3 = 1.66053906660


@lru_cache(maxsize=1)
def _atomic_masses() -> np.ndarray:
    from pymatgen.core import Element

    return np.array([0.0] + [float(Element.from_Z(z).atomic_mass) for z in range(1, 119)])


def density_g_cm3(structure: Structure) -> float:
    """Mass density in g/cm³ (pymatgen's ``Structure.density`` without its unit bookkeeping)."""
    mass = _atomic_masses()[np.asarray(structure.atomic_numbers)].sum()
    return float(mass / structure.volume * _AMU_PER_A3_TO_G_PER_CM3)


def _row(
    record_id: str, structure: Structure, properties: dict[str, Any], symprec: float, filters: PrepareFilters
) -> tuple[dict[str, Any] | None, tuple[str, str, str] | None]:
    reason = filters.composition_reason({el.symbol for el in structure.composition.elements})
    if reason is not None:
        return None, (record_id, "filtered", reason)
    try:
        info = analyse_symmetry(structure, symprec)
    except Exception as exc:
        return None, (record_id, "symmetry failed", f"{type(exc).__name__}: {exc}")
    reason = filters.symmetry_reason(info.spacegroup, info.n_base_sites)
    if reason is not None:
        return None, (record_id, "filtered", reason)
    comp = structure.composition
    row = {
        "id": record_id,
        "split": properties.get("split") if properties.get("split") in SPLITS else None,
        "formula": comp.reduced_formula,
        "spacegroup": info.spacegroup,
        "spacegroup_symbol": info.symbol,
        "nsites": len(structure),
        "nelements": len(comp.elements),
        "n_base_sites": info.n_base_sites,
        "volume": float(structure.volume),
        "density": density_g_cm3(structure),
        "lattice": structure.lattice.matrix.reshape(-1).tolist(),
        "elements": sorted(el.symbol for el in comp.elements),
        "numbers": list(structure.atomic_numbers),
        "frac_coords": structure.frac_coords.reshape(-1).tolist(),
        "wyckoffs": list(info.wyckoffs),
        "multiplicities": list(info.multiplicities),
        "equivalent_atoms": list(info.equivalent_atoms),
        "properties": json.dumps({k: v for k, v in properties.items() if k != "split"}, default=str),
    }
    return row, None


@dataclass(frozen=True)
class _ChunkJob:
    """A chunk of raw entries and the settings to parse, check and analyse them with."""

    entries: list[RawEntry]
    symprec: float
    filters: PrepareFilters
    timeout: float | None
    min_distance: float | None
    species: tuple[str, ...] | None


def _split_job(job: _ChunkJob) -> list[_ChunkJob]:
    return [replace(job, entries=[entry]) for entry in job.entries]


def _merge_results(results: list[tuple[list[dict], list[tuple]]]) -> tuple[list[dict], list[tuple]]:
    return [row for rows, _ in results for row in rows], [rej for _, rejs in results for rej in rejs]


def _crashed(job: _ChunkJob) -> tuple[list[dict], list[tuple]]:
    return [], [(entry.id, "crashed the parser", CRASH_DETAIL) for entry in job.entries]


def _process_chunk(job: _ChunkJob) -> tuple[list[dict], list[tuple]]:
    """Worker: parse, check, filter and analyse a chunk of raw entries."""
    symprec, filters = job.symprec, job.filters
    rows: list[dict[str, Any]] = []
    rejections: list[tuple[str, str, str]] = []
    for entry in job.entries:
        outcome = parse_entry(
            entry, max_sites=filters.max_sites, timeout=job.timeout, min_distance=job.min_distance, species=job.species
        )
        rejections.extend(outcome.rejections)
        for record in outcome.records:
            row, rejection = _row(record.id, record.structure, record.properties, symprec, filters)
            if row is not None:
                rows.append(row)
            else:
                rejections.append(rejection)  # type: ignore[arg-type]
    return rows, rejections


def _frame_rejections(frame: Any, filters: PrepareFilters) -> list[tuple[str, str] | None]:
    """Per row of a prepared dataset's frame: (reason, detail) if ``filters`` reject it, else None."""
    out: list[tuple[str, str] | None] = []
    for row in frame.itertuples(index=False):
        if filters.max_sites is not None and row.nsites > filters.max_sites:
            out.append(("too many sites", f"{row.nsites} sites > {filters.max_sites}"))
            continue
        reason = filters.composition_reason(set(row.elements)) or filters.symmetry_reason(
            row.spacegroup, row.n_base_sites
        )
        out.append(None if reason is None else ("filtered", reason))
    return out


def filter_prepared(
    source: str | Path, output: str | Path, *, filters: PrepareFilters, symprec: float = DEFAULT_SYMPREC
) -> PrepareResult:
    """Apply ``filters`` to an already prepared dataset (no re-parsing); splits are kept."""
    from xtalgen.data.dataset import load_dataset

    ds = load_dataset(source)
    if abs(ds.symprec - symprec) > 1e-12:
        raise ValueError(
            f"{source} was analysed at symprec={ds.symprec} Å; prepare from the raw structures to use {symprec} Å"
        )
    report = ReadReport()
    keep: list[int] = []
    for i, (entry_id, verdict) in enumerate(zip(ds.ids, _frame_rejections(ds.frame, filters), strict=True)):
        if verdict is None:
            keep.append(i)
        else:
            report.reject(entry_id, *verdict)
    subset = ds.subset(indices=keep)
    report.accepted = len(subset)
    metadata = dict(ds.metadata)
    metadata.update(
        source=str(source),
        filters=filters.as_dict(),
        parent_filters=ds.metadata.get("filters"),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        counts={"kept": len(subset), "rejected": report.rejected, "by_reason": report.counts_by_reason()},
    )
    out = Path(output)
    save_dataset(subset.table, out, metadata)
    report_path = out.with_name(out.name + ".rejections.csv")
    report.to_csv(str(report_path))
    split_counts = {s: int((subset.frame["split"] == s).sum()) for s in SPLITS}
    return PrepareResult(path=out, kept=len(subset), report=report, report_path=report_path, split_counts=split_counts)


def _chunks(entries: Iterable[RawEntry], size: int) -> Iterator[list[RawEntry]]:
    it = iter(entries)
    while chunk := list(islice(it, size)):
        yield chunk


def _check_prepare_args(symprec: float, split_fractions: tuple[float, float, float], on_error: str) -> None:
    """Raise ValueError on a non-positive ``symprec`` (Å), bad split fractions or an unknown ``on_error``."""
    if symprec <= 0:
        raise ValueError(f"symprec must be > 0 Å, got {symprec}")
    if len(split_fractions) != 3 or abs(sum(split_fractions) - 1.0) > 1e-6 or min(split_fractions) < 0:
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1, got {split_fractions}")
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")


def _write_prepared(
    rows: list[dict[str, Any]],
    report: ReadReport,
    out: Path,
    source: str | Path,
    symprec: float,
    filters: PrepareFilters,
    split_seed: int,
    split_fractions: tuple[float, float, float],
) -> PrepareResult:
    """Assign missing splits, write the dataset with its metadata to ``out`` and the rejection report beside it."""
    for row in rows:
        if row["split"] is None:
            row["split"] = assign_split(row["id"], split_seed, split_fractions)
    report.accepted = len(rows)
    metadata = {
        "source": str(source),
        "symprec": symprec,
        "filters": filters.as_dict(),
        "split_seed": split_seed,
        "split_fractions": list(split_fractions),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "counts": {"kept": len(rows), "rejected": report.rejected, "by_reason": report.counts_by_reason()},
    }
    metadata["xtalgen_version"] = __version__
    save_dataset(build_table(rows), out, metadata)
    report_path = out.with_name(out.name + ".rejections.csv")
    report.to_csv(str(report_path))
    split_counts = {s: sum(1 for r in rows if r["split"] == s) for s in SPLITS}
    return PrepareResult(path=out, kept=len(rows), report=report, report_path=report_path, split_counts=split_counts)


def prepare_dataset(
    source: str | Path,
    output: str | Path,
    *,
    symprec: float = DEFAULT_SYMPREC,
    filters: PrepareFilters | None = None,
    split_seed: int = 0,
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    workers: int = 2,
    timeout: float | None = 10.0,
    on_error: OnError = "skip",
    chunk_size: int = 200,
    progress: Callable[[int], None] | None = None,
    species: tuple[str, ...] | None = None,
    min_distance: float | None = MIN_INTERATOMIC_DISTANCE,
) -> PrepareResult:
    """Parse ``source`` once and write a prepared dataset to ``output`` (Parquet).

    ``symprec`` (Å) is the spglib tolerance, recorded in the file. Entries with a ``split`` column
    keep it; others get a seeded hash split with ``split_fractions`` (train, val, test).
    ``on_error="raise"`` stops at the first rejected entry (filters excluded) with a clear error.
    ``progress`` is called with the number of raw entries (files, CSV rows) finished after each chunk.
    ``species``: element symbols for POSCARs without a species line; ``min_distance`` (Å): closest
    two atoms may be (None keeps overlapping atoms).

    With ``workers >= 1`` entries are parsed in that many worker processes; a worker that dies
    (a crash in native code) costs only the entry it was reading, rejected as "crashed the parser".
    ``workers=0`` parses in this process (no protection; for debugging).
    """
    _check_prepare_args(symprec, split_fractions, on_error)
    filters = filters or PrepareFilters()
    if str(source).endswith(".parquet"):
        return filter_prepared(source, output, filters=filters, symprec=symprec)
    report = ReadReport()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    sizes: deque[int] = deque()  # raw entries per chunk, in order (results come back in the same order)

    def counted(chunks: Iterable[list[RawEntry]]) -> Iterator[list[RawEntry]]:
        for chunk in chunks:
            sizes.append(len(chunk))
            yield chunk

    jobs = (
        _ChunkJob(chunk, symprec, filters, timeout, min_distance, species)
        for chunk in counted(_chunks(iter_raw_entries(source, report), chunk_size))
    )

    def consume(result: tuple[list[dict], list[tuple]]) -> None:
        chunk_rows, chunk_rejections = result
        for eid, reason, detail in chunk_rejections:
            if on_error == "raise" and reason != "filtered":
                raise StructureReadError(eid, reason, detail)
            report.reject(eid, reason, detail)
        for row in chunk_rows:
            if row["id"] in seen:
                report.reject(row["id"], "duplicate id", "an earlier entry has the same id")
                continue
            seen.add(row["id"])
            rows.append(row)
        if progress is not None:  # raw entries (files, CSV rows), not the structures they held
            progress(sizes.popleft())

    if workers < 1:
        for job in jobs:
            consume(_process_chunk(job))
    else:
        results = map_surviving_crashes(
            _process_chunk, jobs, workers, split=_split_job, merge=_merge_results, crashed=_crashed
        )
        try:
            for result in results:
                consume(result)
        finally:
            results.close()  # type: ignore[attr-defined]

    return _write_prepared(rows, report, Path(output), source, symprec, filters, split_seed, split_fractions)

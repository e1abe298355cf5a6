"""Read crystal structures from CSV (``cif`` column), folders of files, or single files.

Reading is split in two steps so that parsing can run in worker processes:

1. :func:`iter_raw_entries` walks the source cheaply and yields :class:`RawEntry` objects
   (an id, the file text or CIF string, a format tag, extra columns);
2. :func:`parse_entry` turns one raw entry into structures, or into rejections with a reason.

:func:`read_structures` composes both sequentially and applies the error policy.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import signal
import threading
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from xtalgen.data.cif_blocks import parse_cif_blocks
from xtalgen.data.fast_cif import parse_p1_cif
from xtalgen.data.json_structure import structures_from_json
from xtalgen.data.json_values import json_ready
from xtalgen.data.records import EntryRejected, OnError, ReadReport, StructureReadError, StructureRecord
from xtalgen.data.structure_checks import (
    MAX_SUPPORTED_Z,
    MIN_CELL_HEIGHT,
    MIN_INTERATOMIC_DISTANCE,
    check_structure,
    finite_problem,
)

__all__ = [
    "MAX_SUPPORTED_Z",
    "MIN_CELL_HEIGHT",
    "MIN_INTERATOMIC_DISTANCE",
    "ParseOutcome",
    "RawEntry",
    "check_structure",
    "iter_raw_entries",
    "parse_entry",
    "read_structures",
]

_CIF_SUFFIXES = (".cif", ".mcif")
_XYZ_SUFFIXES = (".extxyz", ".xyz")
_POSCAR_PREFIXES = ("POSCAR", "CONTCAR")


@dataclass
class RawEntry:
    """An unparsed entry: ``fmt`` is one of ``cif``, ``poscar``, ``extxyz``, ``json``."""

    id: str
    text: str
    fmt: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParseOutcome:
    """What :func:`parse_entry` found: records and rejections (id, reason, detail)."""

    records: list[StructureRecord] = field(default_factory=list)
    rejections: list[tuple[str, str, str]] = field(default_factory=list)


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt the block after ``seconds`` with SIGALRM (main thread on POSIX only; else no limit)."""
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _format_of(path: Path) -> str | None:
    name = path.name
    lower = name.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    if lower.endswith(_CIF_SUFFIXES):
        return "cif"
    if lower.endswith(_XYZ_SUFFIXES):
        return "extxyz"
    if lower.endswith(".json"):
        return "json"
    if lower.endswith(".vasp") or name.startswith(_POSCAR_PREFIXES):
        return "poscar"
    return None


def _read_text(path: Path) -> str:
    if path.name.lower().endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
            return fh.read()
    return path.read_text(encoding="utf-8", errors="replace")


def _is_table(path: Path) -> bool:
    lower = path.name.lower()
    return lower.endswith((".csv", ".csv.gz"))


def iter_raw_entries(source: str | Path, report: ReadReport | None = None) -> Iterator[RawEntry]:
    """Yield the raw entries of a CSV/CSV.GZ (``cif`` column), a folder (recursive) or one file.

    Files that cannot even be read are recorded in ``report`` as ``unparseable``.
    """
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"structure source not found: {path}")
    if path.is_dir():
        found = sorted(path.rglob("*"))
        for p in (p for p in found if p.is_symlink()):
            problem = _link_problem(p)  # loops and folder links always; broken links of structure files
            if problem and report is not None and (_format_of(p) is not None or not problem.startswith("broken")):
                report.reject(str(p.relative_to(path)), "unparseable", f"cannot read file: {problem}")
        for p in (p for p in found if p.is_file() and _format_of(p) is not None):
            yield from _file_entries(p, report, id_prefix=str(p.relative_to(path)))
    elif _is_table(path):
        yield from _table_entries(path)
    else:
        if _format_of(path) is None:
            raise ValueError(
                f"{path}: unknown structure file type; expected .csv(.gz) with a 'cif' column, "
                ".cif/.mcif(.gz), POSCAR/CONTCAR/*.vasp, .extxyz/.xyz or .json"
            )
        yield from _file_entries(path, report, id_prefix=path.name)


def _link_problem(link: Path) -> str | None:
    """Why a symbolic link met while walking a folder is skipped (None for a link to a readable file)."""
    try:
        target = link.resolve(strict=True)
    except (RuntimeError, OSError) as exc:  # Python 3.11 raises RuntimeError for a loop
        if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP:
            return "symbolic link loop"
        return f"broken symbolic link (to {os.readlink(link)})"
    if target.is_dir():
        if target == link.parent.resolve() or target in link.parent.resolve().parents:
            return f"symbolic link loop (to the folder {target} that holds it)"
        return "symbolic link to a folder (links to folders are not followed)"
    return None


def _file_entries(path: Path, report: ReadReport | None, id_prefix: str) -> Iterator[RawEntry]:
    fmt = _format_of(path)
    assert fmt is not None  # filtered by the caller
    try:
        text = _read_text(path)
    except (OSError, EOFError, zlib.error) as exc:  # unreadable, or a corrupt / truncated gzip
        if report is not None:
            what = "corrupt gzip" if path.name.lower().endswith(".gz") else "cannot read file"
            report.reject(id_prefix, "unreadable file", f"{what}: {type(exc).__name__}: {exc}")
        return
    yield RawEntry(id=id_prefix, text=text, fmt=fmt, properties={"source_file": str(path)})


def _table_entries(path: Path) -> Iterator[RawEntry]:
    from xtalgen.data.csv_table import read_csv_table

    frame = read_csv_table(path)
    frame = frame.loc[:, [c for c in frame.columns if not str(c).startswith("Unnamed")]]
    if "cif" not in frame.columns:
        raise ValueError(f"{path}: a structure table needs a 'cif' column; found {list(frame.columns)}")
    id_column = next((c for c in ("material_id", "id", "name") if c in frame.columns), None)
    others = [c for c in frame.columns if c not in ("cif", id_column)]
    cifs = frame["cif"].tolist()
    ids = frame[id_column].astype(str).tolist() if id_column else [f"row{i}" for i in range(len(frame))]
    columns = {c: frame[c].tolist() for c in others}
    for i, (entry_id, cif) in enumerate(zip(ids, cifs, strict=True)):
        props = {c: json_ready(columns[c][i]) for c in others}
        text = cif if isinstance(cif, str) else ""
        yield RawEntry(id=entry_id, text=text, fmt="cif", properties=props)


def _poscar_structure(text: str, species: tuple[str, ...] | None) -> Structure:
    """A POSCAR's structure; without a species line the symbols come from ``species`` or it is rejected."""
    from pymatgen.io.vasp import Poscar
    from pymatgen.io.vasp.inputs import BadPoscarWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.filterwarnings("error", message="Elements in POSCAR cannot be determined", category=BadPoscarWarning)
        try:
            return Poscar.from_str(text).structure
        except BadPoscarWarning as exc:
            if "cannot be determined" not in str(exc):
                raise
    lines = text.strip().splitlines()
    n_types = len(lines[5].split()) if len(lines) > 5 else 0
    if not species:
        raise EntryRejected(
            "no element symbols",
            f"POSCAR has no species line and no symbols after the coordinates ({n_types} atom types); "
            "give them in order with --species",
        )
    if len(species) != n_types:
        raise EntryRejected(
            "no element symbols", f"POSCAR has {n_types} atom types but {len(species)} species were given"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Poscar.from_str(text, default_names=list(species)).structure


def _parse_structures(
    entry: RawEntry, species: tuple[str, ...] | None = None
) -> list[tuple[str, Structure | tuple[str, str]]]:
    """Parse an entry's text into ``(id, structure or (reason, detail))`` pairs.

    Multi-block CIFs give one item per data block (``id#block``), blocks without atoms included (as
    the rejection "no atoms in block"); a single-block file keeps ``id``.
    """
    if not entry.text.strip():
        return []
    if entry.fmt == "cif":
        fast = parse_p1_cif(entry.text)
        if fast is not None:
            return [(entry.id, fast)]
        blocks = parse_cif_blocks(entry.text)
        if not blocks:
            return []
        if all(b.rejection is not None and b.rejection[0] == "no atoms in block" for b in blocks):
            where = "the data block" if len(blocks) == 1 else f"none of the {len(blocks)} data blocks"
            raise EntryRejected("empty", f"{where} holds atoms" if len(blocks) > 1 else f"{where} holds no atoms")
        if len(blocks) == 1:
            b = blocks[0]
            return [(entry.id, b.structure if b.structure is not None else b.rejection)]  # type: ignore[list-item]
        out: list[tuple[str, Structure | tuple[str, str]]] = []
        names = [b.name for b in blocks]
        for k, b in enumerate(blocks):
            name = b.name if names.count(b.name) == 1 else f"{b.name}.{k}"
            out.append((f"{entry.id}#{name}", b.structure if b.structure is not None else b.rejection))  # type: ignore[arg-type]
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if entry.fmt == "poscar":
            return [(entry.id, _poscar_structure(entry.text, species))]
        if entry.fmt == "json":
            structures = structures_from_json(entry.text)
            if len(structures) == 1:
                return [(entry.id, structures[0])]
            return [(f"{entry.id}#{i}", s) for i, s in enumerate(structures)]
        if entry.fmt == "extxyz":
            import io

            from ase.io import read as ase_read
            from pymatgen.io.ase import AseAtomsAdaptor

            frames = ase_read(io.StringIO(entry.text), index=":", format="extxyz")
            out = []
            for i, atoms in enumerate(frames):
                eid = entry.id if len(frames) == 1 else f"{entry.id}#{i}"
                if not np.isfinite(atoms.cell.array).all() or not np.isfinite(atoms.positions).all():
                    out.append((eid, ("non-finite numbers", "cell or positions hold NaN or infinity")))
                    continue
                out.append((eid, AseAtomsAdaptor.get_structure(atoms)))
            return out
    raise ValueError(f"unknown format {entry.fmt!r}")


def parse_entry(
    entry: RawEntry,
    *,
    max_sites: int | None = None,
    timeout: float | None = 10.0,
    min_distance: float | None = MIN_INTERATOMIC_DISTANCE,
    species: tuple[str, ...] | None = None,
) -> ParseOutcome:
    """Parse and check one raw entry; never raises for bad input (see the rejections).

    ``min_distance`` (Å): reject atoms closer than this (None: keep them). ``species``: element
    symbols, in order, for POSCARs without a species line (otherwise rejected: "no element symbols").
    """
    outcome = ParseOutcome()
    try:
        with _time_limit(timeout):
            parsed = _parse_structures(entry, species)
    except _Timeout:
        outcome.rejections.append((entry.id, "timeout", f"parsing took longer than {timeout} s"))
        return outcome
    except EntryRejected as exc:
        outcome.rejections.append((entry.id, exc.reason, exc.detail))
        return outcome
    except Exception as exc:  # any parser failure is a property of the input
        outcome.rejections.append((entry.id, "unparseable", f"{type(exc).__name__}: {exc}"))
        return outcome
    if not parsed:
        outcome.rejections.append((entry.id, "empty", "no structure in entry"))
        return outcome
    for eid, structure in parsed:
        if isinstance(structure, tuple):
            outcome.rejections.append((eid, *structure))
            continue
        problem = finite_problem(structure)
        if problem is None:
            with contextlib.suppress(Exception):
                structure.remove_oxidation_states()
            problem = check_structure(structure, max_sites, min_distance=min_distance)
        if problem is not None:
            outcome.rejections.append((eid, *problem))
            continue
        if "magmom" in structure.site_properties:
            structure.remove_site_property("magmom")
        outcome.records.append(StructureRecord(id=eid, structure=structure, properties=dict(entry.properties)))
    return outcome


def read_structures(
    source: str | Path,
    *,
    on_error: OnError = "skip",
    max_sites: int | None = None,
    timeout: float | None = 10.0,
    report: ReadReport | None = None,
    min_distance: float | None = MIN_INTERATOMIC_DISTANCE,
    species: tuple[str, ...] | None = None,
) -> Iterator[StructureRecord]:
    """Yield :class:`StructureRecord` objects from a CSV(.gz) with a ``cif`` column, a folder, or a file.

    ``on_error="skip"`` records each rejected entry (id and reason) in ``report``;
    ``on_error="raise"`` raises :class:`StructureReadError` at the first one.
    ``timeout`` (s) bounds the parsing of one entry (a CIF that makes the parser loop forever).
    ``min_distance`` (Å) and ``species`` are passed to :func:`parse_entry`.
    """
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    report = report if report is not None else ReadReport()
    for entry in iter_raw_entries(source, report):
        if on_error == "raise" and report.rejections:
            first = report.rejections[0]
            raise StructureReadError(first.id, first.reason, first.detail)
        outcome = parse_entry(entry, max_sites=max_sites, timeout=timeout, min_distance=min_distance, species=species)
        for eid, reason, detail in outcome.rejections:
            if on_error == "raise":
                raise StructureReadError(eid, reason, detail)
            report.reject(eid, reason, detail)
        for record in outcome.records:
            report.accepted += 1
            yield record
    if on_error == "raise" and report.rejections:
        first = report.rejections[0]
        raise StructureReadError(first.id, first.reason, first.detail)

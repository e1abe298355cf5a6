"""Write generated structures: one CIF per accepted structure, a ``summary.csv`` and ``generation.json``."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xtalgen.data.atomic import atomic_write
from xtalgen.data.safe_names import unique_filenames

if TYPE_CHECKING:
    from pymatgen.core import Structure

#: Rejected candidates, when they are listed apart from ``summary.csv`` (``split_rejected``).
REJECTED_FILE = "rejected.csv"
#: Which model made a generation folder's candidates (JSON), beside ``summary.csv``.
GENERATION_FILE = "generation.json"
#: What a generation folder holds (``--overwrite`` deletes exactly these): CIFs, tables, record, raw tensors.
GENERATION_ENTRIES = frozenset({"cifs", "summary.csv", REJECTED_FILE, GENERATION_FILE, "tensors.npy"})


@dataclass
class Candidate:
    """One generated candidate: its structure (None if decoding failed), info columns, verdict.

    A family whose post-processing already ran spglib on the structure may hand over what the writer would
    otherwise compute again: ``cif`` (the symmetrized CIF text, e.g. :mod:`xtalgen.data.symmetrized_cif`),
    ``spacegroup`` (spglib's number at the writer's ``symprec``) and ``wyckoff_template`` (space group and
    sorted Wyckoff letters, :func:`xtalgen.data.symmetry.wyckoff_template_of`).
    """

    id: str
    structure: Structure | None
    info: dict[str, Any] = field(default_factory=dict)
    accepted: bool = True
    reason: str = ""
    cif: str | None = field(default=None, repr=False)
    spacegroup: int | None = None
    wyckoff_template: tuple[int, str] | None = None


def cif_text(structure: Structure, symprec: float | None = 0.1) -> str:
    """CIF text stating the structure's real space group (found with spglib at ``symprec``).

    Falls back to P1 only when symmetry analysis fails.
    """
    from pymatgen.io.cif import CifWriter

    if symprec is not None:
        try:
            return str(CifWriter(structure, symprec=symprec))
        except Exception:  # spglib can fail on degenerate cells; P1 is still a valid CIF
            pass
    return str(CifWriter(structure))


def write_generation(
    out_dir: str | Path,
    candidates: Iterable[Candidate],
    symprec: float | None = 0.1,
    meta: Mapping[str, Any] | None = None,
    split_rejected: bool = False,
) -> Path:
    """Write ``cifs/<name>.cif`` for each accepted candidate and ``summary.csv`` for all; return the summary path.

    ``<name>`` is the id made safe as a file name (:func:`xtalgen.data.safe_names.unique_filenames`: a
    repeated id gets ``~2``...); the ``id`` column keeps the original id and the ``cif`` column the file.

    With ``split_rejected`` the candidates that were not accepted go to ``rejected.csv`` instead, so
    ``summary.csv`` lists exactly the structures written (what ``xtalgen evaluate`` scores).

    Each row has id, accepted, reason, formula, spacegroup (spglib at ``symprec``), nsites, cif file, then info.
    ``meta`` (which model made the candidates: ``model``, ``checkpoint``, ``pretrained``, ``seed``...) goes
    to ``generation.json`` with the candidate counts; ``xtalgen evaluate`` reads it.
    """
    out = Path(out_dir)
    (out / "cifs").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    candidates = list(candidates)
    names = unique_filenames([c.id for c in candidates])
    for cand, file_name in zip(candidates, names, strict=True):
        row: dict[str, Any] = {"id": cand.id, "accepted": cand.accepted, "reason": cand.reason}
        s = cand.structure
        if s is not None:  # info's formula, when it has one, takes this column's place below
            formula = cand.info.get("formula")
            row["formula"] = formula if formula is not None else s.composition.reduced_formula
            row["nsites"] = len(s)
            if cand.spacegroup is not None:
                row["spacegroup"] = cand.spacegroup
            else:
                row["spacegroup"] = _spacegroup_number(s, symprec)
        if cand.accepted and s is not None:
            name = f"cifs/{file_name}.cif"
            with atomic_write(out / name) as fh:
                fh.write(cand.cif if cand.cif is not None else cif_text(s, symprec))
            row["cif"] = name
        row.update(cand.info)
        rows.append(row)
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    summary = out / "summary.csv"
    _write_rows(summary, keys, [r for r in rows if r["accepted"]] if split_rejected else rows)
    if split_rejected:
        _write_rows(out / REJECTED_FILE, keys, [r for r in rows if not r["accepted"]])
    elif (out / REJECTED_FILE).exists():  # stale, from an earlier run into the same folder
        (out / REJECTED_FILE).unlink()
    if meta is not None:
        record = {**meta, "n_candidates": len(rows), "n_accepted": sum(bool(r["accepted"]) for r in rows)}
        with atomic_write(out / GENERATION_FILE) as fh:
            json.dump(record, fh, indent=1, default=str)
    elif (out / GENERATION_FILE).exists():  # a stale record from an earlier run into the same folder
        (out / GENERATION_FILE).unlink()
    return summary


def _spacegroup_number(structure: Structure, symprec: float | None) -> int | str:
    """spglib's space-group number at ``symprec`` (0.1 when None), "" when the analysis fails."""
    from xtalgen.data.symmetry import spacegroup_number

    number = spacegroup_number(structure, symprec or 0.1)
    return "" if number is None else number


def _write_rows(path: Path, keys: list[str], rows: list[dict[str, Any]]) -> None:
    with atomic_write(path, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def read_generation_meta(out_dir: str | Path) -> dict[str, Any]:
    """The ``generation.json`` record of a generation folder ({} when it has none or it is unreadable)."""
    path = Path(out_dir) / GENERATION_FILE
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}

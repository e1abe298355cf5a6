"""Export chosen candidates as VASP inputs (pymatgen ``MPRelaxSet``) for DFT follow-up.

When no POTCAR library is configured (``PMG_VASP_PSP_DIR`` unset), POSCAR, INCAR and KPOINTS are
still written, with a ``POTCAR.spec`` naming the pseudopotentials to use instead of the POTCAR.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from xtalgen.data.atomic import atomic_write
from xtalgen.data.csv_table import read_csv_table
from xtalgen.data.safe_names import safe_filename, unique_filenames
from xtalgen.data.structure_checks import check_structure
from xtalgen.evaluation.sources import load_generated

#: Files MPRelaxSet writes into a candidate's folder.
VASP_FILES = frozenset({"POSCAR", "INCAR", "KPOINTS", "POTCAR", "POTCAR.spec"})
#: The export's index: original id, folder written, formula (ids become folder names through safe_filename).
INDEX_FILE = "candidates.csv"


def owned_by_export(entry: Path) -> bool:
    """True for what ``export_vasp`` writes at the top of its folder: the index, and candidate folders that
    hold only VASP input files (``xtalgen export vasp --overwrite`` deletes exactly these)."""
    if entry.name == INDEX_FILE and entry.is_file():
        return True
    if not entry.is_dir() or entry.is_symlink():
        return False
    return all(p.is_file() and p.name in VASP_FILES for p in entry.iterdir())


@dataclass
class VaspExport:
    """What was written: one folder per candidate, and whether real POTCARs were included."""

    out_dir: Path
    written: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    potcar: bool = False
    message: str = ""


def potcar_available() -> bool:
    """True when pymatgen knows a POTCAR directory (``PMG_VASP_PSP_DIR``) that exists."""
    from pymatgen.core import SETTINGS

    psp = SETTINGS.get("PMG_VASP_PSP_DIR")
    return bool(psp) and Path(str(psp)).expanduser().is_dir()


def export_vasp(candidates: Sequence[tuple[str, Structure]], out_dir: str | Path) -> VaspExport:
    """Write ``out_dir/<name>/`` with MPRelaxSet inputs for each ``(id, structure)`` and the index
    ``candidates.csv`` (id, folder, formula); ``<name>`` is the id made safe as a folder name.

    Without a POTCAR library: POSCAR, INCAR, KPOINTS and POTCAR.spec, and ``message`` says so.
    Structures that :func:`xtalgen.data.structure_checks.check_structure` rejects (non-finite or
    impossible cell, overlapping atoms, ...) are not written; ``failed`` gives the reason.
    """
    from pymatgen.io.vasp.sets import MPRelaxSet

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    have_potcar = potcar_available()
    result = VaspExport(out, potcar=have_potcar)
    index = []
    names = unique_filenames([str(cid) for cid, _ in candidates])
    for (cid, structure), name in zip(candidates, names, strict=True):
        problem = check_structure(structure)
        if problem is not None:  # never hand DFT a NaN, 1e30 Å or overlapping-atom cell
            result.failed[str(cid)] = f"{problem[0]}: {problem[1]}"
            continue
        folder = out / name
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                MPRelaxSet(structure).write_input(str(folder), potcar_spec=not have_potcar)
            result.written.append(str(cid))
            index.append({"id": str(cid), "folder": folder.name, "formula": structure.composition.reduced_formula})
        except Exception as exc:  # e.g. an element without an MP POTCAR choice
            result.failed[str(cid)] = f"{type(exc).__name__}: {exc}"[:300]
    with atomic_write(out / INDEX_FILE, newline="") as fh:
        pd.DataFrame(index, columns=["id", "folder", "formula"]).to_csv(fh, index=False)
    if not have_potcar:
        result.message = (
            "PMG_VASP_PSP_DIR is not set: wrote POSCAR, INCAR, KPOINTS and POTCAR.spec (the POTCAR symbols); "
            "configure a POTCAR library (pmg config --add PMG_VASP_PSP_DIR <dir>) and re-export, or build "
            "POTCARs from POTCAR.spec yourself."
        )
    return result


def select_candidates(source: str | Path, top: int | None = None) -> list[tuple[str, Structure]]:
    """Candidates to export from an evaluation report dir or any generated-structure source.

    An evaluation report (``per_sample.csv`` with ``e_hull`` and a ``relaxed/`` folder) gives the
    relaxed structures, S.U.N. first then by increasing E_hull; otherwise the structures of the source
    (generation dir, folder, CSV...) in order, ranked by ``e_hull`` if the source has that column.
    ``top`` keeps the first N.
    """
    if top is not None and top < 1:
        raise ValueError(f"top must be ≥ 1, got {top}")
    path = Path(source)
    table = path / "per_sample.csv"
    if path.is_dir() and table.is_file() and (path / "relaxed").is_dir():
        rows = read_csv_table(table)  # ids and formulas as text ("NaN" is a formula)
        rows = rows[np.isfinite(pd.to_numeric(rows.get("e_hull"), errors="coerce"))]
        rows = rows.assign(_not_sun=~rows.get("sun", pd.Series(False, index=rows.index)).astype(bool))
        rows = rows.sort_values(["_not_sun", "e_hull"])
        out: list[tuple[str, Structure]] = []
        for sid in rows["id"]:
            cif = path / "relaxed" / f"{safe_filename(str(sid))}.cif"
            if cif.is_file():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out.append((str(sid), Structure.from_file(cif)))
            if top is not None and len(out) >= top:
                break
        return out
    gen = load_generated(path)
    order = list(range(len(gen)))
    if "e_hull" in gen.info.columns:
        e = pd.to_numeric(gen.info["e_hull"], errors="coerce").to_numpy(dtype=float)
        order = sorted(order, key=lambda i: e[i] if np.isfinite(e[i]) else np.inf)
    picked = [(gen.ids[i], gen.structures[i]) for i in order if gen.structures[i] is not None]
    return picked[:top] if top is not None else picked

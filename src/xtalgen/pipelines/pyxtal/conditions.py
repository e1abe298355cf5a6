"""Given (space group, conventional-cell composition) conditions for the PyXtal baseline: file and builder.

A conditions file is a CSV with one row per sample: ``spacegroup`` (1..230), ``composition`` (the atoms of
the conventional cell as a formula with counts, e.g. ``Sr4Ti4O12``), and optionally ``volume_per_atom``
(Å³/atom; the cell is rescaled to it) and ``id`` (recorded as the sample's ``source_id``). Written from
structures with :func:`conditions_from_structures`, e.g. a generative model's output, so that PyXtal
places atoms at random with exactly each structure's space group and composition (a *paired* baseline).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pymatgen.core import Composition, Element, Structure

from xtalgen.data.symmetry import analyse_symmetry


@dataclass(frozen=True)
class Condition:
    """One sample's condition: space group, species with their atoms in the conventional cell, volume."""

    spacegroup: int
    species: tuple[str, ...]
    counts: tuple[int, ...]
    volume_per_atom: float | None = None
    source_id: str = ""

    @property
    def composition(self) -> str:
        """The conventional cell's composition as a formula with counts (``Sr4Ti4O12``)."""
        return "".join(f"{el}{n}" for el, n in zip(self.species, self.counts, strict=True))


def conventional_counts(structure: Structure, symprec: float) -> tuple[int, tuple[str, ...], tuple[int, ...]]:
    """(space group, species, atoms of each in the conventional cell) from spglib's Wyckoff multiplicities.

    Raises ValueError when spglib finds no symmetry."""
    info = analyse_symmetry(structure, symprec)
    numbers = structure.atomic_numbers
    counts: dict[int, int] = defaultdict(int)
    for rep in sorted(set(info.equivalent_atoms)):
        counts[int(numbers[rep])] += int(info.multiplicities[rep])
    species = tuple(Element.from_Z(z).symbol for z in counts)
    return info.spacegroup, species, tuple(counts[z] for z in counts)


def conditions_from_structures(ids: Sequence[str], structures: Sequence[Structure | None], symprec: float = 0.1,
                               volume: bool = True) -> pd.DataFrame:  # fmt: skip
    """A conditions table (columns ``id, spacegroup, composition, volume_per_atom``) of the given structures;
    ``volume``: record each structure's volume per atom (Å³/atom). Structures that are None or have no
    spglib symmetry are left out."""
    rows = []
    for sid, s in zip(ids, structures, strict=True):
        if s is None:
            continue
        try:
            sg, species, counts = conventional_counts(s, symprec)
        except ValueError:
            continue
        cond = Condition(sg, species, counts)
        rows.append({"id": str(sid), "spacegroup": sg, "composition": cond.composition,
                     "volume_per_atom": s.volume / len(s) if volume else float("nan")})  # fmt: skip
    return pd.DataFrame(rows, columns=["id", "spacegroup", "composition", "volume_per_atom"])


def read_conditions(path: str | Path) -> list[Condition]:
    """The conditions of a CSV file (see the module doc); ValueError naming the file, row and reason."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"conditions file {p}: not found")
    frame = pd.read_csv(p, dtype={"id": str, "composition": str})
    missing = [c for c in ("spacegroup", "composition") if c not in frame.columns]
    if missing:
        raise ValueError(f"conditions file {p}: missing column(s) {missing} (need spacegroup, composition)")
    if frame.empty:
        raise ValueError(f"conditions file {p}: no rows")
    out = []
    for i, row in enumerate(frame.to_dict("records")):
        where = f"conditions file {p}, row {i + 1}"
        sg = row["spacegroup"]
        if not isinstance(sg, int | float) or pd.isna(sg) or float(sg) != int(sg) or not 1 <= int(sg) <= 230:
            raise ValueError(f"{where}: spacegroup must be an integer 1..230, got {sg!r}")
        try:
            comp = Composition(str(row["composition"]))
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{where}: composition {row['composition']!r} is not a formula ({exc})") from None
        amounts = comp.get_el_amt_dict()
        if not amounts or any(float(n) != int(n) or n < 1 for n in amounts.values()):
            raise ValueError(f"{where}: composition {row['composition']!r} needs whole atom counts >= 1")
        vpa = row.get("volume_per_atom")
        vpa = float(vpa) if vpa is not None and not pd.isna(vpa) else None
        if vpa is not None and vpa <= 0:
            raise ValueError(f"{where}: volume_per_atom must be > 0 Å³/atom, got {vpa}")
        sid = row.get("id")
        out.append(Condition(int(sg), tuple(amounts), tuple(int(n) for n in amounts.values()), vpa,
                             "" if sid is None or pd.isna(sid) else str(sid)))  # fmt: skip
    return out

"""Symmetry analysis of one structure with spglib (via pymatgen), at an explicit ``symprec``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

#: Default symmetry tolerance (Å), recorded in every output that depends on it.
DEFAULT_SYMPREC = 0.1


def spacegroup_number(structure: Structure, symprec: float = DEFAULT_SYMPREC) -> int | None:
    """spglib's international space-group number at ``symprec`` (Å); None when the analysis fails (spglib gives
    up on degenerate cells)."""
    try:
        return int(SpacegroupAnalyzer(structure, symprec=symprec).get_space_group_number())
    except Exception:
        return None


@dataclass(frozen=True)
class SymmetryInfo:
    """Space group and Wyckoff data of a structure (site lists follow the structure's own site order).

    ``orbit_sizes`` count the symmetry-equivalent sites of each site in the given cell;
    ``multiplicities`` are the Wyckoff multiplicities in the conventional cell (International Tables).
    """

    spacegroup: int
    symbol: str
    hall_number: int
    wyckoffs: tuple[str, ...]
    multiplicities: tuple[int, ...]
    equivalent_atoms: tuple[int, ...]
    symprec: float

    @property
    def base_sites(self) -> tuple[int, ...]:
        """Indices of one representative site per symmetry-independent orbit (the asymmetric unit)."""
        return tuple(sorted(set(self.equivalent_atoms)))

    @property
    def n_base_sites(self) -> int:
        return len(set(self.equivalent_atoms))

    @property
    def orbit_sizes(self) -> tuple[int, ...]:
        counts = np.bincount(np.asarray(self.equivalent_atoms))
        return tuple(int(counts[i]) for i in self.equivalent_atoms)


def wyckoff_template_of(dataset) -> tuple[int, str]:
    """(space group number, sorted Wyckoff letters of the symmetry-independent sites) of a spglib dataset."""
    firsts = np.unique(np.asarray(dataset.equivalent_atoms))
    return int(dataset.number), " ".join(sorted(str(dataset.wyckoffs[i]) for i in firsts))


@lru_cache(maxsize=256)
def wyckoff_multiplicities(spacegroup: int) -> dict[str, int]:
    """Map Wyckoff letter -> multiplicity (conventional cell) for a space group number 1-230."""
    if not 1 <= int(spacegroup) <= 230:
        raise ValueError(f"space group number must be in 1..230, got {spacegroup}")
    from pyxtal.symmetry import Group

    labels = Group(int(spacegroup)).get_wp_list()
    return {label[-1]: int(label[:-1]) for label in labels}


def analyse_symmetry(structure: Structure, symprec: float = DEFAULT_SYMPREC) -> SymmetryInfo:
    """Space group number/symbol, Wyckoff letters and multiplicities, equivalent atoms (spglib).

    Raises ``ValueError`` when spglib finds no symmetry dataset (e.g. overlapping atoms).
    """
    dataset = SpacegroupAnalyzer(structure, symprec=symprec).get_symmetry_dataset()
    if dataset is None:
        raise ValueError(f"spglib found no symmetry at symprec={symprec}")
    number = int(dataset.number)
    table = wyckoff_multiplicities(number)
    wyckoffs = tuple(str(w) for w in dataset.wyckoffs)
    return SymmetryInfo(
        spacegroup=number,
        symbol=str(dataset.international),
        hall_number=int(dataset.hall_number),
        wyckoffs=wyckoffs,
        multiplicities=tuple(table.get(w, 0) for w in wyckoffs),
        equivalent_atoms=tuple(int(i) for i in dataset.equivalent_atoms),
        symprec=float(symprec),
    )

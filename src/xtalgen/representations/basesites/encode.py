"""Structure → base (symmetry-independent) sites in the standard conventional setting.

The standard conventional cell is spglib's standardized cell in the default Hall setting of the
space group (see :mod:`.symops`), with idealized lattice and symmetrized positions. Every
symmetry-independent site (orbit) keeps its element, Wyckoff letter and *all* its positions in the
conventional cell, so that self-augmentation (:mod:`.augment`) can pick any of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import spglib
from pymatgen.core import Element, Lattice, Structure

from xtalgen.data.crystal_systems import crystal_system
from xtalgen.representations.basesites.lattice import symmetrize
from xtalgen.representations.basesites.symops import apply_ops, default_hall_number, spacegroup_ops


def wrap01(frac: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Wrap fractional coords into [0, 1); values within ``eps`` of 1 become 0 (safe for float32)."""
    x = np.asarray(frac, dtype=np.float64)
    x = x - np.floor(x)
    return np.where(x > 1.0 - eps, 0.0, x)


@lru_cache(maxsize=128)
def _electronegativity(symbol: str) -> float:
    x = Element(symbol).X
    return float(x) if math.isfinite(x) else math.inf


@dataclass
class BaseSites:
    """Base sites of one crystal in its standard conventional cell.

    ``orbits[i]`` holds all positions (m_i, 3) of base site i in the conventional cell (fractional,
    in [0, 1)), sorted so that ``orbits[i][0]`` is a deterministic representative. Sites are ordered
    by (Pauling electronegativity, Z, multiplicity, Wyckoff letter), i.e. cations before anions.
    """

    spacegroup: int
    hall_number: int
    lattice: np.ndarray  # (6,) a, b, c in Å; α, β, γ in degrees
    species: list[str]
    wyckoffs: list[str]
    orbits: list[np.ndarray]
    id: str = ""
    symprec: float = 0.1
    extra: dict = field(default_factory=dict)

    @property
    def n_sites(self) -> int:
        """Number of base sites K."""
        return len(self.species)

    @property
    def numbers(self) -> np.ndarray:
        """Atomic numbers (K,) of the base sites."""
        return np.array([Element(s).Z for s in self.species], dtype=np.int64)

    @property
    def multiplicities(self) -> np.ndarray:
        """Number of atoms (K,) of each base site in the conventional cell."""
        return np.array([len(o) for o in self.orbits], dtype=np.int64)

    @property
    def n_atoms(self) -> int:
        """Number of atoms in the conventional cell."""
        return int(self.multiplicities.sum())

    @property
    def crystal_system(self) -> int:
        """Crystal-system code 0 (triclinic) … 6 (cubic)."""
        return crystal_system(self.spacegroup)

    @property
    def representatives(self) -> np.ndarray:
        """One fractional position (K, 3) per base site: the first of each orbit."""
        return np.stack([o[0] for o in self.orbits])

    def canonical_sets(self, n_sets: int = 3) -> np.ndarray:
        """Deterministic sets (n_sets, K, 3): set s takes orbit member s (cyclically for small orbits)."""
        return np.stack(
            [np.stack([o[s % len(o)] for o in self.orbits]) for s in range(n_sets)]
        )

    def conventional_structure(self) -> Structure:
        """The full conventional cell as a pymatgen Structure (all orbit members)."""
        species = [sp for sp, o in zip(self.species, self.orbits, strict=True) for _ in range(len(o))]
        coords = np.concatenate(self.orbits)
        return Structure(Lattice.from_parameters(*self.lattice), species, coords)


def _orbits(positions: np.ndarray, types: np.ndarray, matrix: np.ndarray, ops: np.ndarray, tol: float):
    """Group atoms into orbits under ``ops``; returns a list of index arrays."""
    n = len(positions)
    assigned = np.full(n, -1, dtype=np.int64)
    orbits: list[np.ndarray] = []
    for i in range(n):
        if assigned[i] >= 0:
            continue
        images = wrap01(apply_ops(ops, positions[i]))  # (n_ops, 3)
        diff = images[:, None, :] - positions[None, :, :]
        diff -= np.round(diff)
        dist = np.linalg.norm(diff @ matrix, axis=-1)  # (n_ops, n)
        dist[:, types != types[i]] = np.inf
        nearest = dist.argmin(axis=1)
        if np.any(dist[np.arange(len(ops)), nearest] > tol):
            raise ValueError("a symmetry image does not land on an atom of the standardized cell")
        members = np.unique(nearest)
        if np.any(assigned[members] >= 0):
            raise ValueError("orbits overlap in the standardized cell")
        assigned[members] = len(orbits)
        orbits.append(members)
    return orbits


def encode_structure(
    structure: Structure, *, symprec: float = 0.1, angle_tolerance: float = -1.0, id: str = ""
) -> BaseSites:
    """Base sites of ``structure`` in its standard conventional cell (spglib at ``symprec`` Å).

    Raises ValueError for disordered structures or when spglib cannot find the symmetry.
    """
    if not structure.is_ordered:
        raise ValueError(f"{id or structure.formula}: disordered structures have no base-site encoding")
    cell = (
        np.asarray(structure.lattice.matrix),
        np.asarray(structure.frac_coords),
        np.array([site.specie.Z for site in structure], dtype=np.int64),
    )
    ds = spglib.get_symmetry_dataset(cell, symprec=symprec, angle_tolerance=angle_tolerance)
    if ds is None:
        raise ValueError(f"{id or structure.formula}: spglib found no symmetry at symprec={symprec}")
    sg = int(ds.number)
    hall = default_hall_number(sg)
    if int(ds.hall_number) != hall:
        ds = spglib.get_symmetry_dataset(
            cell, symprec=symprec, angle_tolerance=angle_tolerance, hall_number=hall
        )
        if ds is None or int(ds.hall_number) != hall:
            raise ValueError(f"{id or structure.formula}: cannot standardize to Hall setting {hall}")
    matrix = np.asarray(ds.std_lattice, dtype=np.float64)
    positions = wrap01(np.asarray(ds.std_positions, dtype=np.float64))
    types = np.asarray(ds.std_types, dtype=np.int64)
    ops = spacegroup_ops(sg)
    groups = _orbits(positions, types, matrix, ops, tol=max(1e-3, 0.5 * symprec))

    # Wyckoff letter of a std atom = letter of any input atom mapped to the same primitive atom.
    prim_to_input = {int(p): j for j, p in enumerate(ds.mapping_to_primitive)}
    sites = []
    for members in groups:
        z = int(types[members[0]])
        sym = Element.from_Z(z).symbol
        wyckoff = ds.wyckoffs[prim_to_input[int(ds.std_mapping_to_primitive[members[0]])]]
        orbit = positions[members]
        orbit = orbit[np.lexsort(np.round(orbit, 6).T[::-1])]
        sites.append((_electronegativity(sym), z, len(members), wyckoff, tuple(orbit[0]), sym, orbit))
    sites.sort(key=lambda t: t[:5])
    lat = Lattice(matrix)
    params = symmetrize(np.array(lat.parameters), crystal_system(sg))
    return BaseSites(
        spacegroup=sg,
        hall_number=hall,
        lattice=params,
        species=[t[5] for t in sites],
        wyckoffs=[t[3] for t in sites],
        orbits=[t[6] for t in sites],
        id=id,
        symprec=symprec,
    )

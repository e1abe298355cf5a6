"""Fixtures for the CrysTens tests: textbook structures and small slices of the shared datasets."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure


@pytest.fixture(scope="session")
def nacl() -> Structure:
    """Rocksalt NaCl, conventional cell (Fm-3m, 225), 8 atoms."""
    return Structure.from_spacegroup(225, Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


@pytest.fixture(scope="session")
def srtio3() -> Structure:
    """Cubic perovskite SrTiO3 (Pm-3m, 221), 5 atoms."""
    return Structure.from_spacegroup(221, Lattice.cubic(3.905), ["Sr", "Ti", "O"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.0]])


@pytest.fixture(scope="session")
def zno() -> Structure:
    """Wurtzite ZnO (P6_3mc, 186), 4 atoms, hexagonal."""
    return Structure.from_spacegroup(186, Lattice.hexagonal(3.25, 5.21), ["Zn", "O"],
                                     [[1 / 3, 2 / 3, 0.0], [1 / 3, 2 / 3, 0.382]])


@pytest.fixture(scope="session")
def spinel() -> Structure:
    """MgAl2O4 spinel (Fd-3m, 227) primitive cell: 14 atoms (56 in the conventional cell)."""
    # origin choice 1 (pymatgen's default setting): Mg 8a (0,0,0), Al 16d (5/8,5/8,5/8), O 32e (x,x,x)
    conv = Structure.from_spacegroup(227, Lattice.cubic(8.08), ["Mg", "Al", "O"],
                                     [[0, 0, 0], [0.625, 0.625, 0.625], [0.387, 0.387, 0.387]])
    return conv.get_primitive_structure()


def _read(path: Path, n: int, max_sites: int | None = None) -> list[tuple[str, Structure]]:
    import pandas as pd

    df = pd.read_csv(path, nrows=2000)
    if max_sites is not None and "nsites" in df:
        df = df[df["nsites"] <= max_sites]
    df = df.sample(n, random_state=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [(str(i), Structure.from_str(c, fmt="cif")) for i, c in zip(df["material_id"], df["cif"], strict=True)]


@pytest.fixture(scope="session")
def mp30(shared_datasets: Path) -> list[tuple[str, Structure]]:
    """30 MP structures with at most 52 sites."""
    return _read(shared_datasets / "mp" / "mp_structures.csv.gz", 30, 52)


@pytest.fixture(scope="session")
def perov30(shared_datasets: Path) -> list[tuple[str, Structure]]:
    """30 Perov-5 test structures (5 atoms each)."""
    return _read(shared_datasets / "perov_5" / "test.csv.gz", 30)

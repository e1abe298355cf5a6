"""Fixtures for the evaluation tests: tiny hand-built cells and a small slice of MP."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure


def rocksalt(a: float = 5.64, cation: str = "Na", anion: str = "Cl") -> Structure:
    """Primitive rock-salt cell (2 atoms, Fm-3m) with conventional lattice constant ``a`` (Å)."""
    lattice = Lattice(0.5 * a * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]]))
    return Structure(lattice, [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]])


def cscl(a: float = 4.12, cation: str = "Cs", anion: str = "Cl") -> Structure:
    """CsCl-type cell (2 atoms, Pm-3m)."""
    return Structure(Lattice.cubic(a), [cation, anion], [[0, 0, 0], [0.5, 0.5, 0.5]])


@pytest.fixture(scope="session")
def mp_slice(mp_slice_csv):
    """(frame, structures) of the shared MP slice, parsed with pymatgen."""
    import pandas as pd

    frame = pd.read_csv(mp_slice_csv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structures = [Structure.from_str(c, fmt="cif") for c in frame["cif"]]
    return frame, structures

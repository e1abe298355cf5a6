"""The fast P1 CIF reader agrees with pymatgen's parser and declines anything else."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.data.fast_cif import parse_p1_cif


def _same_sites(a: Structure, b: Structure, tol: float = 1e-3) -> bool:
    """Every site of ``a`` has a site of ``b`` with the same species within ``tol`` (fractional), 1:1."""
    if len(a) != len(b):
        return False
    diff = a.frac_coords[:, None, :] - b.frac_coords[None, :, :]
    diff -= np.round(diff)
    close = np.abs(diff).max(axis=2) < tol
    same = np.array([[sa.specie == sb.specie for sb in b] for sa in a])
    match = close & same
    return bool(match.any(axis=1).all() and match.any(axis=0).all())


@pytest.mark.parametrize("name", ["mp/mp_structures.csv.gz", "perov_5/val.csv.gz", "carbon_24/val.csv.gz"])
def test_agrees_with_pymatgen(shared_datasets: Path, name: str) -> None:
    frame = pd.read_csv(shared_datasets / name, nrows=150)
    for cif in frame["cif"]:
        fast = parse_p1_cif(cif)
        assert fast is not None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = Structure.from_str(cif, fmt="cif")
        assert np.allclose(fast.lattice.matrix, ref.lattice.matrix, atol=1e-6)
        assert _same_sites(fast, ref)


def test_declines_symmetry_partial_occupancy_and_multiblock() -> None:
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    from pymatgen.io.cif import CifWriter

    symmetrized = str(CifWriter(nacl, symprec=0.1))
    assert "Fm-3m" in symmetrized
    assert parse_p1_cif(symmetrized) is None
    p1 = str(CifWriter(nacl))
    assert parse_p1_cif(p1) is not None
    assert parse_p1_cif(p1.replace("  1\n", "  0.5\n")) is None
    assert parse_p1_cif(p1 + "\n" + p1) is None
    assert parse_p1_cif("not a cif") is None

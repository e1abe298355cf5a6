"""Encoding to base sites and exact symmetry expansion, checked against pymatgen/spglib."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from xtalgen.representations.basesites.encode import encode_structure, wrap01
from xtalgen.representations.basesites.expand import (
    RawBaseSites,
    expand_positions,
    expand_raw,
    expand_to_structure,
    unique_images,
)
from xtalgen.representations.basesites.symops import apply_ops, spacegroup_ops

# Real MP ternaries (first rows of the shared file) covering centred and hexagonal/trigonal groups.
MP_CASES = {
    "mp-1001914": 225,  # Li2SnIr, Fm-3m
    "mp-1001012": 227,  # Sc2ZnS4, Fd-3m spinel
    "mp-10078": 139,  # TbTiGe, I4/mmm
    "mp-10055": 71,  # Co2B4Mo, Immm
    "mp-10046": 194,  # V2AsC, P6_3/mmc
    "mp-1001604": 166,  # LuTlS2, R-3m (hexagonal axes)
    "mp-10010": 164,  # Al(CoSi)2, P-3m1
    "mp-1001079": 12,  # Li(CN)2, C2/m
    "mp-1004037": 62,  # CaMnO2, Pnma
    "mp-1002571": 2,  # NaMn2O4, P-1
    "mp-1008624": 216,  # YBiPd, F-43m
    "mp-1006058": 15,  # UCd2O5, C2/c
    "mp-1019599": 141,  # CePO4, I4_1/amd
}
MATCHER = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5, primitive_cell=False, scale=False)


@pytest.fixture(scope="module")
def mp_structures(shared_datasets) -> dict[str, Structure]:
    df = pd.read_csv(shared_datasets / "mp" / "mp_structures.csv.gz", nrows=2000)
    df = df[df.material_id.isin(MP_CASES)]
    assert len(df) == len(MP_CASES)
    return {r.material_id: Structure.from_str(r.cif, fmt="cif") for r in df.itertuples()}


def spinel() -> Structure:
    # MgAl2O4 in origin choice 1 (pymatgen's "Fd-3m"): Mg 8a, Al 16d, O 32e (x = u + 1/8).
    return Structure.from_spacegroup(
        "Fd-3m", Lattice.cubic(8.08), ["Mg", "Al", "O"], [[0, 0, 0], [0.625] * 3, [0.387] * 3]
    )


@pytest.mark.parametrize("mp_id", list(MP_CASES))
def test_expansion_matches_pymatgen_conventional_cell(mp_structures, mp_id):
    s = mp_structures[mp_id]
    base = encode_structure(s, symprec=0.1, id=mp_id)
    assert base.spacegroup == MP_CASES[mp_id]
    assert sorted(set(base.species)) == sorted(el.symbol for el in s.composition)
    conventional = SpacegroupAnalyzer(s, symprec=0.1).get_conventional_standard_structure()
    expanded = expand_to_structure(base.species, base.representatives, base.spacegroup, base.lattice)
    assert len(expanded) == len(conventional) == base.n_atoms
    assert expanded.composition == conventional.composition
    assert MATCHER.fit(expanded, conventional)
    assert SpacegroupAnalyzer(expanded, symprec=0.01).get_space_group_number() == base.spacegroup
    # Exact: the images of the representative are exactly the orbit found in spglib's standard cell.
    matrix = np.asarray(expanded.lattice.matrix)
    for k, orbit in enumerate(base.orbits):
        pos, _ = expand_positions(base.representatives[k : k + 1], spacegroup_ops(base.spacegroup), matrix)
        diff = pos[:, None, :] - orbit[None, :, :]
        diff -= np.round(diff)
        assert len(pos) == len(orbit)
        assert np.abs(diff).sum(-1).min(axis=1).max() < 1e-6


def test_encoding_of_spinel_details():
    base = encode_structure(spinel().get_primitive_structure())
    assert base.spacegroup == 227 and base.hall_number == 525
    assert base.species == ["Mg", "Al", "O"]  # electronegativity order
    assert base.multiplicities.tolist() == [8, 16, 32] and base.wyckoffs == ["a", "d", "e"]
    assert base.n_atoms == 56 and base.crystal_system == 6
    assert np.allclose(base.lattice, [8.08, 8.08, 8.08, 90, 90, 90])
    assert base.canonical_sets(3).shape == (3, 3, 3)
    assert len({tuple(x) for x in base.canonical_sets(3)[:, 2]}) == 3


def test_disordered_structure_rejected_with_clear_message():
    s = Structure(Lattice.cubic(4.0), [{"Fe": 0.5, "Co": 0.5}], [[0, 0, 0]])
    with pytest.raises(ValueError, match="disordered"):
        encode_structure(s, id="x1")


def test_unique_images_and_masks():
    lat = np.eye(3) * 5.0
    pts = np.array([[0, 0, 0], [0.9999999, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5 + 1e-4]])
    assert unique_images(pts, lat, tol=0.01).tolist() == [0, 2]
    assert unique_images(pts, lat, tol=1e-5).tolist() == [0, 2, 3]
    ops = spacegroup_ops(221)
    pos, owner = expand_positions(np.array([[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]), ops, lat,
                                  site_mask=np.array([True, False, True]))
    assert len(pos) == 4 and owner.tolist() == [0, 2, 2, 2]
    assert wrap01(np.array([-1e-9, 1.0, 0.25]))[0] == 0.0


def test_perturbed_site_in_fd3m_gives_192_images_per_site():
    base = encode_structure(spinel())
    coords = base.representatives + np.array([0.011, 0.004, -0.006])
    s = expand_to_structure(base.species, coords, 227, base.lattice)
    assert len(s) == 3 * 192


def test_expand_raw_and_bad_inputs():
    raw = RawBaseSites(["Sr", "Ti", "O"], np.array([[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0]]),
                       np.array([3.9, 3.9, 3.9, 90, 90, 90]), 221)
    s = expand_raw(raw)
    assert s.composition.reduced_formula == "SrTiO3" and len(s) == 5
    with pytest.raises(ValueError, match="positive"):
        expand_to_structure(["Sr"], np.zeros((1, 3)), 221, np.array([-1, 3, 3, 90, 90, 90]))
    with pytest.raises(ValueError, match="species"):
        expand_to_structure(["Sr", "Ti"], np.zeros((1, 3)), 221, np.array([3, 3, 3, 90, 90, 90]))


def _brute_unique(images: np.ndarray, matrix: np.ndarray, tol: float) -> np.ndarray:
    """The all-pairs rule of :func:`unique_images`, written out."""
    diff = images[:, None, :] - images[None, :, :]
    diff -= np.round(diff)
    cart = diff @ matrix
    close = np.einsum("ijk,ijk->ij", cart, cart) < tol * tol
    return np.flatnonzero(close.argmax(axis=1) == np.arange(len(images)))


@pytest.mark.parametrize("sg", [225, 227, 229])
def test_kdtree_unique_images_equal_the_all_pairs_rule(sg: int) -> None:
    from xtalgen.representations.basesites.expand import KDTREE_MIN_POINTS

    ops = spacegroup_ops(sg)
    assert len(ops) > KDTREE_MIN_POINTS  # these take the k-d tree path
    rng = np.random.default_rng(sg)
    cells = [np.eye(3) * 9.0, np.array([[7.0, 0, 0], [0.4, 7.3, 0], [0.2, 0.3, 6.8]]), np.eye(3) * 0.004]
    for matrix in cells:  # the last cell is thinner than the tolerance: every pair is measured
        for x in [rng.random(3), np.full(3, 0.25) + 1e-4 * rng.random(3), np.array([0.5, 0, 0]) + 1e-7]:
            images = wrap01(apply_ops(ops, x))
            for tol in (0.01, 0.05, 1.0):
                kept = unique_images(images, matrix, tol)
                assert kept.tolist() == _brute_unique(images, matrix, tol).tolist()
    snapped = wrap01(apply_ops(ops, np.array([0.25, 0.25, 0.25])))
    assert len(unique_images(snapped, np.eye(3) * 9.0)) < len(ops)  # a special position: images coincide

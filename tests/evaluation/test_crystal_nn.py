"""The array CrystalNN (xtalgen.evaluation.crystal_nn) equals pymatgen's CrystalNN.get_nn_data bit for bit."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.core.local_env import CrystalNN

from xtalgen.evaluation.crystal_nn import CrystalNNSites, nn_data, supported
from xtalgen.evaluation.fingerprints import _site_classes, _site_featurizer, site_fingerprint, structure_fingerprint
from xtalgen.evaluation.rounding import arccos, loop_rowdot, loop_rows_times_matrix, rowdot, rows_times_matrix


def _assert_same(structure: Structure, n: int, cnn: CrystalNN, sites: CrystalNNSites | None = None) -> None:
    """Same CN probabilities (==) and the same neighbours in the same order (coordinates ==)."""
    ours = sites.nn_data(n) if sites is not None else nn_data(structure, n, cnn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cnn.get_nn_data(structure, n)
    label = f"{structure.composition.reduced_formula} site {n}"
    assert ours.cn_weights == ref.cn_weights, label
    assert set(ours.cn_coords) == set(ref.cn_nninfo), label
    for cn, info in ref.cn_nninfo.items():
        expected = np.array([d["site"].coords for d in info]).reshape(-1, 3)
        np.testing.assert_array_equal(ours.cn_coords[cn], expected, err_msg=f"{label} CN {cn}")
        assert ours.cn_indices[cn].tolist() == [d["site"].index for d in info], label


def test_rounding_helpers_equal_the_scalar_calls():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(500, 3)) * 7, rng.normal(size=(500, 3))
    np.testing.assert_array_equal(rowdot(a, b), loop_rowdot(a, b))
    np.testing.assert_array_equal(rowdot(a, b), [np.inner(x, y) for x, y in zip(a, b, strict=True)])
    np.testing.assert_array_equal(np.sqrt(rowdot(a, a)), [np.linalg.norm(x) for x in a])
    x = rng.uniform(-1, 1, 300)
    np.testing.assert_array_equal(arccos(x), [math.acos(v) for v in x])
    frac, matrix = rng.uniform(-2, 3, (200, 3)), Lattice.from_parameters(5.1, 6.2, 7.3, 81, 95, 112).matrix
    np.testing.assert_array_equal(rows_times_matrix(frac, matrix), loop_rows_times_matrix(frac, matrix))
    # pymatgen's get_cartesian_coords on one site at a time (how PeriodicNeighbor.coords is computed); on a
    # whole (N, 3) array np.dot may go through BLAS and round differently (numpy 2.4)
    lattice = Lattice(matrix)
    np.testing.assert_array_equal(rows_times_matrix(frac, matrix), [lattice.get_cartesian_coords(f) for f in frac])


def test_nn_data_equals_pymatgen_on_real_mp_structures(mp_slice):
    """Every symmetry-distinct site of 40 MP structures: identical weights and neighbour lists."""
    _, structures = mp_slice
    cnn = _site_featurizer().cnn
    picked = structures[1::7][:40]
    n_sites = 0
    for s in picked:
        assert supported(cnn, s)
        sites = CrystalNNSites(s, cnn)
        for i in _site_classes(s)[0]:
            _assert_same(s, int(i), cnn, sites)
            n_sites += 1
    assert n_sites >= 80


def test_site_fingerprint_equals_matminer_to_1e12(mp_slice):
    """The whole 61-value site fingerprint against matminer's featurize (atol 1e-12), and the
    structure mean against the matminer-per-site mean."""
    _, structures = mp_slice
    featurizer = _site_featurizer()
    picked = structures[3::9][:25]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s in picked:
            sites = CrystalNNSites(s, featurizer.cnn)
            for i in _site_classes(s)[0]:
                ours = np.array(site_fingerprint(s, int(i), featurizer, sites))
                ref = np.array(featurizer.featurize(s, int(i)), dtype=float)
                np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12, err_msg=f"{s.composition} site {i}")
        for s in picked[:5]:
            np.testing.assert_allclose(
                structure_fingerprint(s), structure_fingerprint(s, reference=True), rtol=0, atol=1e-12
            )


def test_search_radius_grows_like_pymatgen_for_sparse_cells():
    """A dimer in a 15 Å box: the 7 Å sphere holds too few atoms for qhull, so pymatgen doubles the
    radius (then caps it at the cell diagonal); the array path must end with the same cell."""
    s = Structure(Lattice.cubic(15.0), ["Na", "Cl"], [[0, 0, 0], [0.16, 0.02, 0.01]])
    cnn = CrystalNN()
    for n in range(len(s)):
        _assert_same(s, n, cnn)


def test_oxidation_states_use_ionic_radii_like_pymatgen():
    """With oxidation states CrystalNN's distance cutoffs use ionic radii (another branch of the weights)."""
    s = Structure(Lattice.cubic(4.2), ["Mg2+", "O2-"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    s.make_supercell([1, 1, 2])
    s.perturb(0.15, min_distance=0.05, seed=1)
    cnn = CrystalNN()
    for n in range(len(s)):
        _assert_same(s, n, cnn)


def test_distorted_low_symmetry_cell():
    """Random displacements (no ties, no symmetry) in a 16-atom cell, every site."""
    rng = np.random.default_rng(11)
    lattice = Lattice.from_parameters(5.1, 5.9, 6.3, 84, 97, 103)
    species = ["Ba", "Ti", "O", "O"] * 4
    s = Structure(lattice, species, rng.random((16, 3)))
    cnn = _site_featurizer().cnn
    sites = CrystalNNSites(s, cnn)
    for n in range(len(s)):
        _assert_same(s, n, cnn, sites)


def test_fingerprint_of_a_low_symmetry_random_cell_equals_matminer():
    """Generated samples are often P1 with every site distinct: all 16 site fingerprints vs matminer."""
    rng = np.random.default_rng(4)
    lattice = Lattice.from_parameters(6.4, 5.2, 7.7, 96, 88, 107)
    s = Structure(lattice, ["Sr", "Ti", "O", "O", "O", "N", "Li", "Mg"] * 2, rng.random((16, 3)))
    featurizer = _site_featurizer()
    sites = CrystalNNSites(s, featurizer.cnn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(len(s)):
            ours = np.array(site_fingerprint(s, i, featurizer, sites))
            ref = np.array(featurizer.featurize(s, i), dtype=float)
            np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12, err_msg=f"site {i}")


def test_unsupported_settings_fall_back_to_pymatgen():
    disordered = Structure(Lattice.cubic(3.0), [{"Fe": 0.5, "Co": 0.5}], [[0, 0, 0]])
    assert not supported(CrystalNN(), disordered)
    ionic = Structure(Lattice.cubic(4.2), ["Mg2+", "O2-"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert not supported(CrystalNN(fingerprint_length=4), ionic)
    cnn = CrystalNN(cation_anion=True)  # neighbours restricted to opposite charges: pymatgen's own code
    assert not supported(cnn, ionic)
    ours = nn_data(ionic, 0, cnn)
    ref = cnn.get_nn_data(ionic, 0)
    assert ours.cn_weights == ref.cn_weights
    for cn, info in ref.cn_nninfo.items():
        np.testing.assert_array_equal(ours.cn_coords[cn], np.array([d["site"].coords for d in info]).reshape(-1, 3))


@pytest.mark.parametrize(
    "cnn_kwargs", [{"porous_adjustment": False}, {"x_diff_weight": 0.0}, {"distance_cutoffs": None}]
)
def test_other_weight_settings(cnn_kwargs):
    rng = np.random.default_rng(5)
    s = Structure(Lattice.cubic(6.0), ["Na", "Cl", "K", "Br"] * 2, rng.random((8, 3)))
    cnn = CrystalNN(**cnn_kwargs)
    for n in range(len(s)):
        _assert_same(s, n, cnn)

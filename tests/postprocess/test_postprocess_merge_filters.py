"""Merging colliding same-element atoms (seed Fig. 3) and the validity filters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure

from xtalgen.postprocess.filters import (
    REASON_CHARGE,
    REASON_SPACEGROUP,
    REASON_TOO_CLOSE,
    check_charge_neutral,
    check_min_distance,
    check_spacegroup,
    find_spacegroup,
    min_distance_ratio,
    shortest_lattice_vector,
)
from xtalgen.postprocess.merge import cluster_labels, merge_arrays, merge_close_atoms, periodic_distances, periodic_mean
from xtalgen.representations.basesites.encode import encode_structure
from xtalgen.representations.basesites.expand import expand_to_structure

OFFSET = np.array([0.011, 0.004, -0.007])  # generic: no op of Fd-3m maps it onto itself


def spinel() -> Structure:
    # MgAl2O4 in origin choice 1: Mg 8a, Al 16d, O 32e.
    return Structure.from_spacegroup(
        "Fd-3m", Lattice.cubic(8.08), ["Mg", "Al", "O"], [[0, 0, 0], [0.625] * 3, [0.387] * 3]
    )


def perturbed_expansion(s: Structure, offset: np.ndarray = OFFSET) -> Structure:
    base = encode_structure(s)
    return expand_to_structure(base.species, base.representatives + offset, base.spacegroup, base.lattice)


def test_merge_perturbed_spinel_576_to_56():
    s = spinel()
    raw = perturbed_expansion(s)
    assert len(raw) == 576 and find_spacegroup(raw) != 227  # 3 sites x 192 ops, symmetry broken
    merged = merge_close_atoms(raw)
    assert len(merged) == 56
    assert merged.composition.reduced_formula == "MgAl2O4"
    assert find_spacegroup(merged, 0.1) == 227
    assert StructureMatcher().fit(merged, s)


def test_merge_fd3m_ternary_576_to_32_like_the_paper():
    # 8a + 8b + 16c = 32 atoms, as in the seed's Fig. 3 (576 -> 32).
    s = Structure.from_spacegroup(
        "Fd-3m", Lattice.cubic(10.0), ["Mg", "Sn", "Cu"], [[0, 0, 0], [0.5] * 3, [0.125] * 3]
    )
    assert len(s) == 32
    raw = perturbed_expansion(s)
    assert len(raw) == 576
    merged = merge_close_atoms(raw)
    assert len(merged) == 32 and StructureMatcher().fit(merged, s)


def test_merge_diamond_si_192_to_8():
    si = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.43), ["Si"], [[0, 0, 0]])
    raw = perturbed_expansion(si, np.array([0.01, -0.004, 0.007]))
    assert len(raw) == 192
    merged = merge_close_atoms(raw)
    assert len(merged) == 8 and StructureMatcher().fit(merged, si)


def test_merge_threshold_periodic_mean_and_elements():
    lat = Lattice.cubic(10.0)
    # Two O 0.5 Å apart across the cell boundary merge (r_O = 0.6 Å) at the boundary, not at 0.5.
    s = Structure(lat, ["O", "O"], [[0.975, 0.5, 0.5], [0.025, 0.5, 0.5]])
    m = merge_close_atoms(s)
    assert len(m) == 1 and min(m.frac_coords[0, 0], 1 - m.frac_coords[0, 0]) < 1e-9
    # 0.7 Å apart: kept; different elements 0.1 Å apart: never merged.
    assert len(merge_close_atoms(Structure(lat, ["O", "O"], [[0.1, 0, 0], [0.17, 0, 0]]))) == 2
    assert len(merge_close_atoms(Structure(lat, ["Na", "Cl"], [[0.1, 0, 0], [0.11, 0, 0]]))) == 2
    assert np.allclose(periodic_mean(np.array([[0.99, 0.0, 0.5], [0.03, 0.0, 0.5]])), [0.01, 0.0, 0.5])
    labels = cluster_labels(np.array([[0, 0, 0], [0.01, 0, 0], [0.5, 0, 0]]), lat, 0.5)
    assert labels[0] == labels[1] != labels[2]
    far = np.array([[0.1, 0, 0], [0.5, 0, 0], [0.1, 0.5, 0]])  # no pair within the threshold: all apart
    assert sorted(cluster_labels(far, lat, 0.5).tolist()) == [1, 2, 3]
    assert np.array_equal(merge_arrays(lat.matrix, ["O"] * 3, far)[1], far)
    with pytest.raises(ValueError):
        merge_close_atoms(s, factor=-1)


@pytest.mark.parametrize(
    "lattice",
    [Lattice.cubic(5.0), Lattice.hexagonal(3.0, 5.0), Lattice.from_parameters(4, 5, 6, 70, 100, 115)],
)
def test_fast_periodic_distances_are_exact_below_half_the_plane_spacing(lattice):
    rng = np.random.default_rng(0)
    frac = rng.random((80, 3))
    spacing = 1.0 / np.linalg.norm(np.linalg.inv(lattice.matrix), axis=0).max()
    exact = np.asarray(lattice.get_all_distances(frac, frac))
    fast = periodic_distances(frac, lattice.matrix, exact_below=0.49 * spacing)
    near = exact < 0.49 * spacing
    assert near.sum() > 80  # more than the diagonal
    assert np.allclose(fast[near], exact[near]) and np.all(fast >= exact - 1e-9)
    # A threshold beyond the safe range falls back to the full image search.
    assert np.allclose(periodic_distances(frac, lattice.matrix, exact_below=10.0), exact)


def test_merge_arrays_matches_structure_version():
    raw = perturbed_expansion(spinel())
    symbols, frac = merge_arrays(raw.lattice.matrix, [s.specie.symbol for s in raw], raw.frac_coords)
    merged = merge_close_atoms(raw)
    assert symbols == [s.specie.symbol for s in merged] and np.allclose(frac, merged.frac_coords)
    with pytest.raises(ValueError, match="symbols"):
        merge_arrays(raw.lattice.matrix, ["O"], raw.frac_coords)


@pytest.fixture(scope="module")
def mp_sample(shared_datasets) -> list[Structure]:
    df = pd.read_csv(shared_datasets / "mp" / "mp_structures.csv.gz", nrows=30)
    return [Structure.from_str(c, fmt="cif") for c in df.cif]


def test_filters_accept_real_structures(mp_sample):
    for s in mp_sample:
        assert check_min_distance(s).passed, s.composition
        sg = find_spacegroup(s, 0.1)
        assert check_spacegroup(s, sg).passed
    s = spinel()
    assert check_min_distance(s).passed and check_spacegroup(s, 227).passed
    assert check_charge_neutral(s).passed


def test_distance_rule_values_and_rejections():
    rocksalt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3])
    ratio, _ = min_distance_ratio(rocksalt)
    assert ratio == pytest.approx(2.82 / (1.8 + 1.0), abs=1e-6)  # r_Na 1.8 Å, r_Cl 1.0 Å
    # A Cl atom 0.3 Å from Na: rejected, naming the pair.
    bad = rocksalt.copy()
    bad.append("Cl", [0.3 / 5.64, 0, 0])
    out = check_min_distance(bad)
    assert out.passed is False and out.reason == REASON_TOO_CLOSE
    assert "Na0-Cl" in out.detail and "0.300 Å" in out.detail
    # which kind of clash: Na-Cl (other elements) at 0.3 / 2.8; same element: Na-Na at 3.988 Å / (2 × 1.8)
    assert out.values["min_ratio_other_elements"] == pytest.approx(0.3 / 2.8, abs=1e-4)
    assert out.values["min_ratio_same_element"] == pytest.approx(3.988 / 3.6, abs=1e-4)
    out = check_min_distance(rocksalt)
    assert out.values["min_ratio_other_elements"] == pytest.approx(2.82 / 2.8, abs=1e-4)
    # a lone Cs in a 1.2 Å cell clashes with its own periodic image: a same-element clash
    lone = check_min_distance(Structure(Lattice.cubic(1.2), ["Cs"], [[0, 0, 0]])).values
    assert lone["min_ratio_same_element"] == pytest.approx(1.2 / 5.2, abs=1e-4)
    assert lone["min_ratio_other_elements"] == np.inf
    # An atom too close to its own periodic image (1.2 Å cell, r_Cs = 2.6 Å).
    tiny = Structure(Lattice.cubic(1.2), ["Cs"], [[0, 0, 0]])
    assert shortest_lattice_vector(tiny.lattice) == pytest.approx(1.2)
    out = check_min_distance(tiny)
    assert out.reason == REASON_TOO_CLOSE and "periodic image" in out.detail
    # Skewed cell: the shortest vector is a+b (length √2 Å), not a, b or c.
    skew = Lattice([[10.0, 0, 0], [-9.0, 0.0, 1.0], [0, 10.0, 0]])
    assert shortest_lattice_vector(skew) == pytest.approx(np.sqrt(2.0))


def test_spacegroup_and_charge_rejections():
    s = spinel()
    out = check_spacegroup(s, 225)
    assert out.passed is False and out.reason == REASON_SPACEGROUP and "found 227" in out.detail
    out = check_charge_neutral(Structure(Lattice.cubic(5.0), ["Na", "Cl", "Cl"], [[0, 0, 0], [0.5] * 3, [0, 0.5, 0.5]]))
    assert out.passed is False and out.reason == REASON_CHARGE


def test_formula_size_filter_counts_atoms_per_reduced_formula():
    from xtalgen.postprocess.candidates import postprocess_candidates
    from xtalgen.postprocess.filters import REASON_FORMULA, check_formula_size

    s = spinel()  # MgAl2O4: 7 atoms per formula unit, 56 in the cell
    assert check_formula_size(s, 7).passed and check_formula_size(s, 7).values == {"formula_atoms": 7.0}
    out = check_formula_size(s, 6)
    assert not out.passed and out.reason == REASON_FORMULA and "MgAl2O4: 7 atoms per formula unit > 6" in out.detail
    kw = dict(spacegroups=227, workers=1, progress=False)
    assert postprocess_candidates([s], max_formula_atoms=7, **kw)[0].accepted
    res = postprocess_candidates([s], max_formula_atoms=6, **kw)[0]
    assert not res.accepted and res.reason == REASON_FORMULA and res.filters["formula_size"] is False
    assert postprocess_candidates([s], **kw)[0].filters["formula_size"] is None  # off by default here


def test_cell_size_filter_counts_primitive_sites():
    from xtalgen.postprocess.candidates import postprocess_candidates
    from xtalgen.postprocess.filters import REASON_CELL, check_cell_size

    assert check_cell_size(14, 14).passed and check_cell_size(14, 14).values == {"primitive_sites": 14}
    out = check_cell_size(15, 14)
    assert not out.passed and out.reason == REASON_CELL and "15 atoms in the primitive cell > 14" in out.detail
    assert not check_cell_size(None, 14).passed
    s = spinel()  # conventional cell 56 atoms, primitive (F-centred) 14
    kw = dict(spacegroups=227, workers=1, progress=False)
    res = postprocess_candidates([s], max_primitive_sites=14, **kw)[0]
    assert res.accepted and res.extra["primitive_sites"] == 14 and res.filters["cell_size"] is True
    res = postprocess_candidates([s], max_primitive_sites=13, **kw)[0]
    assert not res.accepted and res.reason == REASON_CELL and res.filters["cell_size"] is False
    assert postprocess_candidates([s], **kw)[0].filters["cell_size"] is None  # off by default here


def _rock_salt() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3])


def test_condition_formula_filter_compares_reduced_compositions():
    from xtalgen.postprocess.filters import REASON_CONDITION_FORMULA, check_condition_formula

    conventional = _rock_salt()  # Na4Cl4
    primitive = conventional.get_primitive_structure()  # Na1Cl1
    assert len(conventional) == 8 and len(primitive) == 2
    for cell in (conventional, primitive):  # any cell of the condition's formula, in any multiple, passes
        for formula in ("Na4 Cl4", "Na1 Cl1", "NaCl", "Cl2Na2"):
            assert check_condition_formula(cell, formula).passed, (cell.composition, formula)
    # A Cl base site that stayed on the 8-fold position instead of the 4-fold one: Na4Cl12 = NaCl3
    drifted = Structure.from_spacegroup("Fm-3m", Lattice.cubic(7.0), ["Na", "Cl", "Cl"],
                                        [[0, 0, 0], [0.5] * 3, [0.25] * 3])  # fmt: skip
    out = check_condition_formula(drifted, "Na4 Cl4")
    assert out.passed is False and out.reason == REASON_CONDITION_FORMULA == "formula differs from the condition"
    assert out.detail == "NaCl3, condition NaCl"
    assert not check_condition_formula(conventional, "Na1 Cl3").passed
    assert not check_condition_formula(conventional, "K1 Cl1").passed  # other elements, same ratio


def test_merge_without_close_pairs_and_filters_on_arrays_match_the_structure_routes() -> None:
    from xtalgen.postprocess.filters import composition_of, symmetry_dataset, symmetry_dataset_arrays
    from xtalgen.postprocess.merge import cluster_means, merge_arrays

    rng = np.random.default_rng(3)
    matrix = np.diag([9.0, 9.5, 10.0])
    frac = np.array([[0.1, 0.2, 0.3], [0.6, 0.7, 0.8], [-0.25, 1.5, 0.5], [0.3, 0.9, -0.0]]) + 1e-3 * rng.random((4, 3))
    symbols, merged = merge_arrays(matrix, ["Na", "Na", "Cl", "Cl"], frac)
    assert symbols == ["Na", "Na", "Cl", "Cl"]
    expected = np.concatenate([cluster_means(frac[:2], np.array([1, 2])), cluster_means(frac[2:], np.array([1, 2]))])
    assert np.array_equal(merged, expected) and merged.min() >= 0 and merged.max() < 1  # bit for bit
    s = Structure(Lattice(matrix), ["Na", "Na", "Cl", "Cl"], frac)
    assert composition_of(["Na", "Na", "Cl", "Cl"]) == s.composition
    assert composition_of(["Na", "Na", "Cl", "Cl"]).formula == s.composition.formula
    a, b = symmetry_dataset(s), symmetry_dataset_arrays(matrix, frac, [11, 11, 17, 17])
    assert a.number == b.number and np.array_equal(a.std_positions, b.std_positions)


def test_distance_filter_keeps_the_absolute_floor_for_hydrogen() -> None:
    from xtalgen.postprocess.filters import REASON_TOO_CLOSE, check_min_distance, distance_ratios_arrays

    def h2(d: float) -> Structure:
        return Structure(Lattice.cubic(5.0), ["H", "H"], [[0, 0, 0], [d / 5.0, 0, 0]])

    # H-H at 0.40 Å: d/(rH + rH) = 0.8 passes the 0.73 ratio, but no bond is that short (H2: 0.74 Å)
    assert distance_ratios_arrays(Lattice.cubic(5.0), ["H", "H"], h2(0.4).frac_coords)[4] == pytest.approx(0.4)
    bad = check_min_distance(h2(0.4), 0.73)
    assert not bad.passed and bad.reason == REASON_TOO_CLOSE and "0.400 Å apart" in bad.detail
    assert check_min_distance(h2(0.6), 0.73).passed

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.evaluation.conftest import cscl, rocksalt

from xtalgen.evaluation.consistency import consistency_summary
from xtalgen.evaluation.coverage import coverage_masks, standardise
from xtalgen.evaluation.distributions import distribution_distances, property_values
from xtalgen.evaluation.fingerprints import composition_fingerprint, structure_fingerprint


def test_coverage_masks_need_both_thresholds():
    ref_s = np.array([[0.0, 0.0], [5.0, 5.0], [9.0, 9.0]])
    ref_c = np.zeros((3, 1))
    gen_s = np.array([[0.1, 0.0], [5.0, 5.3], [9.0, 9.0]])
    gen_c = np.array([[0.0], [0.0], [50.0]])  # the third is structurally close but compositionally far
    recall, precision = coverage_masks(gen_s, gen_c, ref_s, ref_c, struct_cutoff=0.4, comp_cutoff=10.0, chunk=2)
    np.testing.assert_array_equal(recall, [True, True, False])
    np.testing.assert_array_equal(precision, [True, True, False])


def test_coverage_masks_equal_the_dense_computation_near_both_cutoffs():
    """Composition distances are only computed for structure-close pairs: the masks must be those of
    both full distance matrices, also for pairs sitting on a cutoff (distances built to be exactly 0.4
    or 10 for some pairs)."""
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(8)
    ref_s, ref_c = rng.normal(0, 0.25, (300, 61)), rng.normal(0, 6.0, (300, 132))
    gen_s, gen_c = rng.normal(0, 0.25, (170, 61)), rng.normal(0, 6.0, (170, 132))
    gen_s[:20] = ref_s[:20] + np.eye(61)[0] * 0.4  # structure distance exactly at the cutoff
    gen_c[:20] = ref_c[:20] + np.eye(132)[0] * 10.0  # composition distance exactly at the cutoff
    close = (cdist(gen_s, ref_s) <= 0.4) & (cdist(gen_c, ref_c) <= 10.0)
    assert 0 < close.sum() < close.size
    for chunk in (7, 64, 2048):
        recall, precision = coverage_masks(gen_s, gen_c, ref_s, ref_c, 0.4, 10.0, chunk=chunk)
        np.testing.assert_array_equal(recall, close.any(axis=0))
        np.testing.assert_array_equal(precision, close.any(axis=1))


def test_standardise_uses_reference_statistics():
    ref = np.array([[0.0, 1.0], [2.0, 1.0]])
    ref_n, other_n = standardise(ref, np.array([[4.0, 3.0]]))
    np.testing.assert_allclose(ref_n, [[-1, 0], [1, 0]])
    np.testing.assert_allclose(other_n, [[3, 2]])  # constant column keeps unit scale


def test_fingerprints_shapes_and_symmetry_shortcut_match_full_mean():
    s = rocksalt()
    fp = structure_fingerprint(s)
    assert fp.shape == (61,) and np.all(np.isfinite(fp))
    # all-site mean computed directly with matminer equals the symmetry-weighted one
    from matminer.featurizers.site.fingerprint import CrystalNNFingerprint

    cnn = CrystalNNFingerprint.from_preset("ops")
    full = np.mean([cnn.featurize(s, i) for i in range(len(s))], axis=0)
    np.testing.assert_allclose(fp, full, atol=1e-6)
    assert composition_fingerprint(s).shape == (132,)
    assert np.linalg.norm(structure_fingerprint(cscl()) - fp) > 0.4  # 8- vs 6-fold coordination


def test_distribution_distances_known_values():
    ref = pd.DataFrame({"a": [1.0, 2.0, 3.0], "density": [1.0, 2.0, 3.0], "atomic_numbers": [[1, 2], [3], [4]]})
    same = distribution_distances(ref, ref)
    assert same["ks.a"] == 0 and same["wasserstein.density"] == 0 and same["ks.atomic_numbers"] == 0
    shifted = ref.assign(density=ref["density"] + 0.5, a=ref["a"] + 10)
    d = distribution_distances(shifted, ref)
    assert d["wasserstein.density"] == pytest.approx(0.5)
    assert d["ks.a"] == pytest.approx(1.0)  # disjoint supports
    assert np.isnan(d["ks.spacegroup"])  # column absent on both sides
    np.testing.assert_array_equal(property_values(ref, "atomic_numbers"), [1, 2, 3, 4])


def test_consistency_summary_averages_finite_values_only():
    info = pd.DataFrame({"var_length": [0.0, 2.0, np.nan], "crystens_coord_agreement": [1.0, 3.0, 5.0], "x": 1})
    out = consistency_summary(info)
    assert out == {"consistency.var_length": 1.0, "consistency.coord_agreement": 3.0, "consistency.n": 3.0}
    assert consistency_summary(pd.DataFrame({"x": [1]})) == {}

"""Automatic-K clustering of atomic numbers and of periodic coordinate values."""

from __future__ import annotations

import numpy as np
import pytest

from xtalgen.representations.crystens.cluster import cluster_integers, cluster_periodic


def test_integers_paper_example() -> None:
    # Alverson et al. sec. 3.2: (12.2, 12.6, 12.4, 12.5, 7.7, 7.4, 8.4, 8.5) should read Mg4 O4
    values = np.array([12.2, 12.6, 12.4, 12.5, 7.7, 7.4, 8.4, 8.5])
    labels, k = cluster_integers(values, sigma=0.3, penalty=2.0)
    assert k == 2 and labels.tolist() == [12] * 4 + [8] * 4
    no_ties = np.array([12.2, 12.6, 12.4, 7.7, 7.4, 8.4])
    rounded, k0 = cluster_integers(no_ties, sigma=0.3, penalty=0.0)  # no penalty: plain rounding
    np.testing.assert_array_equal(rounded, np.rint(no_ties))
    assert k0 == 4


def test_integers_never_merge_exact_distinct_values() -> None:
    values = np.array([7.0, 8.0, 9.0, 26.0, 27.0, 8.0])
    labels, k = cluster_integers(values, sigma=0.1, penalty=2.0)
    np.testing.assert_array_equal(labels, values)
    assert k == 5
    with pytest.raises(ValueError, match="sigma"):
        cluster_integers(values, sigma=0.0)


def test_integers_absorb_an_outlier_into_a_large_cluster() -> None:
    values = np.array([28.05, 27.9, 28.1, 27.95, 28.0, 28.02, 28.55, 8.0, 8.1])
    labels, k = cluster_integers(values, sigma=0.19, penalty=2.0)
    assert k == 2 and labels.tolist() == [28] * 7 + [8, 8]  # 28.55 alone would round to 29
    # the cost balance moves to a new element once the value is clearly closer to it:
    # (z - 28)^2 - (z - 29)^2 > 2 sigma^2 penalty  <=>  z > 28.572 here
    values[6] = 28.6
    labels, k = cluster_integers(values, sigma=0.19, penalty=2.0)
    assert k == 3 and labels[6] == 29


def test_periodic_merges_across_the_boundary() -> None:
    values = np.array([0.999, 0.001, 0.5, 0.502, 0.25])
    out, k = cluster_periodic(values, tol=0.01)
    assert k == 3
    np.testing.assert_allclose(out, [0.0, 0.0, 0.501, 0.501, 0.25], atol=1e-12)
    same, k_all = cluster_periodic(values, tol=0.0)
    assert k_all == 5 and np.allclose(same, values)

"""Element feature table: 23 scaled features with real values underneath."""

from __future__ import annotations

import numpy as np
import pytest

from xtalgen.data.elements import ELEMENT_FEATURE_NAMES, element_feature_table, element_features, raw_element_table


def test_shape_range_and_lookup() -> None:
    table = element_feature_table()
    assert table.shape == (95, 23) == (95, len(ELEMENT_FEATURE_NAMES))
    assert table.dtype == np.float32
    assert table[1:].min() == pytest.approx(-1.0) and table[1:].max() == pytest.approx(1.0)
    assert not np.isnan(table).any()
    assert np.array_equal(element_features("O"), element_features(8))
    # Z is min-max scaled over 1..94: H -> -1, Pu -> +1
    z = ELEMENT_FEATURE_NAMES.index("Z")
    assert element_features("H")[z] == pytest.approx(-1.0) and element_features(94)[z] == pytest.approx(1.0)


def test_raw_values_are_real_properties() -> None:
    raw = raw_element_table()
    col = {n: i for i, n in enumerate(ELEMENT_FEATURE_NAMES)}
    assert raw[8, col["electronegativity"]] == pytest.approx(3.44)
    assert raw[26, col["is_transition_metal"]] == 1.0
    assert raw[9, col["is_halogen"]] == 1.0
    assert np.isnan(raw[2, col["electronegativity"]])  # He has none; filled with the mean before scaling


def test_bad_element() -> None:
    with pytest.raises(ValueError, match="unknown element"):
        element_features("Xx")
    with pytest.raises(ValueError, match="outside"):
        element_features(95)

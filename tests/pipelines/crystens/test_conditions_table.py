"""The (space group, reduced formula) table written beside CrysTens training runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from xtalgen.pipelines.crystens.conditions_table import conditions_table, write_conditions_table


def _counts(*rows: dict[int, int]) -> np.ndarray:
    out = np.zeros((len(rows), 100))
    for i, row in enumerate(rows):
        for z, c in row.items():
            out[i, z - 1] = c
    return out


def test_materials_with_the_same_group_and_reduced_formula_are_counted_together() -> None:
    na_cl, sr_ti_o = {11: 4, 17: 4}, {38: 1, 22: 1, 8: 3}
    sg = np.array([225, 225, 221, 0, 225, 221])
    counts = _counts(na_cl, {11: 1, 17: 1}, sr_ti_o, na_cl, {}, {38: 2, 22: 2, 8: 6})
    table = conditions_table(sg, counts)
    assert table.to_dict("list") == {"spacegroup": [221, 225], "formula": ["SrTiO3", "NaCl"], "count": [2, 2]}


def test_write_is_atomic_csv_and_refuses_an_empty_table(tmp_path) -> None:
    path = write_conditions_table(tmp_path, np.array([62]), _counts({26: 1, 8: 3, 3: 2}))
    assert pd.read_csv(path).to_dict("list") == {"spacegroup": [62], "formula": ["Li2FeO3"], "count": [1]}
    with pytest.raises(ValueError, match="no training material"):
        write_conditions_table(tmp_path / "x", np.array([0]), _counts({26: 1}))

"""benchmarks/pgcgm_condition_formula.py: the per-row checks and the table (no generation)."""

from __future__ import annotations

import pgcgm_condition_formula as B


def test_formula_as_condition_counts_elements_times_multiplicities() -> None:
    info = {"cond_elements": "Al O O", "cond_multiplicities": "4 4 2", "formula": "Al2O3"}
    assert B._matches_condition(info)
    assert not B._matches_condition({**info, "formula": "AlO2"})
    assert B._matches_condition({"cond_elements": "Na Cl", "cond_multiplicities": "4 4", "formula": "NaCl"})


def test_table_rows_state_shares_of_the_accepted() -> None:
    row = {"system": "Na-Cl", "filter": True, "accepted": 4, "candidates": 1000, "charge_balanced": 3,
           "formula_as_condition": 4, "n_spacegroups": 2, "top_spacegroup": 225, "top_share": 0.5}
    table = B.markdown([row, {**row, "filter": False, "accepted": 0, "charge_balanced": 0,
                              "formula_as_condition": 0, "top_spacegroup": None}])
    assert "| Na-Cl | on | 4 / 1000 | 3 (75 %) | 4 (100 %) | 2 | 225 (50 %) |" in table
    assert "| Na-Cl | off | 0 / 1000 | 0 (0 %) | 0 (0 %) | 2 | – |" in table

"""Wyckoff templates: element roles by electronegativity, charge-balance preference, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from xtalgen.pipelines.pgcgm.templates import (
    charge_balanced,
    condition_formula,
    conditions_for_elements,
    group_templates,
    role_order,
    roles_of,
    site_counts,
)

ROWS = [
    # antiperovskite-like A3BX (more training materials than the perovskite here) and perovskite ABX3
    {"spacegroup": 221, "elements": "Ca N As", "multiplicities": "3 1 1", "count": 9},
    {"spacegroup": 221, "elements": "Ba Ti O", "multiplicities": "1 1 3", "count": 2},
    {"spacegroup": 221, "elements": "Sr Ti O", "multiplicities": "1 1 3", "count": 1},
    {"spacegroup": 225, "elements": "Na Cl", "multiplicities": "4 4", "count": 5},
    {"spacegroup": 12, "elements": "Al O O", "multiplicities": "4 4 2", "count": 1},
]


def test_roles_follow_electronegativity() -> None:
    assert role_order(["O", "Ti", "Sr"]) == ("Sr", "Ti", "O")
    assert roles_of(("Ba", "Ti", "O")) == (0, 1, 2)
    assert roles_of(("Al", "O", "O")) == (0, 1, 1)


def test_perovskite_wins_by_charge_balance() -> None:
    templates = group_templates(ROWS)
    perov = next(t for t in templates if t.multiplicities == (1, 1, 3))
    assert perov.count == 3 and charge_balanced(perov, ("Sr", "Ti", "O"))
    anti = next(t for t in templates if t.multiplicities == (3, 1, 1))
    assert not charge_balanced(anti, ("Sr", "Ti", "O"))
    conds = conditions_for_elements(50, templates, ("Sr", "Ti", "O"), spacegroup=[221], rng=np.random.default_rng(0))
    assert set(conds) == {(221, ("Sr", "Ti", "O"), (1, 1, 3))}


def test_same_element_on_several_sites_and_errors() -> None:
    templates = group_templates(ROWS)
    conds = conditions_for_elements(5, templates, ("Ga", "O"), spacegroup=[12], rng=np.random.default_rng(0))
    assert set(conds) == {(12, ("Ga", "O", "O"), (4, 4, 2))}
    with pytest.raises(ValueError, match="no training template with 2 elements fits space group 221"):
        conditions_for_elements(1, templates, ("Na", "Cl"), spacegroup=[221], rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="at most 4 atoms per cell"):
        conditions_for_elements(1, templates, ("Na", "Cl"), max_atoms=4, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="1..5 distinct elements"):
        conditions_for_elements(1, templates, ("Na", "Na"), rng=np.random.default_rng(0))


def test_condition_formula_is_elements_times_multiplicities() -> None:
    assert condition_formula((221, ("Sr", "Ti", "O"), (1, 1, 3))) == "Sr1 Ti1 O3"
    assert condition_formula((12, ("Al", "O", "O"), (4, 4, 2))) == "Al4 O6"  # one element on two sites
    assert site_counts(("Na", "Cl"), (4, 4)) == {"Na": 4, "Cl": 4}
    # charge balance judges the same per-element counts: Al4O6 balances
    templates = group_templates(ROWS)
    assert charge_balanced(next(t for t in templates if t.spacegroup == 12), ("Al", "O"))

"""Hull points: E_hull = E - hull point for any energy E; the early-stop hook only when the model stops early."""

from __future__ import annotations

import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.evaluation.hull_points import early_stop_hull, hull_points
from xtalgen.evaluation.reference_table import ReferenceTable
from xtalgen.evaluation.stability import hull_energies


def _table() -> ReferenceTable:
    rows = [("na", "Na", "Na", 1, -1.0), ("cl", "Cl", "Cl", 1, -2.0), ("nacl", "NaCl", "Cl-Na", 2, -4.0)]
    frame = pd.DataFrame(rows, columns=["id", "formula", "chemsys", "nsites", "energy_per_atom"])
    return ReferenceTable(frame, {"reference_tag": "test"})


def _items() -> list[tuple[str, Structure]]:
    lattice = Lattice.cubic(4.0)
    nacl = Structure(lattice, ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    na3cl = Structure(lattice, ["Na", "Na", "Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    k = Structure(lattice, ["K"], [[0, 0, 0]])  # no elemental reference: no hull
    return [("nacl", nacl), ("na3cl", na3cl), ("k", k)]


def test_hull_points_give_e_hull_for_any_energy():
    table, items = _table(), _items()
    points = hull_points(items, table)
    assert set(points) == {"nacl", "na3cl"} and points["nacl"] == pytest.approx(-4.0)
    assert points["na3cl"] == pytest.approx((2 * -4.0 + 2 * -1.0) / 4)  # half NaCl, half Na
    for energy in (-6.0, -2.5, 3.0):
        [(e_hull, _)] = hull_energies([(items[1][1].composition, energy)], table.references(["Na", "Cl", "Cl-Na"]))
        assert energy - points["na3cl"] == pytest.approx(e_hull)


class _Model:
    def __init__(self, early_stop: object) -> None:
        self.early_stop = early_stop


def test_early_stop_hull_only_with_a_rule_and_a_table():
    table, items = _table(), _items()
    assert early_stop_hull(_Model(None), table, items) == {}
    assert early_stop_hull(_Model(object()), None, items) == {}
    assert early_stop_hull(_Model(object()), table, items)["hull"] == hull_points(items, table)

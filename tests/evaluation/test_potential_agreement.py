from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition, Lattice, Structure
from tests.evaluation.conftest import cscl
from tests.evaluation.test_stability import FakeEnergyModel

from xtalgen.evaluation.potential_agreement import PotentialAgreement, PotentialStability
from xtalgen.evaluation.report import write_report
from xtalgen.evaluation.runner import default_metrics, evaluate
from xtalgen.evaluation.stability import Stability, hull_analysis


def test_hull_analysis_names_the_competing_phases():
    refs = [(Composition("Cs"), 0.0), (Composition("Cl"), 0.0), (Composition("CsCl"), -1.0)]
    out = hull_analysis([(Composition("Cs3Cl"), -0.3), (Composition("CsCl"), -1.2), (Composition("CsK"), 0.0)], refs)
    assert out[0].e_hull == pytest.approx(0.2)
    # Cs3Cl -> half of its atoms in CsCl, half in Cs
    assert dict(out[0].decomposition) == pytest.approx({"CsCl": 0.5, "Cs": 0.5})
    assert out[0].decomposition_text() == "Cs 0.50 + CsCl 0.50"
    assert out[1].e_hull == pytest.approx(-0.2) and out[1].decomposition_text() == "CsCl 1.00"
    assert np.isnan(out[2].e_hull) and "K" in out[2].note and out[2].decomposition == ()


class Renamed(FakeEnergyModel):
    def __init__(self, table, tag):
        super().__init__(table)
        self.name = self.relax_tag = self.reference_tag = tag


def _set():
    cs = Structure(Lattice.cubic(6.0), ["Cs"], [[0, 0, 0]])
    cl = Structure(Lattice.cubic(6.0), ["Cl"], [[0, 0, 0]])
    cs3cl = Structure(
        Lattice.cubic(5.0), ["Cs", "Cs", "Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    )
    cs5cl3 = Structure(Lattice.cubic(9.0), ["Cs"] * 5 + ["Cl"] * 3,
                       [[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0.5, 0.5, 0.5],
                        [0.25, 0.25, 0.25], [0.75, 0.25, 0.25], [0.25, 0.75, 0.75]])  # fmt: skip
    train = [("cs", cs), ("cl", cl), ("cscl", cscl(4.12))]
    gen = [("same", cscl(4.3)), ("a", cs3cl), ("b", cs5cl3)]
    # hull under both: Cs 0, Cl2 0, CsCl -1. Cs3Cl: first +0.05 (metastable), second +0.3 (not);
    # Cs5Cl3 (x_Cl = 3/8, hull -0.75): first +0.5 (not), second +0.05 (metastable)
    first = Renamed({"Cs": 0.0, "Cl2": 0.0, "CsCl": -1.0, "Cs3Cl": -0.45, "Cs5Cl3": -0.25}, "one")
    second = Renamed({"Cs": 0.0, "Cl2": 0.0, "CsCl": -1.0, "Cs3Cl": -0.2, "Cs5Cl3": -0.7}, "two")
    return train, gen, first, second


def test_two_potentials_are_reported_with_their_agreement(tmp_path):
    train, gen, first, second = _set()
    metrics = []
    for m in default_metrics(energy_model=first):
        metrics.append(m)
        if m.name == "e_hull":
            metrics += [PotentialStability("two", second), PotentialAgreement(["one", "two"])]
    result = evaluate(gen, train, None, stability=True, energy_model=first, metrics=metrics, workers=1,
                      progress=False)  # fmt: skip
    t = result.per_sample.set_index("id")
    assert t.loc["a", "e_hull"] == pytest.approx(0.05) and t.loc["a", "e_hull_two"] == pytest.approx(0.3)
    assert t.loc["b", "e_hull"] == pytest.approx(0.5) and t.loc["b", "e_hull_two"] == pytest.approx(0.05)
    # the primary's columns are untouched by the second potential; the second's are suffixed
    assert t.loc["a", "energy_per_atom"] == pytest.approx(-0.45)
    assert t.loc["a", "energy_per_atom_two"] == pytest.approx(-0.2)
    assert t.loc["a", "e_hull_decomposition"] == "Cs 0.50 + CsCl 0.50"
    assert "relax_rmsd_two" in t.columns and "relax_converged_two" in t.columns
    assert list(t["metastable_by"]) == ["all", "one", "two"]
    m = result.metrics
    assert m["agreement.n_compared"] == 3 and m["agreement.metastable_all"] == 1
    assert m["agreement.metastable_only_one"] == 1 and m["agreement.metastable_only_two"] == 1
    assert m["agreement.metastable_none"] == 0
    # "same" matches a training structure (not novel): S.U.N. needs novelty, so none by agreement;
    # each potential alone finds one S.U.N. sample (a under one, b under two)
    assert m["agreement.n_sun"] == 0 and m["agreement.sun_rate"] == 0
    assert m["stability.n_sun"] == 1 and m["stability_two.n_sun"] == 1
    assert m["stability_two.sun_rate"] == pytest.approx(1 / 3)
    assert np.isfinite(m["agreement.one_vs_two.pearson"]) and m["agreement.one_vs_two.mean_abs_diff"] > 0

    page = write_report(result, tmp_path / "report")
    table = pd.read_csv(tmp_path / "report" / "per_sample.csv").set_index("id")
    assert table.loc["a", "relaxed_cif"] == "relaxed/a.cif"
    assert table.loc["a", "relaxed_cif_two"] == "relaxed_two/a.cif"
    assert (tmp_path / "report" / "relaxed_two" / "b.cif").is_file()
    assert (tmp_path / "report" / "relaxed" / "b.cif").is_file()
    text = page.read_text()
    # the gallery shows charge-balanced samples only: CsCl, with both potentials, its hull phases and relaxation
    assert "E_hull 0.000 eV/atom; two E_hull 0.000; hull: CsCl 1.00; RMSD 0.00 Å, converged" in text
    assert "S.U.N. by agreement" in text and "under two" in text


def test_agreement_needs_two_potentials():
    with pytest.raises(ValueError, match="two potentials"):
        PotentialAgreement(["chgnet"])


def test_stability_alone_still_fills_its_plain_columns():
    train, gen, first, _ = _set()
    metrics = [m if m.name != "e_hull" else Stability(first) for m in default_metrics()]
    result = evaluate(gen, train, None, stability=True, energy_model=first, metrics=metrics, workers=1,
                      progress=False)  # fmt: skip
    assert "e_hull_decomposition" in result.per_sample.columns and not result.relaxed_by_potential

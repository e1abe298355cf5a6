from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Composition, Lattice, Structure
from tests.evaluation.conftest import cscl

from xtalgen.evaluation.assembly import MetricSettings
from xtalgen.evaluation.runner import default_metrics, evaluate
from xtalgen.evaluation.stability import hull_energies, reference_indices, subsystems


def test_subsystems_and_reference_selection():
    assert set(subsystems(["Na", "Cl"])) == {frozenset({"Na"}), frozenset({"Cl"}), frozenset({"Na", "Cl"})}
    refs = [frozenset({"Na"}), frozenset({"Cl"}), frozenset({"K"}), frozenset({"Na", "Cl"}), frozenset({"Na", "O"})]
    assert reference_indices([frozenset({"Na", "Cl"})], refs) == [0, 1, 3]


def test_hull_energies_on_a_known_binary():
    # A, B at 0 eV/atom; AB at -1 eV/atom is on the hull
    refs = [(Composition("Cs"), 0.0), (Composition("Cl"), 0.0), (Composition("CsCl"), -1.0)]
    samples = [
        (Composition("CsCl"), -0.9),  # 0.1 above AB
        (Composition("CsCl"), -1.2),  # below the hull: negative
        (Composition("Cs3Cl"), -0.3),  # hull at x=0.25 is -0.5 -> +0.2
        (Composition("CsK"), -0.1),  # K has no reference
    ]
    out = hull_energies(samples, refs)
    assert out[0][0] == pytest.approx(0.1)
    assert out[1][0] == pytest.approx(-0.2)
    assert out[2][0] == pytest.approx(0.2)
    assert np.isnan(out[3][0]) and "K" in out[3][1]


class FakeEnergyModel:
    """Energies from a table by reduced formula; 'relaxation' returns the structure unchanged."""

    name = "fake"
    relax_tag = "fake"
    reference_tag = "fake"

    def __init__(self, table):
        self.table = table
        self.relaxed = 0

    def relax(self, items, *, cache_path, workers, progress):
        self.relaxed += len(items)
        return {
            k: {"energy_per_atom": self.table[s.composition.reduced_formula], "rmsd": 0.0, "steps": 0,
                "converged": True, "structure": s.as_dict()}
            for k, s in items
        }  # fmt: skip

    def energies(self, items, *, cache_path, workers, progress):
        out = {}
        for k, payload in items:
            s = payload if isinstance(payload, Structure) else Structure.from_str(payload, fmt="cif")
            out[k] = {"energy_per_atom": self.table[s.composition.reduced_formula], "formula": s.composition.formula}
        return out


def test_stability_rates_and_sun_over_all_samples():
    cs = Structure(Lattice.cubic(6.0), ["Cs"], [[0, 0, 0]])
    cl = Structure(Lattice.cubic(6.0), ["Cl"], [[0, 0, 0]])
    csbr = Structure(Lattice.cubic(6.0), ["Cs"], [[0, 0, 0]])
    csbr.replace_species({"Cs": "Br"})
    train = [("cs", cs), ("cl", cl), ("cscl", cscl(4.12))]
    table = {"Cs": 0.0, "Cl2": 0.0, "CsCl": -1.0, "Cs3Cl": -0.45, "Br": 0.0}
    bad = Structure(Lattice.cubic(4.0), ["Cs", "Cl"], [[0, 0, 0], [0.01, 0, 0]])
    cs3cl = Structure(
        Lattice.cubic(5.0), ["Cs", "Cs", "Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    )
    gen = [
        ("same", cscl(4.3)),  # matches training CsCl: stable but not novel
        ("new", cs3cl),  # +0.05 eV/atom: metastable, unique, novel -> S.U.N.
        ("dup", cs3cl.copy()),  # duplicate of "new": not unique
        ("bad", bad),  # invalid: never relaxed
        ("br", csbr),  # no Br reference: no E_hull
    ]
    model = FakeEnergyModel(table)
    result = evaluate(gen, train, None, stability=True, energy_model=model, workers=1, progress=False,
                      settings=MetricSettings(known_structures=None))  # novelty against the training set
    m = result.metrics
    assert model.relaxed == 4  # the invalid sample is not relaxed
    e = result.per_sample.set_index("id")["e_hull"]
    assert e["same"] == pytest.approx(0.0, abs=1e-9) and e["new"] == pytest.approx(0.05)
    assert np.isnan(e["bad"]) and np.isnan(e["br"])
    assert m["stability.stable_rate"] == pytest.approx(1 / 5)
    assert m["stability.metastable_rate"] == pytest.approx(3 / 5)
    assert m["stability.sun_rate"] == pytest.approx(1 / 5)
    # LeMat-GenBench's per-structure values: 1 SUN, 0.5 MetaSUN (0 < E_hull <= 0.1), 0 neither, NaN: no E_hull
    np.testing.assert_array_equal(result.per_sample["sun"], [0.0, 0.5, 0.0, np.nan, np.nan])
    assert m["sun.sun_rate"] == 0 and m["sun.msun_rate"] == pytest.approx(1 / 5)
    assert m["sun.combined_sun_msun_rate"] == m["stability.sun_rate"]
    assert "Br" in result.per_sample.set_index("id")["e_hull_note"]["br"]


def test_stability_without_energy_model_is_a_clear_error():
    with pytest.raises(ValueError, match="energy_model"):
        evaluate([cscl()], [cscl()], None, stability=True, workers=1, progress=False)


def test_stability_on_a_seeded_subset_of_the_valid_samples():
    from xtalgen.evaluation.stability import Stability, stability_subset

    valid = np.array([0, 2, 3, 5, 8, 9])
    pick = stability_subset(valid, 3, seed=1)
    assert len(pick) == 3 and set(pick) <= set(valid) and list(pick) == sorted(pick)
    assert np.array_equal(pick, stability_subset(valid, 3, seed=1))
    assert not np.array_equal(pick, stability_subset(valid, 3, seed=2)) or len(valid) == 3
    assert np.array_equal(stability_subset(valid, None), valid) and np.array_equal(stability_subset(valid, 9), valid)
    with pytest.raises(ValueError, match="subset"):
        Stability(subset=0)

    # CsCl samples at several lattice constants: E_hull from the table, identical at every a
    cs = Structure(Lattice.cubic(6.0), ["Cs"], [[0, 0, 0]])
    cl = Structure(Lattice.cubic(6.0), ["Cl"], [[0, 0, 0]])
    train = [("cs", cs), ("cl", cl)]
    bad = Structure(Lattice.cubic(4.0), ["Cs", "Cl"], [[0, 0, 0], [0.01, 0, 0]])
    gen = [(f"s{k}", cscl(4.0 + 0.1 * k)) for k in range(6)] + [("bad", bad), ("bad2", bad.copy())]
    model = FakeEnergyModel({"Cs": 0.0, "Cl2": 0.0, "CsCl": -0.05})
    metric = Stability(model, reference_energies="train", subset=2, seed=3)
    metrics = [m if m.name != "e_hull" else metric for m in default_metrics()]
    result = evaluate(gen, train, None, stability=True, energy_model=model, metrics=metrics, workers=1,
                      progress=False)  # fmt: skip
    table = result.per_sample.set_index("id")
    assert model.relaxed == 2 and table["stability_subset"].sum() == 2
    chosen = set(table.index[table["stability_subset"]])
    assert chosen == {f"s{k}" for k in stability_subset(np.arange(6), 2, seed=3)}
    assert np.isfinite(table.loc[list(chosen), "e_hull"]).all() and table["e_hull"].notna().sum() == 2
    others = table[~table["stability_subset"] & table["struct_valid"]]
    assert len(others) == 4 and (others["e_hull_note"] == "not relaxed: outside the stability subset").all()
    m = result.metrics
    # every relaxed sample is stable (below the 0 eV hull of the elements): 2 of 2 relaxed, 6 of 8 valid
    assert m["stability.subset"] == 2 and m["stability.n_stable"] == 2 and m["stability.n_metastable"] == 2
    assert m["stability.stable_rate"] == pytest.approx(2 / 2 * 6 / 8)
    # without a subset the same formula gives the plain fraction of all submitted samples
    model = FakeEnergyModel(model.table)
    full = evaluate(gen, train, None, stability=True, energy_model=model, workers=1, progress=False,
                    metrics=default_metrics(energy_model=model))  # fmt: skip
    assert full.metrics["stability.subset"] == 6 and full.metrics["stability.stable_rate"] == pytest.approx(6 / 8)


def test_collapsed_cells_are_not_relaxed_and_count_as_not_stable():
    from xtalgen.evaluation.stability import MIN_VOLUME_PER_ATOM, Stability

    cs = Structure(Lattice.cubic(6.0), ["Cs"], [[0, 0, 0]])
    cl = Structure(Lattice.cubic(6.0), ["Cl"], [[0, 0, 0]])
    dense = cscl(2.0)  # 4.0 Å³/atom, Cs-Cl 1.73 Å: structurally valid, denser than any MP structure
    assert dense.volume / len(dense) < MIN_VOLUME_PER_ATOM
    gen = [("ok", cscl(4.12)), ("dense", dense)]
    model = FakeEnergyModel({"Cs": 0.0, "Cl2": 0.0, "CsCl": -0.05})
    metrics = [m if m.name != "e_hull" else Stability(model, "train") for m in default_metrics()]
    result = evaluate(gen, [("cs", cs), ("cl", cl)], None, stability=True, energy_model=model, metrics=metrics,
                      workers=1, progress=False)  # fmt: skip
    table = result.per_sample.set_index("id")
    assert model.relaxed == 1 and np.isnan(table.loc["dense", "e_hull"]) and np.isfinite(table.loc["ok", "e_hull"])
    assert "denser than any known solid" in table.loc["dense", "e_hull_note"]
    m = result.metrics
    assert m["stability.subset"] == 2 and m["stability.too_dense"] == 1 and m["stability.n_stable"] == 1
    assert m["stability.stable_rate"] == pytest.approx(1 / 2)
    # without the limit it is relaxed like any other sample
    model = FakeEnergyModel(model.table)
    metrics = [m if m.name != "e_hull" else Stability(model, "train", min_volume_per_atom=None)
               for m in default_metrics()]  # fmt: skip
    evaluate(gen, [("cs", cs), ("cl", cl)], None, stability=True, energy_model=model, metrics=metrics, workers=1,
             progress=False)  # fmt: skip
    assert model.relaxed == 2

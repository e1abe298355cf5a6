"""Property distributions after relaxation: formation energy, E_hull, magmom, bulk modulus, density; K–S; report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition, Lattice, Structure
from tests.evaluation.conftest import rocksalt

from xtalgen.evaluation.assembly import MetricSettings
from xtalgen.evaluation.property_distributions import (
    PROPERTIES,
    PropertyDistributions,
    elemental_references,
    formation_energy_per_atom,
    ks_statistics,
    reference_subset,
)
from xtalgen.evaluation.report import write_report
from xtalgen.evaluation.runner import evaluate
from xtalgen.evaluation.stability import Stability
from xtalgen.postprocess.relax import CHGNetEnergyModel


def test_formation_energy_against_the_lowest_elemental_reference():
    refs = [
        (Composition("Na"), -1.3),
        (Composition("Na"), -1.2),
        (Composition("Cl2"), -1.8),
        (Composition("NaCl"), -3.6),
    ]
    mu = elemental_references(refs)
    assert mu == {"Na": -1.3, "Cl": -1.8}
    assert formation_energy_per_atom(Composition("NaCl"), -3.6, mu) == pytest.approx(-3.6 + 0.5 * 1.3 + 0.5 * 1.8)
    assert formation_energy_per_atom(Composition("Na"), -1.3, mu) == pytest.approx(0.0)
    assert np.isnan(formation_energy_per_atom(Composition("KCl"), -3.0, mu))


def test_ks_of_identical_sets_is_zero_and_of_disjoint_sets_one():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({column: rng.normal(size=20) for _, column, _ in PROPERTIES})
    assert all(v == 0.0 for v in ks_statistics(frame, frame.copy()).values())
    shifted = frame + 100.0
    assert all(v == 1.0 for v in ks_statistics(frame, shifted).values())
    assert all(np.isnan(v) for v in ks_statistics(frame, pd.DataFrame()).values())


def test_reference_subset_is_seeded_and_bounded():
    a = reference_subset(1000, 10, seed=3)
    assert len(a) == 10 and list(a) == sorted(a) and list(a) == list(reference_subset(1000, 10, seed=3))
    assert list(a) != list(reference_subset(1000, 10, seed=4))
    assert list(reference_subset(5, 10)) == list(range(5)) and list(reference_subset(5, None)) == list(range(5))
    with pytest.raises(ValueError, match="reference subset"):
        PropertyDistributions(CHGNetEnergyModel(), n_reference=0)
    with pytest.raises(ValueError, match="volume strains"):
        PropertyDistributions(CHGNetEnergyModel(), strains=(0.0, 0.02))


class CountingCHGNet(CHGNetEnergyModel):
    """CHGNet that counts the structures it is asked to relax."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.relaxed: list[str] = []

    def relax(self, items, **kwargs):
        self.relaxed += [k for k, _ in items]
        return super().relax(items, **kwargs)


def test_property_distributions_end_to_end_with_chgnet(tmp_path):
    """Three crystals evaluated against themselves: every K–S is 0; NaCl forms from its elements
    (formation energy < 0), iron is magnetic; each structure is relaxed once per side; the report holds
    the table, the violin plot and the reference table."""
    iron = Structure(Lattice.cubic(2.83), ["Fe", "Fe"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    silicon = rocksalt(5.43, "Si", "Si")
    silicon.replace(1, "Si", [0.25, 0.25, 0.25])
    crystals = [("nacl", rocksalt(5.64)), ("si", silicon), ("fe", iron)]
    model = CountingCHGNet(steps=10)
    settings = MetricSettings(known_structures=None, stability=Stability(model),
                              properties=PropertyDistributions(model, n_reference=None),
                              skip=frozenset({"coverage", "distributions", "diversity", "symmetry"}))  # fmt: skip
    result = evaluate(crystals, crystals, stability=True, energy_model=model, settings=settings, workers=1,
                      progress=False, cache_dir=tmp_path / "cache")  # fmt: skip
    m = result.metrics
    assert m["properties.n_generated"] == 3 and m["properties.n_reference"] == 3
    for key, _, _ in PROPERTIES:
        assert m[f"properties.ks.{key}"] == pytest.approx(0.0), key
    # 3 samples (by the stability metric, keys "<id>:<hash>") + 3 references (by id); none relaxed twice
    assert len(model.relaxed) == 6 and sorted(k for k in model.relaxed if ":" not in k) == ["fe", "nacl", "si"]

    table = result.per_sample.set_index("id")
    assert table.loc["nacl", "formation_energy_per_atom"] < -1.5  # MP (PBE): -2.1 eV/atom
    assert abs(table.loc["si", "formation_energy_per_atom"]) < 0.05  # the element against itself
    assert table.loc["fe", "magmom_per_atom"] > 1.5 and table.loc["nacl", "magmom_per_atom"] < 0.1
    assert 40 < table.loc["si", "bulk_modulus"] < 140
    assert result.reference_properties is not None and len(result.reference_properties) == 3

    page = write_report(result, tmp_path / "report")
    text = page.read_text()
    assert "<h2>Property distributions</h2>" in text and 'class="properties"' in text
    assert "CGCNN" in text and 'alt="Properties after relaxation' in text
    assert (tmp_path / "report" / "plots" / "properties.png").stat().st_size > 5000
    ref = pd.read_csv(tmp_path / "report" / "reference_properties.csv")
    assert set(ref["id"]) == {"nacl", "si", "fe"} and "bulk_modulus" in ref.columns
    assert "properties.ks.bulk_modulus" in json.loads((tmp_path / "report" / "metrics.json").read_text())["metrics"]
    assert "K–S" in (tmp_path / "report" / "summary.txt").read_text()

    # a rerun relaxes nothing new: the reference relaxations and E(V) points come from the cache
    again = CountingCHGNet(steps=10)
    settings = MetricSettings(known_structures=None, stability=Stability(again),
                              properties=PropertyDistributions(again, n_reference=None),
                              skip=frozenset({"coverage", "distributions", "diversity", "symmetry"}))  # fmt: skip
    rerun = evaluate(crystals, crystals, stability=True, energy_model=again, settings=settings, workers=1,
                     progress=False, cache_dir=tmp_path / "cache")  # fmt: skip
    assert rerun.metrics["properties.median.bulk_modulus"] == pytest.approx(m["properties.median.bulk_modulus"])
    cached = [p for p in (tmp_path / "cache").glob("ref-*/*.jsonl") if p.name.startswith(("relax-", "ev-"))]
    assert len(cached) == 2 and all(len(p.read_text().splitlines()) == 3 for p in cached)

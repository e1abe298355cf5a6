"""Reference-energy tables: format, shipped-table lookup, and E_hull from a table vs computed on demand."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomllib
from pymatgen.core import Composition, Lattice, Structure
from tests.evaluation.conftest import cscl
from tests.evaluation.test_stability import FakeEnergyModel

import xtalgen
from xtalgen.evaluation.reference_table import (
    ENV_VAR,
    ReferenceTable,
    cell_formula,
    chemsys,
    load_reference_table,
    reference_dir,
    shipped_reference_path,
    table_from_rows,
    write_reference_table,
)
from xtalgen.evaluation.runner import evaluate
from xtalgen.evaluation.stability import Stability, resolve_reference_table

REPO = Path(__file__).resolve().parents[2]


def _cell(species: list[str], a: float = 6.0) -> Structure:
    coords = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0, 0.5], [0, 0.5, 0.5]][: len(species)]
    return Structure(Lattice.cubic(a), species, coords)


#: Fake energies (eV/atom) by reduced formula, as FakeEnergyModel uses them.
ENERGIES = {"Cs": -1.0, "Cl2": -2.0, "CsCl": -2.5, "Cs3Cl": -1.7, "Na": -1.3, "NaCl": -3.0, "Br": -1.5}
TRAIN = [
    ("cs", _cell(["Cs"])),
    ("cl", _cell(["Cl", "Cl"])),
    ("cscl", cscl(4.12)),
    ("na", _cell(["Na"])),
    ("nacl", _cell(["Na", "Cl"], 5.6)),
    ("cs3cl", _cell(["Cs", "Cs", "Cs", "Cl"])),
]


def _table_file(path: Path, items: list[tuple[str, Structure]], tag: str = "fake") -> Path:
    rows = [
        {"id": k, "formula": cell_formula(s.composition), "chemsys": chemsys(e.symbol for e in s.composition.elements),
         "nsites": len(s), "energy_per_atom": ENERGIES[s.composition.reduced_formula]}
        for k, s in items
    ]  # fmt: skip
    return write_reference_table(table_from_rows(rows), path, {"reference_tag": tag, "dataset": "toy"})


def test_round_trip_selection_and_failures_file(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "formula": "Li2O1", "chemsys": "Li-O", "nsites": 3, "energy_per_atom": -4.25},
        {"id": "b", "formula": "Li1", "chemsys": "Li", "nsites": 1, "energy_per_atom": -1.9},
        {"id": "c", "formula": "O2", "chemsys": "O", "nsites": 2, "energy_per_atom": -4.9},
        {"id": "d", "formula": "Li1Fe1O2", "chemsys": "Fe-Li-O", "nsites": 4, "energy_per_atom": np.nan},
    ]
    failures = pd.DataFrame({"id": ["x"], "reason": ["unparseable: bad"]})
    path = write_reference_table(table_from_rows(rows), tmp_path / "t.parquet", {"reference_tag": "tag"}, failures)
    table = load_reference_table(path)
    assert len(table) == 3 and table.reference_tag == "tag"  # the NaN row is not a reference
    assert table.meta["n_rows"] == 4 and table.meta["n_failed"] == 1
    assert table.elements == {"Li", "O"} and table.systems() == {"Li-O", "Li", "O"}
    refs = table.references([frozenset({"Li"}), frozenset({"Li", "O"})])
    assert [(c.formula, e) for c, e in refs] == [("Li2 O1", -4.25), ("Li1", pytest.approx(-1.9))]
    assert refs[0][0] == Composition("Li2O")
    assert pd.read_csv(tmp_path / "t.parquet.failures.csv")["id"].tolist() == ["x"]
    with pytest.raises(ValueError, match="holds 'tag' energies, not 'other'"):
        load_reference_table(path, tag="other")
    with pytest.raises(FileNotFoundError, match="xtalgen data energies"):
        load_reference_table(tag="chgnet-0.3.0-static", root=tmp_path / "empty")
    (tmp_path / "plain.parquet").write_bytes(b"not parquet")
    with pytest.raises(ValueError, match="not a reference-energy table"):
        load_reference_table(tmp_path / "plain.parquet")


def _samples() -> list[tuple[str, Structure]]:
    cs3cl = _cell(["Cs", "Cs", "Cs", "Cl"], 5.0)
    nacs = _cell(["Na", "Cs"])
    return [("csclx", cscl(4.3)), ("cs3cl", cs3cl), ("nacl2", _cell(["Na", "Cl", "Cl"])), ("nacs", nacs)]


SAMPLE_ENERGIES = {"CsCl": -2.4, "Cs3Cl": -1.8, "NaCl2": -2.6, "CsNa": -1.0}


class SampleFakeModel(FakeEnergyModel):
    """Relaxed samples get SAMPLE_ENERGIES, references (computed on demand) get ENERGIES."""

    def __init__(self) -> None:
        super().__init__(ENERGIES)
        self.reference_calls = 0

    def relax(self, items, **kwargs):
        self.table = SAMPLE_ENERGIES
        try:
            return super().relax(items, **kwargs)
        finally:
            self.table = ENERGIES

    def energies(self, items, **kwargs):
        self.reference_calls += len(items)
        return super().energies(items, **kwargs)


def _evaluate(reference_energies, train=TRAIN, model=None):
    model = model or SampleFakeModel()
    metrics = [Stability(model, reference_energies=reference_energies)]
    result = evaluate(_samples(), train, None, stability=True, energy_model=model, workers=1, progress=False,
                      metrics=metrics)  # fmt: skip
    return result, model


def test_hull_from_a_table_equals_hull_from_on_demand_energies(tmp_path: Path) -> None:
    on_demand, model = _evaluate("train")
    assert model.reference_calls == 6
    path = _table_file(tmp_path / "fake.parquet", TRAIN)
    from_table, model = _evaluate(path, train=None)  # no training set needed
    assert model.reference_calls == 0  # nothing computed for references
    a = on_demand.per_sample.set_index("id")["e_hull"]
    b = from_table.per_sample.set_index("id")["e_hull"]
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), atol=1e-6)
    # CsCl: hull -2.5 -> +0.1; Cs3Cl: line Cs(-1.0)..CsCl(-2.5) at x=0.25 is -1.75, ref Cs3Cl -1.7 is above it
    assert b["csclx"] == pytest.approx(0.1, abs=1e-6) and b["cs3cl"] == pytest.approx(-0.05, abs=1e-6)
    assert np.isfinite(b).all()
    assert on_demand.metrics["stability.references_from_table"] == 0.0
    assert from_table.metrics["stability.references_from_table"] == 1.0
    assert from_table.metrics["stability.n_references"] == on_demand.metrics["stability.n_references"] == 6


def test_missing_end_member_gives_nan_with_a_reason_and_one_warning(tmp_path: Path) -> None:
    path = _table_file(tmp_path / "fake.parquet", [t for t in TRAIN if t[0] != "na"])  # no elemental Na
    with pytest.warns(UserWarning, match="no elemental entry for Na") as record:
        result, _ = _evaluate(path, train=None)
    assert sum("elemental entry" in str(w.message) for w in record) == 1
    table = result.per_sample.set_index("id")
    assert np.isnan(table.loc["nacl2", "e_hull"]) and np.isnan(table.loc["nacs", "e_hull"])
    assert table.loc["nacl2", "e_hull_note"] == "reference table fake.parquet: no elemental reference for Na"
    assert table.loc["csclx", "e_hull"] == pytest.approx(0.1, abs=1e-6)  # other systems unaffected


def test_table_from_another_model_is_refused(tmp_path: Path) -> None:
    path = _table_file(tmp_path / "other.parquet", TRAIN, tag="chgnet-0.3.0-static")
    with pytest.raises(ValueError, match="holds 'chgnet-0.3.0-static' energies but the energy model makes 'fake'"):
        Stability(FakeEnergyModel(ENERGIES), reference_energies=path)


def test_shipped_table_is_found_by_the_model_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed-package layout (xtalgen/resources/reference_energies/<tag>.parquet), injected by env var."""
    folder = tmp_path / "site-packages" / "xtalgen" / "resources" / "reference_energies"
    _table_file(folder / "fake.parquet", TRAIN)
    monkeypatch.setenv(ENV_VAR, str(folder))
    assert shipped_reference_path("fake") == folder / "fake.parquet"
    assert len(load_reference_table()) == 6  # the only shipped table
    model = SampleFakeModel()
    stability = Stability(model)  # "auto": the shipped table of the model's tag
    assert stability.needs == {"structures", "stability"}
    result = evaluate(_samples(), None, None, stability=True, energy_model=model, workers=1, progress=False,
                      metrics=[stability])  # fmt: skip
    assert result.per_sample.set_index("id")["e_hull"]["csclx"] == pytest.approx(0.1, abs=1e-6)
    assert resolve_reference_table("train", model) is None
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nothing"))
    assert Stability(model).needs == {"structures", "train", "stability"}  # none ships: computed from train
    result = evaluate(_samples(), None, None, stability=True, energy_model=model, workers=1, progress=False,
                      metrics=[Stability(model)])  # fmt: skip
    assert result.meta["skipped"] == {"e_hull": ["train"]}


def test_default_location_is_package_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default folder is inside the installed package and pyproject ships *.parquet files from it."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    folder = reference_dir()
    assert folder == Path(xtalgen.__file__).resolve().parent / "resources" / "reference_energies"
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["xtalgen"]
    for name in ("resources/reference_energies/chgnet-0.3.0-static.parquet",
                 "resources/reference_energies/chgnet-0.3.0-static.parquet.failures.csv"):  # fmt: skip
        assert any(fnmatch.fnmatch(name, p) for p in patterns), name
    for path in folder.glob("*.parquet") if folder.is_dir() else []:  # every shipped table loads
        table = load_reference_table(path, tag=path.stem)
        assert len(table) > 0 and path.stat().st_size < 5e6


def test_in_memory_table_object() -> None:
    frame = pd.DataFrame({"id": ["x"], "formula": ["Cs1"], "chemsys": ["Cs"], "nsites": [1],
                          "energy_per_atom": [-1.0]})  # fmt: skip
    table = ReferenceTable(frame, {"reference_tag": "fake"})
    assert resolve_reference_table(table, FakeEnergyModel(ENERGIES)) is table
    with pytest.raises(ValueError, match="missing columns"):
        ReferenceTable(frame.drop(columns=["chemsys"]), {})

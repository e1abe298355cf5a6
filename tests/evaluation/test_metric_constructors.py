"""Metrics get their settings through their constructors and keep their findings as their own results:
no options side channel on the evaluation context."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure
from tests.evaluation.conftest import cscl
from tests.evaluation.test_stability import FakeEnergyModel

from xtalgen.evaluation.base import EvalContext
from xtalgen.evaluation.runner import evaluate
from xtalgen.evaluation.stability import Stability, StabilityRun

SRC = Path(__file__).resolve().parents[2] / "src" / "xtalgen"
TABLE = {"Cs": 0.0, "Cl2": 0.0, "CsCl": -0.05}


def _inputs() -> tuple[list[tuple[str, Structure]], list[tuple[str, Structure]]]:
    train = [("cs", Structure(Lattice.cubic(6.0), ["Cs"], [[0, 0, 0]])),
             ("cl", Structure(Lattice.cubic(6.0), ["Cl"], [[0, 0, 0]]))]  # fmt: skip
    generated = [(f"s{k}", cscl(4.0 + 0.1 * k)) for k in range(5)] + [("dense", cscl(2.0))]
    return generated, train


def test_no_options_side_channel_in_src() -> None:
    offenders = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py") if "ctx.options" in p.read_text()]
    assert not offenders, f"ctx.options side channel still used in {offenders}"
    assert "options" not in {f.name for f in dataclasses.fields(EvalContext)}
    assert "options" not in inspect.signature(evaluate).parameters


def test_stability_settings_come_from_its_constructor() -> None:
    generated, train = _inputs()
    own, other = FakeEnergyModel(TABLE), FakeEnergyModel(TABLE)
    metric = Stability(own, reference_energies="train", subset=3, seed=1, min_volume_per_atom=4.3)
    # evaluate's energy_model is another object: the metric relaxes with the one it was built with
    result = evaluate(generated, train, None, stability=True, energy_model=other, metrics=[metric], workers=1,
                      progress=False)  # fmt: skip
    assert own.relaxed >= 2 and other.relaxed == 0
    assert result.per_sample["stability_subset"].sum() == 3
    # its findings are its own typed result, read back by its aggregate
    run = metric.run
    assert isinstance(run, StabilityRun) and run.n_valid == 6 and run.n_subset == 3
    assert run.reference_table is None and run.n_references == 2
    m = result.metrics
    assert m["stability.subset"] == run.n_subset and m["stability.too_dense"] == run.n_too_dense
    assert m["stability.n_references"] == 2 and m["stability.references_from_table"] == 0
    assert result.meta["hull_reference_table"] is None


def test_stability_without_an_energy_model_is_refused_before_running() -> None:
    generated, train = _inputs()
    with pytest.raises(ValueError, match=r"\['e_hull'\] have no energy model"):
        evaluate(generated, train, None, stability=True, energy_model=FakeEnergyModel(TABLE),
                 metrics=[Stability(reference_energies="train")], workers=1, progress=False)  # fmt: skip


def test_hull_reference_table_is_the_stability_metrics_own_meta(tmp_path: Path) -> None:
    from tests.evaluation.test_reference_table import TRAIN, SampleFakeModel, _samples, _table_file

    path = _table_file(tmp_path / "fake.parquet", TRAIN)
    model = SampleFakeModel()
    metric = Stability(model, reference_energies=path)
    result = evaluate(_samples(), None, None, stability=True, energy_model=model, metrics=[metric], workers=1,
                      progress=False)  # fmt: skip
    assert metric.run is not None and metric.run.reference_table == "fake.parquet"
    assert result.meta["hull_reference_table"] == "fake.parquet"
    assert metric.meta == {"hull_reference_table": "fake.parquet"}
    assert result.metrics["stability.references_from_table"] == 1.0
    assert result.metrics["stability.n_references"] == metric.run.n_references > 0

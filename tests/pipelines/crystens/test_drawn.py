"""Drawn conditions for CrysTens diffusion: per-sample (space group, formula) from a conditions table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition, Structure

from xtalgen.configs import CONFIG_DIR
from xtalgen.models.crystens import CrysTensDiffusion
from xtalgen.pipelines.crystens.drawn import draw_conditions
from xtalgen.pipelines.crystens.sample import DiffusionOptions, generate_crystens
from xtalgen.pipelines.crystens.train import train_crystens
from xtalgen.pipelines.families import get_family
from xtalgen.representations.crystens import CrysTensConfig, encode_dataset

TABLE = pd.DataFrame({"spacegroup": [225, 221, 221], "formula": ["NaCl", "SrTiO3", "Ba30O"], "count": [3, 2, 50]})


@pytest.fixture(scope="module")
def tiny_run(shared_datasets, tmp_path_factory):
    """A 2-step tiny unconditional diffusion run on 16 Perov-5 structures, with a conditions table beside it."""
    frame = pd.read_csv(shared_datasets / "perov_5" / "val.csv.gz", nrows=16)
    items = [(str(r.material_id), Structure.from_str(r.cif, fmt="cif")) for r in frame.itertuples()]
    root = tmp_path_factory.mktemp("drawn")
    encode_dataset(items, root / "perov.npy", CrysTensConfig(size=32), workers=1, progress=False)
    run = root / "run"
    train_crystens("diffusion", root / "perov.npy", CONFIG_DIR / "crystens_diffusion_tiny.yaml", run,
                   overrides=["max_steps=2"])  # fmt: skip
    TABLE.to_csv(run / "conditions.csv", index=False)
    return run


def test_draws_skip_pairs_the_tensor_cannot_hold_and_repeat_with_the_seed():
    ct = CrysTensConfig(size=32)
    first = draw_conditions(TABLE, 12, 5, ct)
    assert "Ba30O" not in first.formulas and first.skipped > 0 and first.skipped_pairs == 1
    assert set(zip(first.spacegroups, first.formulas, strict=True)) <= {(225, "NaCl"), (221, "SrTiO3")}
    again = draw_conditions(TABLE, 12, 5, ct)
    assert (again.spacegroups, again.formulas, again.skipped) == (first.spacegroups, first.formulas, first.skipped)
    assert draw_conditions(TABLE, 12, 6, ct).formulas != first.formulas


def test_drawn_mode_gives_each_sample_its_condition(tiny_run, tmp_path):
    summary = generate_crystens(4, tmp_path / "out", checkpoint=tiny_run, seed=3, sampling_steps=2, workers=1,
                                progress=False, conditions="drawn", z_noise_floor=0.1, merge_factor=None)  # fmt: skip
    frame = pd.read_csv(summary)
    record = json.loads((tmp_path / "out" / "generation.json").read_text())
    assert record["conditions"] == "drawn" and "not unconditional" in record["generation_mode"]
    assert [[int(a), b] for a, b in zip(frame["condition_spacegroup"], frame["condition_formula"], strict=True)] \
        == record["drawn_conditions"]
    assert frame["symmetry_projected"].all() and (frame["cell_atoms_imputed"] > 0).all()
    for row in frame[frame["accepted"].astype(bool)].itertuples():
        assert Composition(row.formula).reduced_formula == Composition(row.condition_formula).reduced_formula
    again = generate_crystens(4, tmp_path / "again", checkpoint=tiny_run, seed=3, sampling_steps=2, workers=1,
                              progress=False, conditions="drawn")  # fmt: skip
    assert pd.read_csv(again)["condition_formula"].tolist() == frame["condition_formula"].tolist()


def test_drawn_mode_samples_every_pair_in_one_batched_run_and_repeats_with_the_seed(tiny_run, tmp_path, monkeypatch):
    """6 samples over both placeable pairs: one model.sample call of 6 (not one per pair); same seed, same CIFs."""
    calls: list[int] = []
    original = CrysTensDiffusion.sample

    def counting(self, n, **kwargs):  # noqa: ANN001, ANN003, ANN202
        calls.append(n)
        return original(self, n, **kwargs)

    monkeypatch.setattr(CrysTensDiffusion, "sample", counting)
    runs = [generate_crystens(6, tmp_path / name, checkpoint=tiny_run, seed=4, sampling_steps=2, workers=1,
                              progress=False, conditions="drawn", save_tensors=True)
            for name in ("a", "b")]  # fmt: skip
    assert calls == [6, 6]
    first, second = (pd.read_csv(s) for s in runs)
    assert first["condition_formula"].nunique() == 2
    assert np.array_equal(np.load(tmp_path / "a" / "tensors.npy"), np.load(tmp_path / "b" / "tensors.npy"))
    for row in first[first["accepted"].astype(bool)].itertuples():
        assert (tmp_path / "a" / row.cif).read_text() == (tmp_path / "b" / row.cif).read_text()
    assert first.drop(columns=["cif"]).equals(second.drop(columns=["cif"]))


def test_bad_drawn_requests_fail_with_one_line(tiny_run, tmp_path):
    family = get_family("crystens-diffusion")
    with pytest.raises(ValueError, match="conditions: must be 'drawn'") as err:
        family.parse_options(["conditions=bogus"])
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="drop impute"):
        DiffusionOptions(conditions="drawn", impute=False).validate()
    with pytest.raises(ValueError, match="drop --spacegroup/--formula"):
        generate_crystens(2, tmp_path / "x", checkpoint=tiny_run, formula="NaCl", conditions="drawn", progress=False)

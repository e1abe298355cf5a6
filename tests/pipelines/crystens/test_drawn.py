"""Drawn conditions for CrysTens diffusion: per-sample (space group, formula) from a conditions table."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pymatgen.core import Composition, Structure

from xtalgen.configs import CONFIG_DIR
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


def test_bad_drawn_requests_fail_with_one_line(tiny_run, tmp_path):
    family = get_family("crystens-diffusion")
    with pytest.raises(ValueError, match="conditions: must be 'drawn'") as err:
        family.parse_options(["conditions=bogus"])
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="drop impute"):
        DiffusionOptions(conditions="drawn", impute=False).validate()
    with pytest.raises(ValueError, match="drop --spacegroup/--formula"):
        generate_crystens(2, tmp_path / "x", checkpoint=tiny_run, formula="NaCl", conditions="drawn", progress=False)

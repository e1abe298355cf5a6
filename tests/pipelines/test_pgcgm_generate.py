"""PGCGM generation from a tiny trained model: CIFs read back with the stated space group; conditions."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _pgcgm_data import ternary_dataset
from pymatgen.core import Structure
from pymatgen.io.cif import CifParser
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from xtalgen.configs import bundled_config
from xtalgen.pipelines.pgcgm_generate import choose_conditions, generate_pgcgm, order_species
from xtalgen.pipelines.pgcgm_train import CONDITIONS_FILE, train_pgcgm

TINY = bundled_config("pgcgm_tiny")
SUMMARY_COLUMNS = {
    "id", "accepted", "reason", "formula", "cond_spacegroup", "cond_elements", "found_spacegroup",
    "atoms_before_merge", "atoms_after_merge", "filter_min_distance", "filter_spacegroup", "filter_unique",
}  # fmt: skip


@pytest.fixture(scope="module")
def run(shared_datasets, tmp_path_factory) -> Path:
    """A tiny PGCGM trained for 120 steps (enough for the physics terms to separate atoms)."""
    data = ternary_dataset(shared_datasets, tmp_path_factory.mktemp("pgcgm_data"))
    out = tmp_path_factory.mktemp("pgcgm_gen_run")
    overrides = ["max_steps=120", "checkpoint_every=120", "n_critic=1", "generator_optimizer.lr=2e-3"]
    torch.set_num_threads(1)
    train_pgcgm(data, TINY, out, overrides=overrides)
    return out


def _cif_spacegroup(text: str) -> int:
    for line in text.splitlines():
        if line.startswith("_symmetry_Int_Tables_number"):
            return int(line.split()[1])
    raise AssertionError("no space group number in CIF")


def test_user_conditions_give_cifs_with_confirmed_space_groups(run, tmp_path) -> None:
    groups, sets = [2, 10, 47], [["Ba", "Ti", "O"], ["Cl", "Na", "Mg"]]
    summary = generate_pgcgm(24, tmp_path, checkpoint=run, spacegroup=groups, elements=sets, workers=1,
                             progress=False)  # fmt: skip
    frame = pd.read_csv(summary)
    assert len(frame) == 24 and set(frame.columns) >= SUMMARY_COLUMNS
    # every (space group, element set) combination in turn; element sets in base-site order
    combos = [(sg, els) for sg in groups for els in ("Ba Ti O", "Na Mg Cl")]
    assert list(zip(frame["cond_spacegroup"], frame["cond_elements"], strict=True)) == combos * 4
    assert (frame["atoms_before_merge"] >= frame["atoms_after_merge"]).all()
    accepted = frame[frame["accepted"]]
    assert len(accepted) >= 3, frame["reason"].value_counts().to_dict()
    assert (accepted["found_spacegroup"] != 1).any()
    for row in accepted.itertuples():
        text = (tmp_path / row.cif).read_text()
        structure = Structure.from_str(text, fmt="cif")
        stated = _cif_spacegroup(text)
        assert stated == SpacegroupAnalyzer(structure, symprec=0.1).get_space_group_number()
        assert stated == row.found_spacegroup == row.cond_spacegroup  # the space-group filter held
        assert set(structure.composition.chemical_system.split("-")) == set(row.cond_elements.split())
        assert CifParser.from_str(text).parse_structures(primitive=False)[0].composition == structure.composition
    rejected = frame[~frame["accepted"]]
    assert rejected["reason"].isin(["atoms too close", "space group changed", "duplicate", "too many atoms",
                                    "expansion failed", "merge failed"]).all()  # fmt: skip
    assert len(list((tmp_path / "cifs").glob("*.cif"))) == len(accepted)


def test_conditions_drawn_from_training_table(run, tmp_path) -> None:
    with open(run / CONDITIONS_FILE, newline="") as fh:
        table = {(int(r["spacegroup"]), r["elements"]) for r in csv.DictReader(fh)}
    summary = generate_pgcgm(12, tmp_path, checkpoint=run / "checkpoints", seed=3, workers=1, progress=False)
    frame = pd.read_csv(summary)
    drawn = set(zip(frame["cond_spacegroup"], frame["cond_elements"], strict=True))
    assert drawn <= table and len(drawn) > 1
    # same seed, same candidates
    again = pd.read_csv(generate_pgcgm(12, tmp_path / "again", checkpoint=run, seed=3, workers=1, progress=False))
    assert frame["cond_elements"].tolist() == again["cond_elements"].tolist()
    assert frame["atoms_before_merge"].tolist() == again["atoms_before_merge"].tolist()


def test_only_space_group_draws_elements_of_that_group(run) -> None:
    table = [(221, ("Sr", "Ti", "O"), 3), (225, ("K", "Na", "Cl"), 1), (221, ("Ba", "Ti", "O"), 1)]
    rng = np.random.default_rng(0)
    out = choose_conditions(50, table, [221], None, 3, rng)
    assert {c[0] for c in out} == {221}
    assert {c[1] for c in out} == {("Sr", "Ti", "O"), ("Ba", "Ti", "O")}
    # an unseen group keeps the requested group and borrows element sets from the whole table
    out = choose_conditions(5, table, [62], None, 3, rng)
    assert {c[0] for c in out} == {62}
    # only elements: space groups of materials with those elements
    out = choose_conditions(6, table, None, [["O", "Ti", "Sr"]], 3, rng)
    assert out == [(221, ("Sr", "Ti", "O"))] * 6


def test_element_sets_are_ordered_and_validated() -> None:
    assert order_species(["O", "Ti", "Ba"], 3) == ("Ba", "Ti", "O")  # by electronegativity
    with pytest.raises(ValueError, match="unknown element symbol 'Xx'"):
        order_species(["Ba", "Xx", "O"], 3)
    with pytest.raises(ValueError, match="1..3 elements"):
        order_species(["Ba", "Ti", "O", "N"], 3)
    with pytest.raises(ValueError, match="distinct"):
        order_species(["O", "O", "Ti"], 3)
    with pytest.raises(ValueError, match="1..230"):
        choose_conditions(1, None, [231], [["Na", "Cl"]], 3, np.random.default_rng(0))

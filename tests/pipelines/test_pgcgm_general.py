"""General PGCGM (any element count, up to K_max base sites, Wyckoff multiplicities in the conditions):
train a tiny model on a small base-site table, generate for user-given element sets and space groups."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _pgcgm_data import base_site_table
from pymatgen.core import Composition
from typer.testing import CliRunner

from xtalgen.cli.main import app
from xtalgen.configs import bundled_config
from xtalgen.pipelines.generation import GenerationRequest, generate
from xtalgen.pipelines.pgcgm.sample import load_pgcgm_generator
from xtalgen.pipelines.pgcgm.templates import choose_site_conditions, read_templates
from xtalgen.pipelines.pgcgm.train import train_pgcgm
from xtalgen.representations.basesites.table import read_base_site_table

TINY = bundled_config("pgcgm_general_tiny")
KNOWN = ["mp-5229", "mp-22862", "mp-2534", "mp-1143", "mp-390"]  # SrTiO3, NaCl, GaAs, Al2O3, TiO2


@pytest.fixture(scope="module")
def table(mp_frame, tmp_path_factory) -> Path:
    """Base-site table of ~170 small MP materials: the first 120 with <= 12 sites, 40 quaternaries, KNOWN."""
    small = mp_frame[mp_frame["nsites"] <= 12]
    n_el = small["elements"].str.count("'") // 2
    rows = pd.concat([small.head(120), small[n_el == 4].head(40), mp_frame[mp_frame["material_id"].isin(KNOWN)]])
    return base_site_table(rows, tmp_path_factory.mktemp("general") / "table.parquet")


@pytest.fixture(scope="module")
def run(table, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("general_run")
    torch.set_num_threads(1)
    train_pgcgm(table, TINY, out, overrides=["max_steps=6", "checkpoint_every=6"])
    return out


def test_table_round_trip(table) -> None:
    bases = read_base_site_table(table)
    sto = next(b for b in bases if b.id == "mp-5229")
    assert sto.spacegroup == 221 and sorted(sto.multiplicities.tolist()) == [1, 1, 3]
    assert sto.conventional_structure().composition.reduced_formula == "SrTiO3"


def test_training_writes_templates_and_a_general_model(run) -> None:
    gen, cfg, _ = load_pgcgm_generator(run)
    assert cfg.model.wyckoff_features and gen.cond.site_dim == 3 and gen.n_sites == cfg.model.n_sites
    frame = pd.read_csv(run / "conditions.csv")
    assert {"spacegroup", "elements", "multiplicities", "count"} <= set(frame.columns)
    # the same element on several base sites is kept (e.g. Al2O3's or quaternaries' oxygens)
    assert any(len(set(e.split())) < len(e.split()) for e in frame["elements"])
    assert not (run / "train_arrays.npz").exists()  # a table re-augments identically; nothing cached


def test_srtio3_in_221_is_the_perovskite_template(run) -> None:
    templates = read_templates(run)
    conds = choose_site_conditions(20, templates, spacegroup=[221], elements=[["O", "Ti", "Sr"]],
                                   rng=np.random.default_rng(0))  # fmt: skip
    for sg, species, mults in conds:
        counts: dict[str, int] = {}
        for el, m in zip(species, mults, strict=True):
            counts[el] = counts.get(el, 0) + m
        assert sg == 221 and counts == {"Sr": 1, "Ti": 1, "O": 3}  # SrTiO3, not SrTiO12


@pytest.mark.parametrize("elements,spacegroup", [("Na,Cl", None), ("Sr,Ti,O", "221"), ("Li,Mn,P,O", None),
                                                 ("Ga,As", "216")])  # fmt: skip
def test_generate_cli_for_user_element_sets(run, tmp_path, elements, spacegroup) -> None:
    args = ["generate", "--model", "pgcgm", "--checkpoint", str(run), "-n", "3", "--elements", elements,
            "--workers", "1", "-o", str(tmp_path), "--set", "count=candidates", "--set", "max_atoms=40"]
    args += ["--spacegroup", spacegroup] if spacegroup else []
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "summary.csv")
    assert len(frame) == 3
    wanted = set(elements.split(","))
    for els, mults in zip(frame["cond_elements"], frame["cond_multiplicities"], strict=True):
        assert set(els.split()) == wanted and sum(int(m) for m in str(mults).split()) <= 40
    if spacegroup:
        assert set(frame["cond_spacegroup"]) == {int(spacegroup)}
    record = json.loads((tmp_path / "generation.json").read_text())
    assert {"n_spacegroups", "n_templates", "top_spacegroup_share"} <= set(record["diversity"])
    assert "diversity:" in result.output


def test_impossible_requests_fail_clearly(run, tmp_path) -> None:
    request = GenerationRequest(2, workers=1, spacegroup=(221,), elements=(("Li", "Mn", "P", "O", "F"),),
                                checkpoint=run, progress=False)  # fmt: skip
    with pytest.raises(ValueError, match=r"Li,Mn,P,O,F: no training template with 5 elements fits space group 221"):
        generate("pgcgm", request, tmp_path, {"count": "candidates"})
    request = GenerationRequest(2, workers=1, elements=(("Na", "Cl"),), checkpoint=run, progress=False)
    with pytest.raises(ValueError, match="at most 1 atoms per cell"):
        generate("pgcgm", request, tmp_path, {"count": "candidates", "max_atoms": 1})


def test_unconditioned_and_balanced_draws_follow_the_templates(run) -> None:
    templates = read_templates(run)
    rng = np.random.default_rng(1)
    plain = choose_site_conditions(400, templates, rng=rng)
    balanced = choose_site_conditions(400, templates, balanced=True, rng=rng)
    known = {(t.spacegroup, t.multiplicities) for t in templates}
    assert all((sg, m) in known for sg, _, m in plain + balanced)
    top = max(pd.Series([c[0] for c in plain]).value_counts(normalize=True))
    top_balanced = max(pd.Series([c[0] for c in balanced]).value_counts(normalize=True))
    assert top_balanced < top


def _condition_composition(elements: str, multiplicities: str) -> Composition:
    """The condition's composition counted here by hand: each site's element × its multiplicity."""
    counts: dict[str, int] = {}
    for el, m in zip(elements.split(), str(multiplicities).split(), strict=True):
        counts[el] = counts.get(el, 0) + int(m)
    return Composition(counts).reduced_composition


def test_condition_formula_keeps_only_the_templates_compositions(run, tmp_path) -> None:
    # loose filters so the untrained model's drifted compositions reach the end; candidates mode: same draws
    opts = {"count": "candidates", "max_atoms": 40, "distance_factor": 0.3, "dedupe": False, "max_formula_atoms": 0,
            "max_primitive_sites": 0}  # fmt: skip
    frames = {}
    for on in (False, True):
        request = GenerationRequest(40, workers=1, checkpoint=run, progress=False)
        result = generate("pgcgm", request, tmp_path / str(on), {**opts, "condition_formula": on})
        assert result.record["condition_formula"] is on
        frames[on] = pd.read_csv(tmp_path / str(on) / "summary.csv")
    off, on = frames[False], frames[True]
    same = [Composition(f).reduced_composition == _condition_composition(e, m)
            for f, e, m in zip(off["formula"], off["cond_elements"], off["cond_multiplicities"], strict=True)]
    assert off["accepted"].sum() > 0 and not all(s for s, a in zip(same, off["accepted"], strict=True) if a)
    assert "filter_condition_formula" not in off.columns
    accepted = on[on["accepted"]]
    assert len(accepted) > 0
    for f, e, m in zip(accepted["formula"], accepted["cond_elements"], accepted["cond_multiplicities"], strict=True):
        assert Composition(f).reduced_composition == _condition_composition(e, m), (f, e, m)
    assert set(accepted["id"]) == {i for i, a, s in zip(off["id"], off["accepted"], same, strict=True) if a and s}
    rejected = on[on["reason"] == "formula differs from the condition"]
    assert len(rejected) > 0 and (rejected["filter_condition_formula"] == False).all()  # noqa: E712
    assert accepted["filter_condition_formula"].all()

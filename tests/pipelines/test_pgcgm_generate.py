"""PGCGM generation from a tiny trained model: CIFs read back with the stated space group; conditions."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Structure
from pymatgen.io.cif import CifParser
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from xtalgen.pipelines.pgcgm.conditions import CONDITIONS_FILE, choose_conditions, order_species
from xtalgen.pipelines.pgcgm.sample import generate_pgcgm, load_pgcgm_generator, sample_base_sites
from xtalgen.postprocess.candidates import postprocess_candidates
from xtalgen.representations.basesites.expand import RawBaseSites, expand_raw, expand_raw_arrays

SUMMARY_COLUMNS = {
    "id", "accepted", "reason", "formula", "cond_spacegroup", "cond_elements", "found_spacegroup",
    "atoms_before_merge", "atoms_after_merge", "filter_min_distance", "filter_spacegroup", "filter_unique",
}  # fmt: skip


@pytest.fixture(scope="module")
def run(pgcgm_tiny_run) -> Path:
    """The session's tiny PGCGM trained for 120 steps (tests/pipelines/conftest.py)."""
    return pgcgm_tiny_run


def _cif_spacegroup(text: str) -> int:
    for line in text.splitlines():
        if line.startswith("_symmetry_Int_Tables_number"):
            return int(line.split()[1])
    raise AssertionError("no space group number in CIF")


def test_user_conditions_give_cifs_with_confirmed_space_groups(run, tmp_path) -> None:
    groups, sets = [2, 10, 47], [["Ba", "Ti", "O"], ["Cl", "Na", "Mg"]]
    # the paper's contact bound: this tiny test model puts few candidates above the 0.73 default
    summary = generate_pgcgm(24, tmp_path, checkpoint=run, spacegroup=groups, elements=sets, workers=1,
                             progress=False, count="candidates", distance_factor=0.5)  # fmt: skip
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
    summary = generate_pgcgm(12, tmp_path, checkpoint=run / "checkpoints", seed=3, workers=1, progress=False,
                             count="candidates")  # fmt: skip
    frame = pd.read_csv(summary)
    drawn = set(zip(frame["cond_spacegroup"], frame["cond_elements"], strict=True))
    assert drawn <= table and len(drawn) > 1
    # same seed, same candidates
    again = pd.read_csv(generate_pgcgm(12, tmp_path / "again", checkpoint=run, seed=3, workers=1, progress=False,
                                       count="candidates"))  # fmt: skip
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


def test_array_expansion_gives_the_same_candidates_as_structure_expansion(run) -> None:
    # generated base sites in groups with centring (F, I, C, R on hexagonal axes) and hexagonal axes
    conds = [(221, ("Ba", "Ti", "O")), (194, ("Na", "Mg", "Cl")), (225, ("K", "Na", "Cl")),
             (166, ("Sr", "Ti", "O")), (139, ("Ba", "Ti", "O")), (12, ("Na", "Mg", "Cl")),
             (227, ("Mg", "Al", "O")), (62, ("Ca", "Ti", "O"))] * 2  # fmt: skip
    generator, _, _ = load_pgcgm_generator(run)
    coords, lattices = sample_base_sites(generator, conds, seed=5)
    raws = [RawBaseSites(list(els), coords[i, 0].astype(np.float64), lattices[i].astype(np.float64), sg)
            for i, (sg, els) in enumerate(conds)]  # fmt: skip
    # plus two real crystals (accepted by both paths): SrTiO3 and spinel MgAl2O4 (origin choice 1)
    raws += [RawBaseSites(["Sr", "Ti", "O"], np.array([[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]], float),
                          np.array([3.905, 3.905, 3.905, 90, 90, 90.0]), 221),
             RawBaseSites(["Mg", "Al", "O"], np.array([[0.25] * 3, [0.625] * 3, [0.3874] * 3]),
                          np.array([8.08, 8.08, 8.08, 90, 90, 90.0]), 227)]  # fmt: skip
    kw = dict(spacegroups=[c[0] for c in conds] + [221, 227], workers=1, progress=False)
    slow = postprocess_candidates(raws, expand=expand_raw, **kw)
    fast = postprocess_candidates(raws, expand=expand_raw_arrays, **kw)
    assert [r.n_atoms_after for r in slow[-2:] if r.accepted] == [5, 56]
    assert sum(r.n_atoms_before > 10 for r in slow) >= 4
    for a, b in zip(slow, fast, strict=True):
        assert (a.accepted, a.reason, a.spacegroup, a.formula) == (b.accepted, b.reason, b.spacegroup, b.formula)
        assert (a.n_atoms_before, a.n_atoms_after, a.detail) == (b.n_atoms_before, b.n_atoms_after, b.detail)
        assert np.array_equal(a.structure.lattice.matrix, b.structure.lattice.matrix)
        assert [s.specie.symbol for s in a.structure] == [s.specie.symbol for s in b.structure]
        assert np.array_equal(a.structure.frac_coords, b.structure.frac_coords)


def test_snapping_records_its_moves_and_never_adds_atoms(run, tmp_path) -> None:
    kw = dict(checkpoint=run, spacegroup=[221, 225, 194], elements=[["Ba", "Ti", "O"]], seed=2, workers=1,
              progress=False, dedupe=False, count="candidates", rescale_volume=False)  # fmt: skip
    plain = pd.read_csv(generate_pgcgm(18, tmp_path / "plain", snap=False, **kw))
    snapped = pd.read_csv(generate_pgcgm(18, tmp_path / "snapped", **kw))
    assert "sites_snapped" not in plain.columns
    assert (snapped["sites_snapped"] > 0).sum() >= 3, snapped["sites_snapped"].tolist()
    # a snapped site's orbit is never larger than its cloud of images; the move stays below the
    # threshold (one atomic radius: Ba 2.15 Å is the largest here)
    assert (snapped["atoms_before_merge"] <= plain["atoms_before_merge"]).all()
    assert (snapped["atoms_before_merge"] < plain["atoms_before_merge"]).any()
    assert (snapped["snap_max_move"] < 2.15).all()
    assert ((snapped["sites_snapped"] == 0) == (snapped["snap_max_move"] == 0)).all()
    # the distance filter's per-kind ratios explain each verdict (PGCGM's default contact bound)
    from xtalgen.pipelines.pgcgm.options import DEFAULT_PGCGM_DISTANCE_FACTOR

    worst = snapped[["min_ratio_same_element", "min_ratio_other_elements"]].min(axis=1)
    assert ((worst < DEFAULT_PGCGM_DISTANCE_FACTOR) == (snapped["reason"] == "atoms too close")).all()


def test_count_accepted_draws_until_n_pass_and_lists_rejects_apart(run, tmp_path) -> None:
    # conditions drawn from the training table; the paper's contact bound, so the tiny model passes some
    kw = dict(checkpoint=run, seed=4, workers=1, progress=False, distance_factor=0.5)
    raw = pd.read_csv(generate_pgcgm(12, tmp_path / "raw", count="candidates", **kw))
    assert raw["accepted"].sum() < 12, "the tiny model must reject some candidates for this test to mean much"
    out = tmp_path / "acc"
    frame = pd.read_csv(generate_pgcgm(12, out, **kw))  # count="accepted" is the default
    rejected = pd.read_csv(out / "rejected.csv")
    assert len(frame) == 12 and frame["accepted"].all(), rejected["reason"].value_counts().to_dict()
    assert len(list((out / "cifs").glob("*.cif"))) == 12
    assert not rejected["accepted"].any() and (rejected["reason"] != "").all()
    drawn = sorted(frame["id"].tolist() + rejected["id"].tolist())
    assert drawn == [f"pgcgm_{i:06d}" for i in range(len(drawn))]  # a prefix of the candidate stream
    assert drawn[-1] == frame["id"].max()  # ... ending at the 12th accepted one
    # the first round is the count="candidates" run
    first = set(raw.loc[raw["accepted"], "id"])
    assert first <= set(frame["id"])
    meta = json.loads((out / "generation.json").read_text())
    assert (meta["n_candidates"], meta["n_accepted"], meta["count"]) == (len(drawn), 12, "accepted")
    # no duplicates across rounds
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from xtalgen.postprocess.dedupe import DEFAULT_MATCHER

    structures = [Structure.from_file(out / c) for c in frame["cif"]]
    matcher = StructureMatcher(**DEFAULT_MATCHER)
    groups = matcher.group_structures(structures)
    assert len(groups) == 12
    # a run into the same folder in the other mode removes the stale rejected.csv
    generate_pgcgm(3, out, count="candidates", **kw)
    assert not (out / "rejected.csv").exists()


def test_count_and_cap_are_checked(run, tmp_path) -> None:
    with pytest.raises(ValueError, match="count: must be"):
        generate_pgcgm(2, tmp_path, checkpoint=run, count="all", progress=False)
    with pytest.raises(ValueError, match="max_candidates: must be >= n"):
        generate_pgcgm(5, tmp_path, checkpoint=run, count="accepted", max_candidates=3, progress=False)


def test_rescale_volume_records_factor_and_sets_predicted_volume(run, tmp_path) -> None:
    from xtalgen.postprocess.volume import ElementVolumes

    table = ElementVolumes.default()
    kw = dict(checkpoint=run, spacegroup=[221, 225], elements=[["Ba", "Ti", "O"]], seed=1, workers=1,
              progress=False, dedupe=False, count="candidates")  # fmt: skip
    out = tmp_path / "vol"
    frame = pd.read_csv(generate_pgcgm(10, out, **kw))  # rescale_volume=True is the default
    assert frame["volume_scale"].notna().all()
    for row in frame[frame["accepted"]].itertuples():
        s = Structure.from_file(out / row.cif)
        assert s.volume == pytest.approx(table.predict([x.specie.symbol for x in s]), rel=1e-3)


def test_default_formula_size_limit_and_its_switch(run, tmp_path) -> None:
    from pymatgen.core import Composition

    from xtalgen.pipelines.pgcgm.options import DEFAULT_MAX_FORMULA_ATOMS

    kw = dict(checkpoint=run, seed=6, workers=1, progress=False, count="candidates", dedupe=False,
              distance_factor=0.5)
    limited = pd.read_csv(generate_pgcgm(30, tmp_path / "lim", max_formula_atoms=3, **kw))
    free = pd.read_csv(generate_pgcgm(30, tmp_path / "free", max_formula_atoms=None, **kw))
    size = free["formula"].map(lambda f: Composition(f).num_atoms if isinstance(f, str) else 0.0)
    big = free["accepted"] & (size > 3)
    assert big.any(), "need some accepted formulas above 3 atoms for this test"
    assert not limited.loc[big, "accepted"].any() and (limited.loc[big, "reason"] == "formula too large").all()
    assert (limited.loc[~big, "accepted"] == free.loc[~big, "accepted"]).all()  # nothing else changes
    assert "filter_formula_size" not in free.columns or free["filter_formula_size"].isna().all()
    meta = json.loads((tmp_path / "lim" / "generation.json").read_text())
    assert meta["max_formula_atoms"] == 3 and DEFAULT_MAX_FORMULA_ATOMS == 10


def test_default_contact_bound_and_cell_limit_and_their_switches(run, tmp_path) -> None:
    from xtalgen.pipelines.pgcgm.options import DEFAULT_MAX_PRIMITIVE_SITES, DEFAULT_PGCGM_DISTANCE_FACTOR

    kw = dict(checkpoint=run, seed=6, workers=1, progress=False, count="candidates", dedupe=False)
    strict = pd.read_csv(generate_pgcgm(30, tmp_path / "strict", **kw))  # defaults: 0.73, 20 sites
    # the full path measures the contacts of every candidate (the fast path skips them for early rejects)
    full = pd.read_csv(generate_pgcgm(30, tmp_path / "full", fast_postprocess=False, **kw))
    assert full[["accepted", "reason"]].equals(strict[["accepted", "reason"]])
    strict = full
    loose = pd.read_csv(generate_pgcgm(30, tmp_path / "loose", distance_factor=0.5, max_primitive_sites=None, **kw))
    ratio = strict[["min_ratio_same_element", "min_ratio_other_elements"]].min(axis=1)
    short = loose["accepted"] & (ratio < DEFAULT_PGCGM_DISTANCE_FACTOR)
    assert short.any(), "need accepted candidates with contacts in [0.5, 0.73) for this test"
    assert not strict.loc[short, "accepted"].any() and (strict.loc[short, "reason"] == "atoms too close").all()
    assert (strict.loc[strict["accepted"], "primitive_sites"] <= DEFAULT_MAX_PRIMITIVE_SITES).all()
    assert strict["accepted"].sum() <= loose["accepted"].sum()
    meta = json.loads((tmp_path / "strict" / "generation.json").read_text())
    assert meta["distance_factor"] == 0.73 and meta["max_primitive_sites"] == 20
    one = pd.read_csv(generate_pgcgm(30, tmp_path / "one", distance_factor=0.5, max_primitive_sites=1, **kw))
    assert not one["accepted"].any() and (one["reason"] != "").all()
    with pytest.raises(ValueError, match="distance_factor"):
        generate_pgcgm(2, tmp_path / "bad", checkpoint=run, distance_factor=0.0, progress=False)
    with pytest.raises(ValueError, match="max_primitive_sites"):
        generate_pgcgm(2, tmp_path / "bad", checkpoint=run, max_primitive_sites=-1, progress=False)


def test_push_apart_switch_repairs_within_its_bound_and_off_changes_nothing(run, tmp_path) -> None:
    kw = dict(checkpoint=run, seed=6, workers=1, progress=False, count="candidates", dedupe=False)
    off = pd.read_csv(generate_pgcgm(40, tmp_path / "off", push_apart=False, **kw))
    on = pd.read_csv(generate_pgcgm(40, tmp_path / "on", push_apart=True, push_apart_max_move=0.4, **kw))
    assert "push_apart_max_move" not in off.columns
    assert "push_apart" not in json.loads((tmp_path / "off" / "generation.json").read_text())
    assert json.loads((tmp_path / "on" / "generation.json").read_text())["push_apart_max_move"] == 0.4
    moved = on["push_apart_max_move"]
    assert (moved.dropna() <= 0.4).all()
    # a candidate with nothing to repair is left as it was; a repaired one passes the contact bound
    same = moved == 0
    assert (on.loc[same, ["accepted", "reason"]].values == off.loc[same, ["accepted", "reason"]].values).all()
    assert (off["accepted"] <= on["accepted"]).all()
    repaired = on[moved > 0]
    assert len(repaired) and (repaired["reason"] != "atoms too close").all()
    assert (on.loc[moved.isna() & (off["reason"] == "atoms too close"), "reason"] == "atoms too close").all()
    with pytest.raises(ValueError, match="push_apart_max_move"):
        generate_pgcgm(2, tmp_path / "bad", checkpoint=run, push_apart_max_move=0.0, progress=False)


def test_chunk_size_follows_the_acceptance_rate() -> None:
    from types import SimpleNamespace

    from xtalgen.pipelines.pgcgm import sample

    opts = SimpleNamespace(count="accepted")
    made = [SimpleNamespace(accepted=i % 4 == 0) for i in range(400)]  # 100 of 400 accepted
    assert sample._chunk_size([], 300, opts) == sample.POSTPROCESS_CHUNK  # no rate yet
    assert sample._chunk_size(made, 300, SimpleNamespace(count="candidates")) == sample.POSTPROCESS_CHUNK
    assert sample._chunk_size(made, 300, opts) == sample.POSTPROCESS_CHUNK  # 200 more need ~960
    assert sample._chunk_size(made, 120, opts) == 96  # 20 more at 1 in 4, with 20 % to spare
    assert sample._chunk_size(made, 101, opts) == sample.MIN_POSTPROCESS_CHUNK


def test_dedupe_overlapped_with_the_pool_gives_the_serial_output(run, tmp_path, monkeypatch) -> None:
    from xtalgen.pipelines.pgcgm import sample

    kw = dict(checkpoint=run, seed=4, progress=False, distance_factor=0.5)
    generate_pgcgm(12, tmp_path / "a", workers=1, **kw)
    monkeypatch.setattr(sample, "POSTPROCESS_CHUNK", 5)
    monkeypatch.setattr(sample, "MIN_POSTPROCESS_CHUNK", 5)
    finished = []
    real = sample._finish_chunk

    def spy(results, start, request, opts, known, pool):
        finished.append((start, pool is None))
        return real(results, start, request, opts, known, pool)

    monkeypatch.setattr(sample, "_finish_chunk", spy)
    generate_pgcgm(12, tmp_path / "b", workers=2, **kw)
    assert (0, True) in finished and any(not here for _, here in finished)  # overlapped, and at the end not
    assert [s for s, _ in finished] == sorted({s for s, _ in finished})  # every chunk once, in order
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert any(f.suffix == ".cif" for f in files)
    for f in files:
        if f.name != "generation.json":
            assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_chunking_does_not_change_the_output(run, tmp_path, monkeypatch) -> None:
    from xtalgen.pipelines.pgcgm import sample

    kw = dict(checkpoint=run, seed=4, workers=1, progress=False, distance_factor=0.5)
    generate_pgcgm(12, tmp_path / "a", **kw)
    monkeypatch.setattr(sample, "POSTPROCESS_CHUNK", 5)
    monkeypatch.setattr(sample, "MIN_POSTPROCESS_CHUNK", 1)
    generate_pgcgm(12, tmp_path / "b", **kw)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert any(f.suffix == ".cif" for f in files)
    for f in files:
        if f.name != "generation.json":
            assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f

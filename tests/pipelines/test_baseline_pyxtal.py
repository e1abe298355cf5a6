from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition, Structure

from xtalgen.pipelines.pyxtal import sample as baseline_pyxtal
from xtalgen.pipelines.pyxtal.sample import generate_pyxtal_random


@pytest.fixture(scope="module")
def train_csv(mp_slice_csv, tmp_path_factory):
    """40 training rows of the MP slice (≤ 12 sites, so PyXtal is quick)."""
    frame = pd.read_csv(mp_slice_csv)
    frame = frame[(frame["split"] == "train") & (frame["nsites"] <= 12)].head(40)
    path = tmp_path_factory.mktemp("train") / "train.csv"
    frame.to_csv(path, index=False)
    return path, frame


def _read(summary):
    table = pd.read_csv(summary, dtype={"id": str})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        structures = [Structure.from_file(summary.parent / c) if isinstance(c, str) else None for c in table["cif"]]
    return table, structures


def test_draws_real_pairs_and_training_volumes(train_csv, tmp_path):
    path, frame = train_csv
    summary = generate_pyxtal_random(6, tmp_path / "out", train=path, seed=1, workers=1, progress=False)
    table, structures = _read(summary)
    assert len(table) == 6 and table["accepted"].all()
    rows = frame.set_index("material_id")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = {
            mid: Structure.from_str(c, fmt="cif") for mid, c in zip(frame["material_id"], frame["cif"], strict=True)
        }
    for (_, row), s in zip(table.iterrows(), structures, strict=True):
        src = rows.loc[row["source_id"]]
        # composition (reduced) and target space group come from the same training material
        assert Composition(row["formula"]).reduced_formula == Composition(src["pretty_formula"]).reduced_formula
        assert row["target_spacegroup"] == src["spacegroup.number"]
        # volume per atom equals that of a training polymorph with the same formula
        same = [p for p in parsed.values() if p.composition.reduced_formula == s.composition.reduced_formula]
        vpa = s.volume / len(s)
        assert min(abs(vpa - p.volume / len(p)) for p in same) < 1e-3


def test_deterministic_for_a_seed_and_independent_of_workers(train_csv, tmp_path):
    path, _ = train_csv
    one = generate_pyxtal_random(4, tmp_path / "a", train=path, seed=3, workers=1, progress=False)
    two = generate_pyxtal_random(4, tmp_path / "b", train=path, seed=3, workers=2, progress=False)
    (ta, sa), (tb, sb) = _read(one), _read(two)
    assert list(ta["source_id"]) == list(tb["source_id"])
    for x, y in zip(sa, sb, strict=True):
        np.testing.assert_allclose(x.lattice.abc, y.lattice.abc, rtol=1e-6)


def test_failed_draws_are_counted_and_retried(train_csv, tmp_path, monkeypatch):
    path, _ = train_csv
    real = baseline_pyxtal._pyxtal_job
    calls = {"n": 0}

    def flaky(task):
        calls["n"] += 1
        if calls["n"] <= 2:
            return {"error": "Comp_CompatibilityError: composition not compatible"}
        return real(task)

    monkeypatch.setattr(baseline_pyxtal, "_pyxtal_job", flaky)
    summary = generate_pyxtal_random(1, tmp_path / "c", train=path, seed=0, workers=1, progress=False)
    table = pd.read_csv(summary)
    assert table["accepted"].all() and table["failed_draws"].iloc[0] == 2


def test_bad_arguments(train_csv, tmp_path):
    with pytest.raises(ValueError, match="volume"):
        generate_pyxtal_random(1, tmp_path, train=train_csv[0], volume="magic")
    with pytest.raises(ValueError, match="n: must be"):
        generate_pyxtal_random(0, tmp_path, train=train_csv[0])


def test_paired_conditions_give_exactly_each_space_group_composition_and_volume(tmp_path):
    from xtalgen.pipelines.pyxtal.conditions import conditions_from_structures, conventional_counts

    rows = pd.DataFrame({"id": ["nacl", "sto"], "spacegroup": [225, 221], "composition": ["Na4Cl4", "Sr1Ti1O3"],
                         "volume_per_atom": [22.0, 12.0]})  # fmt: skip
    rows.to_csv(tmp_path / "cond.csv", index=False)
    summary = generate_pyxtal_random(2, tmp_path / "out", train=None, seed=0, workers=1,
                                     conditions=tmp_path / "cond.csv", progress=False)  # fmt: skip
    table, structures = _read(summary)
    assert table["accepted"].all() and list(table["source_id"]) == ["nacl", "sto"]
    for row, s in zip(rows.itertuples(), structures, strict=True):
        sg, species, counts = conventional_counts(s, 0.1)
        assert Composition(dict(zip(species, counts, strict=True))) == Composition(row.composition)
        assert sg == row.spacegroup and s.volume / len(s) == pytest.approx(row.volume_per_atom)
    # the builder writes back the same conditions from the generated structures
    back = conditions_from_structures(list(table["source_id"]), structures)
    assert list(back["spacegroup"]) == [225, 221]
    assert [Composition(c) for c in back["composition"]] == [Composition(c) for c in rows["composition"]]


@pytest.mark.parametrize(("text", "message"), [
    ("spacegroup,composition\n231,Na4Cl4\n", "row 1: spacegroup must be an integer 1..230"),
    ("spacegroup,composition\n225,Na0.5Cl\n", "row 1: composition 'Na0.5Cl' needs whole atom counts"),
    ("spacegroup\n225\n", "missing column"),
])  # fmt: skip
def test_bad_conditions_file_stops_naming_the_row(tmp_path, text, message):
    from xtalgen.pipelines.families import GenerationRequest
    from xtalgen.pipelines.pyxtal.sample import PyXtalOptions, check_pyxtal

    (tmp_path / "c.csv").write_text(text)
    with pytest.raises(ValueError, match=message):
        check_pyxtal(GenerationRequest(1), PyXtalOptions(conditions=str(tmp_path / "c.csv")))


def test_conditions_need_a_row_per_sample(tmp_path):
    from xtalgen.pipelines.families import GenerationRequest, get_family
    from xtalgen.pipelines.pyxtal.sample import check_pyxtal

    (tmp_path / "c.csv").write_text("spacegroup,composition\n225,Na4Cl4\n")
    opts = get_family("pyxtal-random").parse_options([f"conditions={tmp_path / 'c.csv'}"])  # typed --set
    check_pyxtal(GenerationRequest(1), opts)
    with pytest.raises(ValueError, match="1 rows for 2 samples"):
        check_pyxtal(GenerationRequest(2), opts)

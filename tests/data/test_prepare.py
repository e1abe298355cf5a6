"""Dataset preparation: counts add up, filters, splits, symmetry columns, atomic output, fast load."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from xtalgen.data.dataset import load_dataset
from xtalgen.data.prepare import PrepareFilters, assign_split, prepare_dataset
from xtalgen.data.records import StructureReadError


def test_mp_slice_counts_add_up_and_keep_splits(mp_slice_csv: Path, tmp_path: Path) -> None:
    source = pd.read_csv(mp_slice_csv)
    out = tmp_path / "mp.parquet"
    result = prepare_dataset(mp_slice_csv, out, filters=PrepareFilters(max_sites=20), workers=2)
    assert result.kept + result.report.rejected == len(source)
    assert result.kept == len(source)  # every entry of the slice is parseable and has ≤ 20 sites
    assert result.report_path.is_file()
    start = time.perf_counter()
    ds = load_dataset(out)
    assert time.perf_counter() - start < 5
    assert len(ds) == result.kept
    merged = ds.frame.merge(source, left_on="id", right_on="material_id")
    assert (merged["split_x"] == merged["split_y"]).all()
    assert (merged["spacegroup"] == merged["spacegroup.number"]).mean() > 0.97
    assert (merged["nsites_x"] == merged["nsites_y"]).all()
    i = ds.ids.index("mp-5229")  # SrTiO3 cubic perovskite
    row = ds.frame.iloc[i]
    assert row["spacegroup"] == 221 and row["formula"] == "SrTiO3" and row["n_base_sites"] == 3
    s = ds.structure(i)
    assert s.composition.reduced_formula == "SrTiO3"
    matrix, frac, numbers = ds.arrays(i)
    assert matrix.shape == (3, 3) and frac.shape == (5, 3) and sorted(numbers) == [8, 8, 8, 22, 38]
    wyckoff_by_element = {site.specie.symbol: w for site, w in zip(s, ds.wyckoffs(i), strict=True)}
    assert {wyckoff_by_element["Sr"], wyckoff_by_element["Ti"]} == {"a", "b"}
    assert wyckoff_by_element["O"] in {"c", "d"}
    assert sorted(ds.multiplicities(i)) == [1, 1, 3, 3, 3]
    assert len(set(ds.equivalent_atoms(i))) == 3
    test = ds.subset(split="test")
    assert set(test.frame["split"]) == {"test"} and len(test) == (ds.frame["split"] == "test").sum()
    assert test.structure(0).composition == ds.structure(ds.ids.index(test.ids[0])).composition


def test_filters_and_reasons(mp_slice_csv: Path, tmp_path: Path) -> None:
    filters = PrepareFilters(max_sites=20, n_elements=frozenset({3}), n_base_sites=frozenset({3}))
    result = prepare_dataset(mp_slice_csv, tmp_path / "tern.parquet", filters=filters, workers=1)
    ds = load_dataset(result.path)
    assert len(ds) > 0
    assert set(ds.frame["nelements"]) == {3} and set(ds.frame["n_base_sites"]) == {3}
    assert result.report.counts_by_reason() == {"filtered": result.report.rejected}
    assert result.kept + result.report.rejected == len(pd.read_csv(mp_slice_csv))
    sg = prepare_dataset(mp_slice_csv, tmp_path / "sg.parquet", filters=PrepareFilters(spacegroups=frozenset({225})))
    assert set(load_dataset(sg.path).frame["spacegroup"]) == {225}
    with pytest.raises(ValueError, match="1..230"):
        PrepareFilters(spacegroups=frozenset({0}))
    with pytest.raises(ValueError, match="unknown element"):
        PrepareFilters(elements=frozenset({"Qq"}))


def test_seeded_split_without_split_column(shared_datasets: Path, tmp_path: Path) -> None:
    source = tmp_path / "perov.csv"
    pd.read_csv(shared_datasets / "perov_5" / "val.csv.gz", nrows=200).to_csv(source, index=False)
    a = prepare_dataset(source, tmp_path / "a.parquet", split_seed=3)
    b = prepare_dataset(source, tmp_path / "b.parquet", split_seed=3)
    fa, fb = load_dataset(a.path).frame, load_dataset(b.path).frame
    assert (fa["split"] == fb["split"]).all()
    assert set(fa["split"]) == {"train", "val", "test"}
    assert 0.6 < (fa["split"] == "train").mean() < 0.95
    assert assign_split("x", 0, (1.0, 0.0, 0.0)) == "train"
    assert set(fa["nsites"]) == {5}


def test_strict_stops_with_entry_and_leaves_no_output(shared_datasets: Path, tmp_path: Path) -> None:
    out = tmp_path / "messy.parquet"
    with pytest.raises(StructureReadError):
        prepare_dataset(shared_datasets / "messy_cifs", out, on_error="raise", workers=1, timeout=5)
    assert not out.exists()
    assert not list(tmp_path.glob("*.tmp"))


def test_messy_folder_skip(shared_datasets: Path, tmp_path: Path) -> None:
    result = prepare_dataset(shared_datasets / "messy_cifs", tmp_path / "messy.parquet", workers=2, timeout=5)
    reasons = result.report.counts_by_reason()
    assert result.kept > 70
    assert {"unparseable", "partial occupancy", "degenerate cell"} <= set(reasons)
    rejected = pd.read_csv(result.report_path)
    assert len(rejected) == result.report.rejected
    assert "cif_bad_occu.cif" in set(rejected["id"])


def test_filtering_a_prepared_dataset_needs_no_reparse(mp_slice_csv: Path, tmp_path: Path) -> None:
    full = prepare_dataset(mp_slice_csv, tmp_path / "all.parquet", workers=1)
    ternary = prepare_dataset(
        full.path, tmp_path / "tern.parquet", filters=PrepareFilters(n_elements=frozenset({3}), max_sites=10)
    )
    direct = prepare_dataset(
        mp_slice_csv, tmp_path / "tern2.parquet", filters=PrepareFilters(n_elements=frozenset({3}), max_sites=10)
    )
    a, b = load_dataset(ternary.path), load_dataset(direct.path)
    assert a.ids == b.ids and len(a) > 0
    assert (a.frame["split"].to_numpy() == b.frame["split"].to_numpy()).all()
    assert a.structure(0) == b.structure(0)
    assert ternary.kept + ternary.report.rejected == full.kept
    assert ternary.report.counts_by_reason().keys() <= {"filtered", "too many sites"}
    with pytest.raises(ValueError, match="symprec"):
        prepare_dataset(full.path, tmp_path / "x.parquet", symprec=0.01)

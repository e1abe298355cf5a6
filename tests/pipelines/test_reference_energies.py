"""The reference-energy table computation: batched CHGNet, chunks, resume, failures, same numbers as on demand."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

import xtalgen.pipelines.reference_energies as ref_energies
from xtalgen.cli.main import app
from xtalgen.evaluation.reference_table import failures_path, load_reference_table, read_metadata
from xtalgen.pipelines.reference_energies import compute_reference_energies, parts_dir
from xtalgen.postprocess.batch_energies import batch_static_energies
from xtalgen.postprocess.relax import CHGNetEnergyModel, static_energy

N_GOOD = 10


@pytest.fixture(scope="module")
def small_mp(shared_datasets: Path) -> pd.DataFrame:
    """10 small MP structures (≤ 4 sites) from the head of the MP file, half train, half test."""
    head = pd.read_csv(shared_datasets / "mp" / "mp_structures.csv.gz", nrows=300)
    rows = head[head["nsites"] <= 4].head(N_GOOD).copy()
    rows["split"] = ["train", "test"] * (N_GOOD // 2)
    return rows[["material_id", "pretty_formula", "nsites", "split", "cif"]]


@pytest.fixture(scope="module")
def source_csv(small_mp: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 10 structures plus an unreadable entry and two that CHGNet cannot evaluate."""
    isolated = Structure(Lattice.cubic(30.0), ["Na"], [[0, 0, 0]])  # no neighbour within the 6 Å cutoff
    overlap = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [1e-9, 0, 0]])  # rejected when read
    bad = pd.DataFrame(
        {"material_id": ["bad-isolated", "bad-overlap", "bad-cif"], "pretty_formula": ["Na", "NaCl", "X"],
         "nsites": [1, 2, 0], "split": ["train", "train", "train"],
         "cif": [isolated.to(fmt="cif"), overlap.to(fmt="cif"), "data_x\n_this is not a cif"]}
    )  # fmt: skip
    path = tmp_path_factory.mktemp("energies") / "small.csv"
    pd.concat([small_mp, bad], ignore_index=True).to_csv(path, index=False)
    return path


def _structures(frame: pd.DataFrame) -> list[Structure]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [Structure.from_str(c, fmt="cif") for c in frame["cif"]]


def test_batched_energies_equal_the_single_structure_path(small_mp: pd.DataFrame) -> None:
    """The table's numbers are the ones stability.py uses for samples (static_energy), to float32 rounding."""
    structures = _structures(small_mp)
    batched = batch_static_energies(structures, batch_size=4)
    single = [static_energy(s)[0] for s in structures]
    assert all(err is None for _, err in batched)
    np.testing.assert_allclose([e for e, _ in batched], single, atol=2e-6)
    assert all(-15 < e < 0 for e in single)  # real cohesive energies, eV/atom


def test_interrupted_run_resumes_to_the_same_table(
    source_csv: Path, small_mp: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = compute_reference_energies(source_csv, tmp_path / "full.parquet", chunk=3, batch_size=2, progress=False)
    assert (full.n_rows, full.n_failed, full.n_chunks) == (N_GOOD, 3, 4)  # 11 readable entries in chunks of 3
    assert not parts_dir(full.path).exists()

    calls: list[int] = []
    real = ref_energies.batch_static_energies

    def stop_on_third_chunk(structures, **kwargs):
        calls.append(len(structures))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(structures, **kwargs)

    out = tmp_path / "resumed.parquet"
    monkeypatch.setattr(ref_energies, "batch_static_energies", stop_on_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        compute_reference_energies(source_csv, out, chunk=3, batch_size=2, progress=False)
    assert not out.exists()
    assert sorted(p.name for p in parts_dir(out).glob("chunk-*")) == ["chunk-00000.parquet", "chunk-00001.parquet"]
    with pytest.raises(ValueError, match="chunk differ"):
        compute_reference_energies(source_csv, out, chunk=4, progress=False)

    calls.clear()
    resumed = compute_reference_energies(source_csv, out, chunk=3, batch_size=2, progress=False)
    assert calls == [3, 2] and resumed.chunks_reused == 2  # only the two unfinished chunks are computed
    a, b = load_reference_table(full.path).frame, load_reference_table(out).frame
    pd.testing.assert_frame_equal(a, b)
    assert a["id"].tolist() == small_mp["material_id"].tolist()
    assert a["energy_per_atom"].dtype == np.float32 and a["nsites"].dtype == np.int16

    failures = pd.read_csv(failures_path(out)).set_index("id")["reason"]
    assert set(failures.index) == {"bad-isolated", "bad-overlap", "bad-cif"}
    assert "isolated atom" in failures["bad-isolated"] and "overlapping atoms" in failures["bad-overlap"]
    assert failures["bad-cif"].startswith("empty")  # a CIF block without atoms
    meta = read_metadata(out)
    assert meta["reference_tag"] == CHGNetEnergyModel().reference_tag == "chgnet-0.3.0-static"
    assert (meta["n_rows"], meta["n_failed"], meta["split"], meta["dataset"]) == (N_GOOD, 3, "all", "small.csv")
    assert len(meta["dataset_sha256"]) == 64 and meta["chgnet_version"] and meta["date"]
    with pytest.raises(ValueError, match="exists"):
        compute_reference_energies(source_csv, out, progress=False)


def test_table_matches_on_demand_reference_energies(source_csv: Path, small_mp: pd.DataFrame, tmp_path: Path) -> None:
    """The same structures through the on-demand path of stability (CHGNetEnergyModel.energies) agree."""
    result = compute_reference_energies(source_csv, tmp_path / "t.parquet", split="train", progress=False)
    table = load_reference_table(result.path).frame.set_index("id")
    train = small_mp[small_mp["split"] == "train"]
    assert table.index.tolist() == train["material_id"].tolist()
    on_demand = CHGNetEnergyModel().energies(
        list(zip(train["material_id"], train["cif"], strict=True)), cache_path=None, progress=False
    )
    for mid, rec in on_demand.items():
        assert table.loc[mid, "energy_per_atom"] == pytest.approx(rec["energy_per_atom"], abs=2e-6)
        assert table.loc[mid, "formula"].replace(" ", "") == rec["formula"].replace(" ", "")


def test_prepared_dataset_with_two_workers(small_mp: pd.DataFrame, tmp_path: Path, monkeypatch) -> None:
    """A prepared .parquet source (split column) on the worker-pool path gives the in-process numbers.

    Workers are forked here (spawned ones take ~20 s each to import torch on a busy 2-core machine).
    """
    from xtalgen.data.prepare import prepare_dataset

    monkeypatch.setattr(ref_energies, "START_METHOD", "fork")

    csv = tmp_path / "good.csv"
    small_mp.to_csv(csv, index=False)
    prepared = prepare_dataset(csv, tmp_path / "good.parquet", workers=1).path
    runner = CliRunner()
    out = tmp_path / "ref.parquet"
    res = runner.invoke(app, ["data", "energies", str(prepared), "-o", str(out), "--split", "test", "--chunk", "2",
                              "--workers", "2", "--quiet"])  # fmt: skip
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "5 entries, 0.00 MB (3 chunks, 0 from an earlier run" in text
    table = load_reference_table(out).frame
    test = small_mp[small_mp["split"] == "test"]
    assert table["id"].tolist() == test["material_id"].tolist()
    expected = [static_energy(s)[0] for s in _structures(test)]
    np.testing.assert_allclose(table["energy_per_atom"], expected, atol=2e-6)
    assert read_metadata(out)["split"] == "test"

"""``--potential`` of ``xtalgen evaluate``, ``relax`` and ``data energies``: early checks and the SevenNet path."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from xtalgen.cli.main import app


@pytest.fixture(scope="module")
def elements_csv(shared_datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two elemental MP structures: As (mp-10, 2 sites) and Si (mp-1001113, 4 sites)."""
    head = pd.read_csv(shared_datasets / "mp" / "mp_structures.csv.gz", nrows=400)
    rows = head[head["material_id"].isin(["mp-10", "mp-1001113"])].drop(columns="split")  # all "train"
    path = tmp_path_factory.mktemp("el") / "elements.csv"
    rows.to_csv(path, index=False)
    return path


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_potential_option_is_checked_before_any_work(elements_csv: Path, tmp_path: Path, monkeypatch) -> None:
    runner = CliRunner()
    base = ["evaluate", str(elements_csv), "-o", str(tmp_path / "rep"), "--quiet"]
    res = runner.invoke(app, [*base, "--stability", "--potential", "mace"])
    assert res.exit_code == 2 and "unknown potential 'mace'" in _flat(res.output)
    res = runner.invoke(app, [*base, "--potential", "chgnet,sevennet"])
    assert res.exit_code == 2 and "add --stability" in _flat(res.output)
    # sevennet has no shipped reference table: its hull references need --train
    res = runner.invoke(app, [*base, "--stability", "--potential", "chgnet,sevennet"])
    assert res.exit_code == 2 and "--potential sevennet" in _flat(res.output) and "--train" in _flat(res.output)
    res = runner.invoke(app, ["relax", str(elements_csv), "-o", str(tmp_path / "r"), "--potential", "chgnet,sevennet"])
    assert res.exit_code == 2 and "one potential" in _flat(res.output)
    assert not (tmp_path / "rep").exists() and not (tmp_path / "r").exists()

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "sevenn" else real(n, *a))
    for args in ([*base, "--stability", "--potential", "sevennet"],
                 ["relax", str(elements_csv), "-o", str(tmp_path / "r"), "--potential", "sevennet"],
                 ["data", "energies", str(elements_csv), "-o", str(tmp_path / "t.parquet"), "--potential", "sevennet"]):
        res = runner.invoke(app, args)  # fmt: skip
        assert res.exit_code == 2 and "pip install 'xtalgen[sevennet]'" in _flat(res.output), args


def test_sevennet_table_relax_and_two_potential_evaluation(elements_csv: Path, tmp_path: Path) -> None:
    pytest.importorskip("sevenn", reason="SevenNet extra not installed: pip install 'xtalgen[sevennet]'")
    runner = CliRunner()
    table = tmp_path / "sevennet.parquet"
    res = runner.invoke(app, ["data", "energies", str(elements_csv), "-o", str(table), "--potential", "sevennet",
                              "--quiet"])  # fmt: skip
    assert res.exit_code == 0, res.output
    from xtalgen.evaluation.reference_table import load_reference_table

    refs = load_reference_table(table)
    assert refs.reference_tag == "sevennet-7net-l3i5-static" and len(refs) == 2
    assert refs.meta["model"] == "SevenNet 7net-l3i5"

    res = runner.invoke(app, ["relax", str(elements_csv), "-o", str(tmp_path / "relaxed"), "--potential", "sevennet",
                              "--steps", "2", "--workers", "1", "--quiet"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / "relaxed" / "relax.jsonl").is_file() and "relaxed 2/2" in res.output

    # both potentials: CHGNet with its shipped table, SevenNet with references computed from --train (cached)
    cache = tmp_path / "cache"
    args = ["evaluate", str(elements_csv), "-o", str(tmp_path / "rep"), "--stability", "--potential",
            "chgnet,sevennet", "--train", str(elements_csv), "--steps", "2", "--workers", "1",
            "--cache-dir", str(cache), "--skip", "coverage", "--quiet"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "Potentials agree (chgnet vs sevennet): of 2 with an E_hull under each" in _flat(res.output)
    out = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    m = out["metrics"]
    assert m["stability.evaluated"] == 2 and m["stability_sevennet.evaluated"] == 2
    assert m["agreement.n_compared"] == 2
    assert m["agreement.metastable_all"] + m["agreement.metastable_only_chgnet"] \
        + m["agreement.metastable_only_sevennet"] + m["agreement.metastable_none"] == 2
    assert out["meta"]["stability_settings"]["potentials"] == ["chgnet", "sevennet"]
    assert list((cache / "references").glob("sevennet-7net-l3i5-static.jsonl"))
    per = pd.read_csv(tmp_path / "rep" / "per_sample.csv")
    # SevenNet's hull is made of the two samples themselves (--train): each is its own elemental reference, so
    # E_hull is a little below 0 (relaxing lowers the energy); CHGNet's shipped table holds more polymorphs
    assert per["e_hull_sevennet"].between(-0.1, 1e-6).all(), per["e_hull_sevennet"].tolist()
    assert per["e_hull"].notna().all()
    assert (per["e_hull_decomposition"] == per["formula"].str.replace(r"\d", "", regex=True) + " 1.00").all()
    assert per["relaxed_cif_sevennet"].str.startswith("relaxed_sevennet/").all()
    assert all((tmp_path / "rep" / p).is_file() for p in per["relaxed_cif_sevennet"])

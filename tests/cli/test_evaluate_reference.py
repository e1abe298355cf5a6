"""`xtalgen data energies` then `xtalgen evaluate --stability --reference-energies TABLE` without a training set."""

from __future__ import annotations

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
    rows = head[head["material_id"].isin(["mp-10", "mp-1001113"])]
    assert len(rows) == 2
    path = tmp_path_factory.mktemp("el") / "elements.csv"
    rows.to_csv(path, index=False)
    return path


def test_evaluate_uses_the_given_table(elements_csv: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    table = tmp_path / "refs.parquet"
    res = runner.invoke(app, ["data", "energies", str(elements_csv), "-o", str(table), "--quiet"])
    assert res.exit_code == 0, res.output
    args = ["evaluate", str(elements_csv), "-o", str(tmp_path / "rep"), "--stability", "--steps", "2",
            "--reference-energies", str(table), "--workers", "1", "--cache-dir", str(tmp_path / "c"),
            "--quiet"]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "rep" / "metrics.json").read_text())["metrics"]
    assert metrics["stability.references_from_table"] == 1.0 and metrics["stability.n_references"] == 2
    assert metrics["stability.evaluated"] == 2
    per_sample = pd.read_csv(tmp_path / "rep" / "per_sample.csv")
    # each sample is its own elemental reference: relaxing a DFT ground state lowers its CHGNet energy a little
    assert per_sample["e_hull"].between(-0.05, 1e-6).all(), per_sample["e_hull"].tolist()


def test_evaluate_reference_option_errors(elements_csv: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["evaluate", str(elements_csv), "-o", str(tmp_path / "rep"), "--stability", "--quiet"]
    res = runner.invoke(app, [*base, "--reference-energies", "train"])
    assert res.exit_code == 2 and "needs --train" in " ".join(res.output.split())
    res = runner.invoke(app, [*base, "--reference-energies", str(tmp_path / "missing.parquet")])
    assert res.exit_code == 2 and "not found" in " ".join(res.output.split())

"""`xtalgen evaluate`, `xtalgen relax` and `xtalgen export vasp` end to end on tiny inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from xtalgen.cli.main import app
from xtalgen.data.generation_folder import Candidate, write_generation

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mp_tiny.csv"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    from xtalgen.data.prepare import prepare_dataset

    out = tmp_path_factory.mktemp("ds") / "tiny.parquet"
    prepare_dataset(EXAMPLE, out, workers=1)
    return out


def test_evaluate_test_split_against_prepared_dataset(prepared, tmp_path):
    runner = CliRunner()
    ds = str(prepared)
    args = ["evaluate", ds, "--generated-split", "test", "--train", ds, "--test", ds, "-o", str(tmp_path / "rep"),
            "--workers", "1", "--cache-dir", str(tmp_path / "cache"), "--quiet"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "rep" / "metrics.json").read_text())["metrics"]
    n_test = int((pd.read_csv(EXAMPLE)["split"] == "test").sum())
    assert metrics["n_samples"] == n_test
    assert metrics["validity.structural"] == 1.0 and metrics["novelty"] == 1.0 and metrics["uniqueness"] == 1.0
    assert metrics["coverage.recall"] == 1.0 and metrics["coverage.precision"] == 1.0
    assert (tmp_path / "rep" / "report.html").is_file()
    assert "skipped CrysTens self-consistency: needs CrysTens generation output" in " ".join(result.output.split())


def test_evaluate_reports_a_missing_source_cleanly(tmp_path):
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "nope"), "-o", str(tmp_path / "r"), "--quiet"])
    assert result.exit_code == 2 and "not found" in result.output


def _generation(tmp_path: Path) -> Path:
    cands = [
        Candidate("c1", Structure(Lattice.cubic(4.3), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])),
        Candidate("c2", None, accepted=False, reason="decode failed"),
    ]
    write_generation(tmp_path / "gen", cands)
    return tmp_path / "gen"


def test_relax_then_export_vasp(tmp_path, monkeypatch):
    monkeypatch.delenv("PMG_VASP_PSP_DIR", raising=False)
    from pymatgen.core import SETTINGS

    monkeypatch.setitem(SETTINGS, "PMG_VASP_PSP_DIR", None)
    runner = CliRunner()
    gen = _generation(tmp_path)
    out = tmp_path / "relaxed"
    result = runner.invoke(app, ["relax", str(gen), "-o", str(out), "--steps", "3", "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "relaxed 1/2" in result.output
    table = pd.read_csv(out / "summary.csv")
    assert list(table["id"]) == ["c1", "c2"] and table["energy_per_atom"].iloc[0] < -2.0
    assert len((out / "relax.jsonl").read_text().splitlines()) == 1
    # re-running with --resume and the same settings reuses relax.jsonl without relaxing again
    from xtalgen.postprocess import relax as relax_module

    monkeypatch.setattr(relax_module, "relax_structure", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    again = runner.invoke(app, ["relax", str(gen), "-o", str(out), "--steps", "3", "--workers", "1", "--quiet",
                                "--resume"])  # fmt: skip
    assert again.exit_code == 0 and "relaxed 1/2" in again.output, again.output

    result = runner.invoke(app, ["export", "vasp", str(out), "-o", str(tmp_path / "vasp"), "--top", "1"])
    assert result.exit_code == 0, result.output
    assert "PMG_VASP_PSP_DIR" in result.output
    assert {p.name for p in (tmp_path / "vasp" / "c1").iterdir()} == {"POSCAR", "INCAR", "KPOINTS", "POTCAR.spec"}


def test_skip_option(tmp_path):
    runner = CliRunner()
    gen = _generation(tmp_path)
    bad = runner.invoke(app, ["evaluate", str(gen), "-o", str(tmp_path / "r"), "--skip", "magic"])
    assert bad.exit_code == 2 and "magic" in bad.output
    args = ["evaluate", str(gen), "-o", str(tmp_path / "r"), "--skip", "uniqueness", "--workers", "1", "--quiet",
            "--cache-dir", str(tmp_path / "c")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())["metrics"]
    assert "uniqueness" not in metrics and metrics["validity.structural"] == 0.5

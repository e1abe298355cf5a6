"""The shipped conditional CrysTens diffusion model: listed, and generates a requested formula offline."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pymatgen.core import Composition
from typer.testing import CliRunner

from xtalgen.cli.main import app
from xtalgen.pretrained import ENV_VAR, pretrained_info

NAME = "crystens-diffusion-mp20"


def test_listed_with_its_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    info = pretrained_info(NAME)
    assert info.kind == "crystens-diffusion" and info.steps == 3000 and info.size_bytes <= 10_000_000
    assert info.data["n_materials"] == 9998 and info.data["filters"]["size"] == 32
    result = CliRunner().invoke(app, ["models"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and NAME in result.output


def test_generates_the_requested_formula(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Offline, from the package alone: imputation (default with --formula) gives SrTiO3 stating 221."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    out = tmp_path / "gen"
    args = ["generate", "--pretrained", NAME, "--spacegroup", "221", "--formula", "SrTiO3", "-n", "10",
            "--steps", "5", "--workers", "1", "-o", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "summary.csv")
    assert len(frame) == 10 and frame["imputed"].all() and (frame["spacegroup_stated"] == 221).all()
    decoded = frame[frame["accepted"].astype(bool)]
    assert len(decoded) > 0 and decoded["formula"].map(lambda f: Composition(f).reduced_formula).eq("SrTiO3").all()

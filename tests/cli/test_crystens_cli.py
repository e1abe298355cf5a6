"""`xtalgen crystens encode` (prepared dataset and CSV) and `xtalgen crystens decode` to CIFs + diagnostics."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from xtalgen.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mp_tiny.csv"


def test_encode_prepared_dataset_then_decode(tmp_path: Path) -> None:
    runner = CliRunner()
    prepared = tmp_path / "tiny.parquet"
    result = runner.invoke(app, ["data", "prepare", str(EXAMPLE), "-o", str(prepared)])
    assert result.exit_code == 0, result.output
    arr = tmp_path / "tiny.npy"
    result = runner.invoke(app, ["crystens", "encode", str(prepared), "-o", str(arr), "--size", "32",
                                 "--split", "train", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "encoded" in result.output
    tensors = np.load(arr, mmap_mode="r")
    ids = (tmp_path / "tiny.ids.txt").read_text().split()
    with open(tmp_path / "tiny.skipped.csv") as fh:
        skipped = list(csv.DictReader(fh))
    assert tensors.shape == (len(ids), 4, 32, 32) and len(ids) > 5
    assert all(row["reason"] == "too many sites" for row in skipped)

    out = tmp_path / "decoded"
    result = runner.invoke(app, ["crystens", "decode", str(arr), "-o", str(out)])
    assert result.exit_code == 0, result.output
    with open(out / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == ids
    assert all(r["decoded"] == "True" and r["symmetry"] == "snapped" for r in rows)
    # the CIF states the space group the tensor stated (noise-free tensors: always consistent)
    assert all(r["spacegroup"] == r["spacegroup_stated"] for r in rows)
    assert all((out / r["cif"]).is_file() for r in rows)
    assert float(rows[0]["var_frac_coord"]) == 0.0


def test_encode_with_empty_gap_round_trips(tmp_path: Path) -> None:
    from xtalgen.representations.crystens import CrysTensConfig

    runner = CliRunner()
    arr = tmp_path / "gap.npy"
    result = runner.invoke(app, ["crystens", "encode", str(EXAMPLE), "-o", str(arr), "--size", "32",
                                 "--empty-gap", "0.5", "--workers", "1"])
    assert result.exit_code == 0, result.output
    cfg = CrysTensConfig.from_json(tmp_path / "gap.config.json")
    assert cfg.empty_gap == 0.5 and cfg.coordinate.out_lo == -0.5
    out = tmp_path / "decoded"
    result = runner.invoke(app, ["crystens", "decode", str(arr), "-o", str(out), "--limit", "5", "--workers", "1"])
    assert result.exit_code == 0, result.output
    with open(out / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5 and all(r["decoded"] == "True" and r["spacegroup"] == r["spacegroup_stated"] for r in rows)


def test_encode_csv_and_bad_options(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["crystens", "encode", str(EXAMPLE), "-o", str(tmp_path / "a.npy"), "--size", "48"])
    assert result.exit_code != 0 and "32 or 64" in result.output
    result = runner.invoke(app, ["crystens", "encode", str(EXAMPLE), "-o", str(tmp_path / "a.npy"),
                                 "--cell", "weird"])
    assert result.exit_code == 1 and "cell must be one of" in result.output
    result = runner.invoke(app, ["crystens", "encode", str(EXAMPLE), "-o", str(tmp_path / "a.npy"),
                                 "--empty-gap", "2.5"])
    assert result.exit_code == 1 and "empty gap" in result.output
    result = runner.invoke(app, ["crystens", "decode", str(tmp_path / "missing.npy"), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "not found" in result.output

"""`xtalgen data prepare` and `xtalgen data stats` on the bundled tiny example."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from xtalgen.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mp_tiny.csv"


def test_prepare_then_stats(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "tiny.parquet"
    result = runner.invoke(app, ["data", "prepare", str(EXAMPLE), "-o", str(out), "--max-sites", "10"])
    assert result.exit_code == 0, result.output
    assert "kept" in result.output and "too many sites" in result.output
    result = runner.invoke(app, ["data", "stats", str(out)])
    assert result.exit_code == 0, result.output
    assert "distinct space groups" in result.output
    pngs = sorted(p.name for p in (tmp_path / "tiny.parquet.stats").glob("*.png"))
    assert pngs == [
        "atomic_numbers.png",
        "lattice_angles.png",
        "lattice_lengths.png",
        "sites_per_cell.png",
        "spacegroups.png",
    ]
    assert all((tmp_path / "tiny.parquet.stats" / p).stat().st_size > 5000 for p in pngs)


def test_bad_options_are_clear(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["data", "prepare", str(EXAMPLE), "-o", str(tmp_path / "x.parquet"), "--spacegroups", "300"]
    )
    assert result.exit_code != 0
    assert "1..230" in result.output
    result = runner.invoke(app, ["data", "stats", str(tmp_path / "missing.parquet")])
    assert result.exit_code == 1 and "not found" in result.output
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and "xtalgen" in result.output

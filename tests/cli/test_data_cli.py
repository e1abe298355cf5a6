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


def test_species_option_names_the_atoms_of_a_poscar_without_symbols(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "POSCAR").write_text("CsCl\n1.0\n4.2 0 0\n0 4.2 0\n0 0 4.2\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n")
    runner = CliRunner()
    out = tmp_path / "x.parquet"
    result = runner.invoke(app, ["data", "prepare", str(src), "-o", str(out), "--workers", "1"])
    assert result.exit_code == 0 and "no element symbols" in result.output, result.output
    result = runner.invoke(app, ["data", "prepare", str(src), "-o", str(out), "--workers", "1", "--species", "Cs,Cl"])
    assert result.exit_code == 0, result.output
    from xtalgen.data.dataset import load_dataset

    assert list(load_dataset(out).frame["formula"]) == ["CsCl"]
    bad = runner.invoke(app, ["data", "prepare", str(src), "-o", str(out), "--species", "Cs,Qq"])
    assert bad.exit_code == 2 and "Qq" in bad.output

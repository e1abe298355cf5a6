"""`xtalgen generate` / `xtalgen train` reject bad option combinations before doing any work."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from xtalgen.cli.main import app


def test_generate_option_checks(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "gen"
    result = runner.invoke(app, ["generate", "--model", "pyxtal-random", "-n", "2", "-o", str(out)])
    assert result.exit_code == 2 and "needs training data: --set train=DATASET" in result.output
    result = runner.invoke(app, ["generate", "--model", "crystens-gan", "-o", str(out)])
    assert result.exit_code == 2 and "needs --checkpoint" in result.output
    result = runner.invoke(
        app, ["generate", "--model", "pgcgm", "--checkpoint", str(tmp_path / "none"), "-o", str(out)]
    )
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(app, ["generate", "--model", "pgcgm", "--checkpoint", str(tmp_path), "--formula", "NaCl"])
    assert result.exit_code == 2
    assert "--formula: pgcgm does not take it (models that do: crystens-diffusion)" in result.output
    result = runner.invoke(app, ["generate", "--model", "pgcgm", "--checkpoint", str(tmp_path), "--spacegroup", "0"])
    assert result.exit_code == 2 and "1..230" in result.output
    result = runner.invoke(app, ["generate", "--model", "pgcgm", "--set", "steps=3", "-o", str(out)])
    assert result.exit_code == 2 and "unknown key steps" in result.output and "distance_factor" in result.output
    result = runner.invoke(app, ["generate", "--model", "crystens-diffusion", "--impute", "-o", str(out)])
    # --impute is a diffusion option (accepted); the shipped default model is used; the request is checked
    assert result.exit_code == 1 and "impute: needs a formula and/or a space group" in result.output
    result = runner.invoke(app, ["generate", "--model", "pgcgm", "--impute", "-o", str(out)])
    assert result.exit_code == 2 and "no such option: --impute" in result.output
    result = runner.invoke(app, ["generate", "--model", "pgcgm", "--set", "distance_factor=3", "-o", str(out)])
    assert result.exit_code == 2 and "distance_factor: must be in (0, 2)" in result.output
    assert not out.exists()


def test_train_option_checks(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = tmp_path / ("long-folder-name-" * 5) / "x.parquet"  # error lines must not wrap inside the path
    result = runner.invoke(app, ["train", "pgcgm", "--data", str(missing), "-o", str(tmp_path / "r")])
    assert result.exit_code == 2 and f"{missing} does not exist" in result.output
    result = runner.invoke(app, ["train", "diffusion", "--data", str(tmp_path), "-o", str(tmp_path / "r")])
    assert result.exit_code != 0


def test_generate_has_at_most_12_options_and_lists_family_options() -> None:
    import typer.main

    command = typer.main.get_command(app).commands["generate"]
    visible = [p for p in command.params if getattr(p, "param_type_name", "") == "option" and not p.hidden]
    assert len(visible) <= 12, [p.opts for p in visible]
    runner = CliRunner()
    result = runner.invoke(app, ["generate", "--model", "pgcgm", "--help-options"])
    assert result.exit_code == 0
    for line in ("distance_factor (float) = 0.73", "count (accepted|candidates) = 'accepted'",
                 "symprec (float) = 0.1"):  # fmt: skip
        assert line in result.output
    result = runner.invoke(app, ["generate", "--model", "crystens-diffusion", "--help-options"])
    assert "steps (int | None) = 50" in result.output and "impute (bool | None) = None" in result.output

"""Registry look-ups, sha256 checks, `xtalgen models` and `xtalgen generate` with shipped models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from xtalgen.cli.main import app
from xtalgen.pretrained import ENV_VAR, list_pretrained, load_pretrained, package_checkpoint, pretrained_checkpoint
from xtalgen.pretrained.registry import registry_dir, resolve_pretrained


@pytest.fixture(scope="module")
def registry(pgcgm_run: Path, diffusion_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    reg = tmp_path_factory.mktemp("registry")
    package_checkpoint(pgcgm_run, "pgcgm-test", registry=reg, data_desc="Perov-5 ternaries",
                       metrics={"sun_rate": 0.0123, "valid": 0.9})  # fmt: skip
    package_checkpoint(diffusion_run, "diff-test", registry=reg, data_desc="8 Perov-5")
    return reg


def test_shipped_registry_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The package's own registry parses and every shipped model's files match their hashes."""
    import xtalgen.pretrained

    monkeypatch.delenv(ENV_VAR, raising=False)
    assert registry_dir() == Path(xtalgen.pretrained.__file__).resolve().parent
    assert (registry_dir() / "registry.json").is_file()
    defaults = json.loads((registry_dir() / "registry.json").read_text())["defaults"]
    names = [info.name for info in list_pretrained()]
    assert set(defaults.values()) <= set(names)
    for info in list_pretrained():
        assert info.size_bytes <= 10_000_000, info.name
        pretrained_checkpoint(info.name)


def test_lookup_errors(registry: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown pretrained model 'nope'; available: diff-test, pgcgm-test"):
        load_pretrained("nope", registry)
    with pytest.raises(ValueError, match="unknown pretrained model 'x'; available: none ship yet"):
        pretrained_checkpoint("x", registry / "empty")
    with pytest.raises(ValueError, match="'diff-test' is a crystens-diffusion model, not pgcgm"):
        resolve_pretrained("pgcgm", "diff-test", registry)
    with pytest.raises(ValueError, match="no pretrained crystens-gan model ships"):
        resolve_pretrained("crystens-gan", None, registry)
    assert resolve_pretrained("crystens-diffusion", None, registry).name == "diff-test"


def test_damaged_files_are_refused(registry: Path, tmp_path: Path) -> None:
    reg = tmp_path / "copy"
    shutil.copytree(registry, reg)
    weights = reg / "models" / "pgcgm-test" / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="'pgcgm-test': weights.safetensors does not match the registry"):
        load_pretrained("pgcgm-test", reg)
    pretrained_checkpoint("diff-test", reg)  # the other model is intact
    (reg / "models" / "diff-test" / "state.json").unlink()
    with pytest.raises(FileNotFoundError, match="state.json is missing"):
        pretrained_checkpoint("diff-test", reg)
    result = CliRunner().invoke(app, ["models", "--verify"], env={ENV_VAR: str(reg), "COLUMNS": "200"})
    assert result.exit_code == 1 and "does not match" in result.output


def test_models_command_lists_them(registry: Path) -> None:
    result = CliRunner().invoke(app, ["models", "--verify"], env={ENV_VAR: str(registry), "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in ("pgcgm-test *", "diff-test *", "crystens-diffusion", "Perov-5 ternaries", "sun_rate=0.0123", "ok"):
        assert text in result.output
    empty = CliRunner().invoke(app, ["models"], env={ENV_VAR: str(registry / "none")})
    assert empty.exit_code == 0 and "no pretrained models registered" in empty.output


def test_generate_uses_the_default_or_named_model(registry: Path, tmp_path: Path) -> None:
    runner, env = CliRunner(), {ENV_VAR: str(registry)}
    out = tmp_path / "default"
    args = ["generate", "-n", "3", "-o", str(out), "--workers", "1", "--seed", "1", "--count", "candidates"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "using pretrained model pgcgm-test" in result.output
    frame = pd.read_csv(out / "summary.csv")
    assert len(frame) == 3 and frame["id"].str.startswith("pgcgm_").all()
    # the default --count accepted: this tiny model's candidates all fail, so it stops at 50 N and says so
    result = runner.invoke(app, ["generate", "-n", "1", "-o", str(tmp_path / "acc"), "--workers", "1"], env=env)
    assert result.exit_code == 0, result.output
    acc = pd.read_csv(tmp_path / "acc" / "summary.csv")
    if acc.empty:
        assert "only 0 of the 1 requested structures" in result.output and "50 candidates" in result.output
    else:
        assert len(acc) == 1 and acc["accepted"].all()
    assert "sites_snapped" in frame.columns  # snapping is the default
    raw = tmp_path / "raw"
    result = runner.invoke(app, ["generate", "-n", "3", "-o", str(raw), "--workers", "1", "--seed", "1", "--no-snap",
                                 "--count", "candidates"], env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sites_snapped" not in pd.read_csv(raw / "summary.csv").columns
    # --pretrained alone picks the model kind
    out = tmp_path / "diff"
    args = ["generate", "--pretrained", "diff-test", "-n", "2", "-o", str(out), "--workers", "1", "--steps", "2",
            "--spacegroup", "221", "--formula", "SrTiO3"]  # fmt: skip
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out / "summary.csv")["model"].eq("crystens-diffusion").all()
    bad = [
        (["--pretrained", "nope"], "available: diff-test, pgcgm-test"),
        (["--model", "pgcgm", "--pretrained", "diff-test"], "is a crystens-diffusion model, not pgcgm"),
        (["--pretrained", "pgcgm-test", "--checkpoint", str(tmp_path)], "either --checkpoint or --pretrained"),
        (["--model", "crystens-gan"], "needs --checkpoint"),
    ]
    for extra, message in bad:
        result = runner.invoke(app, ["generate", "-o", str(tmp_path / "bad"), *extra], env=env)
        assert result.exit_code == 2 and message in result.output, (extra, result.output)
    assert not (tmp_path / "bad").exists()
    assert json.loads((registry / "registry.json").read_text())["defaults"]["pgcgm"] == "pgcgm-test"

"""Bundled training configs: names, the --config resolution rule, and the CLI accepting names."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from xtalgen.cli.main import app
from xtalgen.configs import CONFIG_DIR, bundled_config, list_configs, resolve_config
from xtalgen.pipelines.crystens.train import load_crystens_config
from xtalgen.pipelines.pgcgm.task import PGCGMConfig
from xtalgen.pipelines.training import load_config

EXPECTED = {
    f"{model}_{size}"
    for model in ("pgcgm", "crystens_gan", "crystens_wgan", "crystens_diffusion")
    for size in ("tiny", "cpu", "gpu")
} | {f"pgcgm_general_{size}" for size in ("tiny", "cpu", "gpu")}


def test_every_bundled_config_is_listed_inside_the_package_and_loads() -> None:
    assert set(list_configs()) == EXPECTED
    assert CONFIG_DIR.parent.name == "xtalgen" and CONFIG_DIR.name == "configs"
    assert list_configs("pgcgm") == ["pgcgm_cpu", "pgcgm_gpu", "pgcgm_tiny"]
    assert list_configs("crystens-gan") == ["crystens_gan_cpu", "crystens_gan_gpu", "crystens_gan_tiny"]
    for name in list_configs("pgcgm"):
        assert load_config(PGCGMConfig, bundled_config(name)).model.n_sites == 3
    for kind in ("gan", "wgan", "diffusion"):
        assert load_crystens_config(kind, bundled_config(f"crystens_{kind}_tiny")).data.size == 32
    assert load_config(PGCGMConfig, bundled_config("pgcgm_tiny.yaml")).max_steps == 20
    for size in ("tiny", "cpu", "gpu"):  # the general model: K_max base sites, Wyckoff features, 1-5 elements
        general = load_config(PGCGMConfig, bundled_config(f"pgcgm_general_{size}"))
        assert general.model.wyckoff_features and general.model.n_sites > 3
        assert general.data.nelements == [1, 2, 3, 4, 5] and general.data.n_base_sites == []
    assert load_config(PGCGMConfig, bundled_config("pgcgm_general_gpu")).matmul_tf32


def test_resolution_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_config("pgcgm_cpu") == CONFIG_DIR / "pgcgm_cpu.yaml"
    assert resolve_config("pgcgm_cpu.yaml", "crystens-gan") == CONFIG_DIR / "pgcgm_cpu.yaml"
    assert resolve_config("cpu", "crystens-diffusion") == CONFIG_DIR / "crystens_diffusion_cpu.yaml"
    assert resolve_config("tiny", "pgcgm") == CONFIG_DIR / "pgcgm_tiny.yaml"
    # an existing file wins over a bundled name spelled the same
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pgcgm_cpu").write_text("max_steps: 3\n")
    assert resolve_config("pgcgm_cpu") == Path("pgcgm_cpu")
    own = tmp_path / "mine.yaml"
    own.write_text("max_steps: 3\n")
    assert resolve_config(own, "pgcgm") == own


def test_unknown_names_list_the_bundled_ones() -> None:
    with pytest.raises(ValueError, match=r"'huge'.*pgcgm_cpu, pgcgm_gpu, pgcgm_tiny \(or short: cpu, gpu, tiny\)"):
        resolve_config("huge", "pgcgm")
    with pytest.raises(ValueError, match="crystens_diffusion_cpu.*pgcgm_tiny"):
        resolve_config("cpu")  # short names need the model
    with pytest.raises(ValueError, match="no bundled config named 'nope'.*crystens_gan_cpu"):
        bundled_config("nope")
    with pytest.raises(ValueError, match="no bundled config"):
        bundled_config("../configs/pgcgm_cpu")


def test_train_cli_takes_a_bundled_name(tmp_path: Path) -> None:
    runner = CliRunner()
    data = tmp_path / "d.parquet"
    data.write_text("")
    result = runner.invoke(app, ["train", "pgcgm", "--data", str(data), "--config", "huge", "-o", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "pgcgm_cpu, pgcgm_gpu, pgcgm_tiny" in result.output
    # a bundled short name resolves; the run then fails on the (empty) data, not on the config
    result = runner.invoke(
        app, ["train", "pgcgm", "--data", str(data), "--config", "tiny", "-o", str(tmp_path / "r"), "--set", "x=1"]
    )
    assert result.exit_code == 1 and "unknown key x" in result.output

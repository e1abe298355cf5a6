"""Typed training config: loading from YAML/TOML, overrides, and clear validation errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from xtalgen.pipelines.training.config import (
    ConfigError,
    OptimizerConfig,
    TrainingConfig,
    config_to_dict,
    load_config,
    parse_overrides,
)


@dataclass
class _Model:
    width: int = 8
    dropout: float = 0.0

    def validate(self) -> None:
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout: must be in [0, 1), got {self.dropout}")  # as model configs do


@dataclass
class _Cfg(TrainingConfig):
    model: _Model = field(default_factory=_Model)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)


def test_yaml_and_toml_load_with_overrides(tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text("seed: 3\nmax_steps: 10\nmodel:\n  width: 16\noptimizer:\n  lr: 1e-3\n  betas: [0.0, 0.9]\n")
    cfg = load_config(_Cfg, y, ["model.dropout=0.25", "devices=auto", "strategy=ddp"])
    assert (cfg.seed, cfg.max_steps, cfg.model.width, cfg.model.dropout) == (3, 10, 16, 0.25)
    assert cfg.optimizer.lr == pytest.approx(1e-3) and cfg.optimizer.betas == (0.0, 0.9)
    assert cfg.devices == "auto" and cfg.strategy == "ddp"
    t = tmp_path / "c.toml"
    t.write_text('seed = 5\naccelerator = "cpu"\ndevices = 2\n[model]\nwidth = 4\n')
    cfg2 = load_config(_Cfg, t)
    assert (cfg2.seed, cfg2.accelerator, cfg2.devices, cfg2.model.width) == (5, "cpu", 2, 4)
    # round trip through a plain dict
    assert load_config(_Cfg, config_to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    ("data", "overrides", "message"),
    [
        ({"modle": {"width": 3}}, [], "unknown key modle"),
        ({"model": {"widht": 3}}, [], "unknown key model.widht"),
        ({"max_steps": "ten"}, [], "max_steps: expected an integer, got 'ten'"),
        ({"progress": 1}, [], "progress: expected true/false"),
        ({}, ["optimizer.lr=fast"], "optimizer.lr: expected a number, got 'fast'"),
        ({"accelerator": "tpu"}, [], "accelerator: must be one of ['cpu', 'gpu', 'auto'], got 'tpu'"),
        ({"batch_size": 0}, [], "batch_size: must be >= 1, got 0"),
        ({"devices": "many"}, [], "devices: must be a positive integer or 'auto'"),
        ({"model": {"dropout": 1.5}}, [], "model.dropout: must be in [0, 1), got 1.5"),
        ({"optimizer": {"betas": [0.9]}}, [], "optimizer.betas: expected 2 values, got 1"),
        ({"optimizer": {"lr": -1}}, [], "optimizer.lr: must be > 0"),
        ({"precision": "8-bit"}, [], "precision: must be one of"),
        ({"model": 3}, [], "model: expected a section"),
        ({}, ["seed"], "expected key=value"),
    ],
)
def test_validation_errors_are_clear(data, overrides, message):
    with pytest.raises(ConfigError) as info:
        load_config(_Cfg, data, overrides)
    assert message in str(info.value)


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(_Cfg, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.ini"
    bad.write_text("x=1")
    with pytest.raises(ConfigError, match="unknown extension"):
        load_config(_Cfg, bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(_Cfg, lst)


def test_parse_overrides_nested_and_typed():
    assert parse_overrides(["a.b.c=1", "a.b.d=[1, 2]", "e=true", "f=x"]) == {
        "a": {"b": {"c": 1, "d": [1, 2]}},
        "e": True,
        "f": "x",
    }

"""Typed training configuration: dataclasses loaded from YAML/TOML/dicts with early, clear validation.

A model's config is a dataclass that subclasses :class:`TrainingConfig` (the run settings shared by
every trainer) and adds its own sections, e.g. ``model: MyModelConfig`` and
``optimizer: OptimizerConfig``. :func:`load_config` builds it from a file and ``key=value`` overrides,
rejecting unknown keys, wrong types and bad values with a message naming the entry.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

T = TypeVar("T")

ACCELERATORS = ("cpu", "gpu", "auto")
STRATEGIES = ("auto", "ddp")
PRECISIONS = ("32-true", "32", "64-true", "64", "16-mixed", "bf16-mixed", "16-true", "bf16-true")


class ConfigError(ValueError):
    """A configuration entry is unknown, has the wrong type or a bad value."""


@dataclass
class OptimizerConfig:
    """Adam/AdamW settings. ``lr`` is the learning rate; ``betas`` the Adam moment decays."""

    name: Literal["adam", "adamw"] = "adam"
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    eps: float = 1e-8

    def validate(self) -> None:
        if self.lr <= 0:
            raise ConfigError(f"lr: must be > 0, got {self.lr}")
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError(f"betas: each must be in [0, 1), got {list(self.betas)}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay: must be >= 0, got {self.weight_decay}")
        if self.eps <= 0:
            raise ConfigError(f"eps: must be > 0, got {self.eps}")

    def build(self, params: Iterable[Any]) -> Any:
        """A torch optimizer over ``params`` with these settings."""
        import torch

        cls = torch.optim.AdamW if self.name == "adamw" else torch.optim.Adam
        return cls(params, lr=self.lr, betas=tuple(self.betas), weight_decay=self.weight_decay, eps=self.eps)


@dataclass
class TrainingConfig:
    """Run settings shared by all trainers.

    ``batch_size`` is per device (the global batch is ``batch_size * devices * num_nodes``);
    ``max_steps`` counts loop iterations (one batch each); checkpoints are written every
    ``checkpoint_every`` steps and at the end, keeping the last ``keep_last``.
    """

    seed: int = 0
    max_steps: int = 1000
    batch_size: int = 32
    checkpoint_every: int = 500
    log_every: int = 10
    keep_last: int = 3
    out_dir: str = "runs/default"
    accelerator: Literal["cpu", "gpu", "auto"] = "auto"
    devices: int | str = 1
    num_nodes: int = 1
    strategy: Literal["auto", "ddp"] = "auto"
    precision: str = "32-true"
    progress: bool = True
    tensorboard: bool = True

    def validate(self) -> None:
        for name in ("max_steps", "batch_size", "checkpoint_every", "log_every", "keep_last", "num_nodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.seed < 0:
            raise ConfigError(f"seed: must be >= 0, got {self.seed}")
        if isinstance(self.devices, str) and self.devices != "auto":
            raise ConfigError(f"devices: must be a positive integer or 'auto', got {self.devices!r}")
        if isinstance(self.devices, int) and self.devices < 1:
            raise ConfigError(f"devices: must be >= 1, got {self.devices}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision: must be one of {list(PRECISIONS)}, got {self.precision!r}")
        if not self.out_dir:
            raise ConfigError("out_dir: must not be empty")


# ----------------------------------------------------------------------------- building


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Check/convert ``value`` to type ``tp``; raise ConfigError naming ``where`` on mismatch."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        # try exact-type members first so "auto" stays a str and 2 stays an int
        for opt in sorted((o for o in options if o is not type(None)), key=lambda o: o is not str):
            try:
                return _convert(value, opt, where)
            except ConfigError:
                pass
        raise ConfigError(f"{where}: expected {' or '.join(_type_name(o) for o in options)}, got {value!r}")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{where}: must be one of {list(allowed)}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a section (mapping) for {tp.__name__}, got {value!r}")
        return _build(tp, value, where + ".")
    if origin in (tuple, list):
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)} ({list(value)})")
            items = [
                _convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
            ]
        else:
            item_tp = args[0] if args else Any
            items = [_convert(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported config type {tp!r}")


def _build(cls: type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise ConfigError(
            f"unknown key {prefix}{unknown[0]!s} in {cls.__name__} (allowed: {', '.join(sorted(fields))})"
        )
    kwargs = {k: _convert(v, hints[k], prefix + k) for k, v in data.items()}
    return cls(**kwargs)


def validate_config(cfg: Any, prefix: str = "") -> None:
    """Run every section's ``validate()`` (depth first), prefixing error messages with the section."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            validate_config(value, prefix + f.name + ".")
    check = getattr(cfg, "validate", None)
    if callable(check):
        try:
            check()
        except ValueError as exc:  # model configs (below pipelines) raise plain ValueError
            raise ConfigError(f"{prefix}{exc}") from None


def parse_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    """``["model.lr=1e-3", "devices=2"]`` -> nested dict; values parsed as YAML scalars/lists."""
    out: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected key=value (e.g. optimizer.lr=1e-4)")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override {item!r}: empty key")
        value = yaml.safe_load(raw) if raw.strip() else ""
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part} is both a value and a section")
        node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (.yaml/.yml) or TOML (.toml) config file into a dict."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p}: not found")
    text = p.read_text()
    if p.suffix.lower() == ".toml":
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p}: invalid TOML ({exc})") from None
    elif p.suffix.lower() in (".yaml", ".yml", ".json"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {p}: invalid YAML ({exc})") from None
    else:
        raise ConfigError(f"config file {p}: unknown extension {p.suffix!r} (use .yaml, .yml or .toml)")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p}: top level must be a mapping, got {type(data).__name__}")
    return data


def load_config(
    cls: type[T],
    source: str | Path | Mapping[str, Any] | T | None = None,
    overrides: Iterable[str] | Mapping[str, Any] = (),
) -> T:
    """Build and validate a ``cls`` config from a file path, a dict or an instance, plus overrides.

    ``overrides`` are ``key=value`` strings with dotted keys (``optimizer.lr=1e-3``) or a nested dict.
    Raises :class:`ConfigError` (a ValueError) naming the offending entry.
    """
    if source is None:
        data: dict[str, Any] = {}
    elif isinstance(source, (str, Path)):
        data = read_config_file(source)
    elif dataclasses.is_dataclass(source) and not isinstance(source, type):
        data = config_to_dict(source)
    elif isinstance(source, Mapping):
        data = dict(source)
    else:
        raise ConfigError(f"config source: expected a path, mapping or {cls.__name__}, got {type(source)}")
    extra = overrides if isinstance(overrides, Mapping) else parse_overrides(overrides)
    cfg = _build(cls, _merge(data, extra))
    validate_config(cfg)
    return cfg


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain (JSON/YAML-serialisable) dict of a config dataclass; tuples become lists."""

    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(cfg))


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write a config dataclass as YAML (atomic)."""
    from xtalgen.data.atomic import atomic_write

    with atomic_write(path) as fh:
        yaml.safe_dump(config_to_dict(cfg), fh, sort_keys=False)
    return Path(path)


__all__ = [
    "ConfigError",
    "OptimizerConfig",
    "TrainingConfig",
    "config_to_dict",
    "load_config",
    "parse_overrides",
    "read_config_file",
    "save_config",
    "validate_config",
]

"""Training configs shipped with the package (``<model>_<size>.yaml``: tiny for tests, cpu, gpu).

A config is named by its file stem, e.g. ``pgcgm_cpu`` or ``crystens_diffusion_tiny``.
:func:`resolve_config` turns what a user typed after ``--config`` into a file, by one rule:

1. an existing file path is used as is (a file wins over a bundled name of the same spelling);
2. otherwise a bundled full name, with or without ``.yaml`` (``pgcgm_cpu``, ``pgcgm_cpu.yaml``);
3. otherwise, when the model is known (``xtalgen train pgcgm --config cpu``), the short name
   ``<size>`` means ``<model>_<size>`` (``crystens-diffusion`` + ``cpu`` -> ``crystens_diffusion_cpu``);
4. otherwise a ValueError listing the bundled names.

This module imports nothing else of xtalgen.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent
SUFFIX = ".yaml"


def list_configs(model: str | None = None) -> list[str]:
    """Names of the bundled configs (sorted), only those of ``model`` (e.g. ``"pgcgm"``) when given."""
    names = sorted(p.stem for p in CONFIG_DIR.glob(f"*{SUFFIX}"))
    if model is None:
        return names
    prefix = model_prefix(model) + "_"
    return [n for n in names if n.startswith(prefix) and "_" not in n[len(prefix) :]]


def model_prefix(model: str) -> str:
    """The config-name prefix of a model name: ``"crystens-diffusion"`` -> ``"crystens_diffusion"``."""
    return model.strip().lower().replace("-", "_")


def bundled_config(name: str) -> Path:
    """The file of the bundled config ``name`` (``"pgcgm_cpu"`` or ``"pgcgm_cpu.yaml"``).

    Raises ValueError listing the bundled names when there is none of that name.
    """
    stem = name.strip()
    stem = stem[: -len(SUFFIX)] if stem.endswith(SUFFIX) else stem
    path = CONFIG_DIR / f"{stem}{SUFFIX}"
    if "/" in stem or "\\" in stem or not stem or not path.is_file():
        raise ValueError(f"no bundled config named {name!r}; bundled configs: {', '.join(list_configs())}")
    return path


def resolve_config(value: str | Path, model: str | None = None) -> Path:
    """The config file meant by ``value``: an existing path, a bundled name, or a short name for ``model``.

    See the module docstring for the rule. Raises ValueError naming ``value`` and listing the bundled
    configs (those of ``model`` first when it is given) when nothing matches.
    """
    path = Path(value).expanduser()
    if path.is_file():
        return path
    text = str(value).strip()
    names = list_configs()
    stem = text[: -len(SUFFIX)] if text.endswith(SUFFIX) else text
    if stem in names:
        return CONFIG_DIR / f"{stem}{SUFFIX}"
    if model is not None and f"{model_prefix(model)}_{stem}" in names:
        return CONFIG_DIR / f"{model_prefix(model)}_{stem}{SUFFIX}"
    if model is not None:
        own = list_configs(model)
        short = [n[len(model_prefix(model)) + 1 :] for n in own]
        hint = f"bundled {model} configs: {', '.join(own)} (or short: {', '.join(short)})"
    else:
        hint = f"bundled configs: {', '.join(names)}"
    raise ValueError(f"config {text!r}: no such file and no bundled config of that name; {hint}")


__all__ = ["CONFIG_DIR", "bundled_config", "list_configs", "model_prefix", "resolve_config"]

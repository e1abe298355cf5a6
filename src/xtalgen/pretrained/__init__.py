"""Pretrained models shipped with the package: registry, loading, and packaging of training runs.

>>> from xtalgen.pretrained import list_pretrained, load_pretrained
>>> model = load_pretrained("pgcgm-mp-ternary")          # doctest: +SKIP
>>> model.generate(100, "out/", seed=0)                   # doctest: +SKIP
"""

from xtalgen.pretrained.load import PretrainedModel, load_pretrained
from xtalgen.pretrained.registry import (
    ENV_VAR,
    PretrainedInfo,
    default_pretrained,
    list_pretrained,
    pretrained_checkpoint,
    pretrained_info,
    pretrained_training_structures,
    registry_dir,
    resolve_pretrained,
    verify_files,
)

__all__ = [
    "ENV_VAR",
    "PretrainedInfo",
    "PretrainedModel",
    "default_pretrained",
    "list_pretrained",
    "load_pretrained",
    "package_checkpoint",
    "pretrained_checkpoint",
    "pretrained_info",
    "pretrained_training_structures",
    "registry_dir",
    "resolve_pretrained",
    "verify_files",
]


def __getattr__(name: str):
    # lazy, so that ``python -m xtalgen.pretrained.package`` does not import its own module twice
    if name == "package_checkpoint":
        from xtalgen.pretrained.package import package_checkpoint

        return package_checkpoint
    raise AttributeError(f"module 'xtalgen.pretrained' has no attribute {name!r}")

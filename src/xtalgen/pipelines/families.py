"""The model families xtalgen samples from and trains: each family registers here once.

A :class:`Family` names its kind (``pgcgm``, ``crystens-diffusion``...), its typed sampling options
(a dataclass, set from the command line with ``--set key=value``), which of the common conditions it
takes, and the callables that sample, load, train and package it. The CLI, the pretrained-model
loader and packager and the config resolver ask this registry instead of branching on the kind.

The built-in families live in their own folders (``pipelines/pgcgm``, ``pipelines/crystens``,
``pipelines/pyxtal``) and register when the registry is first read; another family registers with
:func:`register` (see ``tests/pipelines/test_families.py`` for a ten-line toy family).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xtalgen.data.generation_folder import Candidate

#: Modules whose import registers the built-in families.
BUILTIN_FAMILIES = ("xtalgen.pipelines.pgcgm.family", "xtalgen.pipelines.crystens.family",
                    "xtalgen.pipelines.pyxtal.family")  # fmt: skip
#: The conditions the generate command offers every family; a family lists those it takes.
CONDITIONS = ("spacegroup", "elements", "formula")


@dataclass
class SamplingOptions:
    """Options every family shares; a family's options class adds its own fields (all with defaults)."""

    #: spglib tolerance (Å) for the space group written in each CIF and in summary.csv.
    symprec: float = 0.1


@dataclass(frozen=True)
class GenerationRequest:
    """What ``generate`` asks of every family: how many, which seed, which conditions, which weights.

    ``spacegroup``: space group numbers (1..230); ``elements``: element sets (PGCGM base sites);
    ``formula``: one composition (CrysTens diffusion); ``checkpoint``: a run folder or checkpoint;
    ``meta``: extra ``generation.json`` entries (e.g. the pretrained model's name).
    """

    n: int
    seed: int = 0
    workers: int = 2
    spacegroup: tuple[int, ...] = ()
    elements: tuple[tuple[str, ...], ...] = ()
    formula: str | None = None
    checkpoint: Path | None = None
    progress: bool = True
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class SampleBatch:
    """What a family's ``sample`` returns: candidates (accepted or not) and the ``generation.json`` record.

    ``split_rejected``: list rejected candidates in ``rejected.csv`` instead of ``summary.csv``;
    ``extra_files``: writers of further files, each called with the output folder.
    """

    candidates: list[Candidate]
    record: dict[str, Any]
    split_rejected: bool = False
    extra_files: list[Callable[[Path], None]] = field(default_factory=list)


@dataclass(frozen=True)
class Packaging:
    """How a family's training run becomes a shipped pretrained model (see :mod:`xtalgen.pretrained.package`).

    ``owns(checkpoint)``: does a loaded training checkpoint belong to this family; ``modules(names)``: the
    modules generation loads; ``extra_files(checkpoint)``: files beside the weights generation needs;
    ``data_record(checkpoint, folder, data_file)``: (config ``data`` keys recorded as filters, number of
    training materials, data file), ``folder`` holding the packaged files;
    ``training_rows(config, dataset, run)``: the dataset rows a run learned from
    (None: shipping training structures is not supported).
    """

    owns: Callable[[Any], bool]
    modules: Callable[[list[str]], list[str]] = lambda names: ["generator"]
    extra_files: Callable[[Any], list[Path]] = lambda ckpt: []
    data_record: Callable[[Any, Path, str | None], tuple[tuple[str, ...], Any, str | None]] | None = None
    training_rows: Callable[[Mapping[str, Any], Any, Path | None], Any] | None = None


@dataclass(frozen=True)
class LoadedModel:
    """A family's sampling network loaded from a checkpoint folder (eval mode, CPU), with its configs."""

    module: Any
    config: Any
    representation: Any = None


@dataclass(frozen=True)
class Family:
    """One model family: its kind, sampling options, conditions and what it can do.

    ``sample(request, options) -> SampleBatch`` draws and post-processes candidates (no files written).
    ``load(folder) -> LoadedModel``; ``train(data, config_file, out, resume=, overrides=) -> checkpoint``;
    ``needs_checkpoint``: sampling needs trained weights (a ``--checkpoint`` or a shipped model);
    ``conditions``: which of :data:`CONDITIONS` it takes; ``check(request, options)``: preconditions
    tested before any work (ValueError).
    """

    kind: str
    summary: str
    options: type[SamplingOptions]
    sample: Callable[[GenerationRequest, Any], SampleBatch]
    conditions: frozenset[str] = frozenset()
    needs_checkpoint: bool = True
    load: Callable[[Path], LoadedModel] | None = None
    train: Callable[..., Path] | None = None
    packaging: Packaging | None = None
    check: Callable[[GenerationRequest, Any], None] | None = None

    def parse_options(self, values: SamplingOptions | Mapping[str, Any] | Iterable[str] | None = None) -> Any:
        """This family's options from an instance, a dict or ``key=value`` strings, validated.

        Raises ValueError naming the key and this family's allowed keys.
        """
        if isinstance(values, self.options):
            return values
        from xtalgen.pipelines.training.config import load_config

        try:
            return load_config(self.options, None, values if values is not None else ())
        except ValueError as exc:
            raise ValueError(f"{self.kind} option: {exc}") from None

    def option_defaults(self) -> dict[str, Any]:
        """{option name: default} of this family's sampling options."""
        out = {}
        for f in dataclasses.fields(self.options):
            out[f.name] = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        return out


_FAMILIES: dict[str, Family] = {}
_loaded = False


def register(family: Family, *, replace: bool = False) -> Family:
    """Add ``family`` to the registry (ValueError if its kind is taken, unless ``replace``); return it."""
    if family.kind in _FAMILIES and not replace and _FAMILIES[family.kind] is not family:
        raise ValueError(f"model family {family.kind!r} is already registered")
    unknown = set(family.conditions) - set(CONDITIONS)
    if unknown:
        raise ValueError(f"model family {family.kind!r}: unknown conditions {sorted(unknown)} (allowed: {CONDITIONS})")
    _FAMILIES[family.kind] = family
    return family


def unregister(kind: str) -> None:
    """Remove a family (tests)."""
    _FAMILIES.pop(kind, None)


def families() -> dict[str, Family]:
    """Every registered family by kind, the built-in ones first."""
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_FAMILIES:
            importlib.import_module(module)
    return dict(_FAMILIES)


#: The built-in module that registers a kind, imported alone when that kind is looked up first (the first of
#: BUILTIN_FAMILIES, so the registry's order stays the same); the other families' imports (e.g. diffusers)
#: then cost a ``generate --model pgcgm`` nothing.
_FIRST_BUILTIN_KIND = ("pgcgm", BUILTIN_FAMILIES[0])


def get_family(kind: str) -> Family:
    """The family of ``kind``; ValueError listing the registered kinds when there is none."""
    if kind == _FIRST_BUILTIN_KIND[0] and kind not in _FAMILIES:
        importlib.import_module(_FIRST_BUILTIN_KIND[1])
    if kind in _FAMILIES:
        return _FAMILIES[kind]
    known = families()
    if kind not in known:
        raise ValueError(f"model {kind!r}: unknown; registered models: {', '.join(known)}")
    return known[kind]


def trainable_kinds() -> list[str]:
    """Kinds that can be trained (and packaged as pretrained models)."""
    return [k for k, f in families().items() if f.train is not None]


def family_of_checkpoint(ckpt: Any) -> Family:
    """The family a loaded training checkpoint belongs to (ValueError when none claims it)."""
    for fam in families().values():
        if fam.packaging is not None and fam.packaging.owns(ckpt):
            return fam
    raise ValueError(f"{ckpt.path}: not a checkpoint of any registered model (config {ckpt.config.get('_class')!r})")

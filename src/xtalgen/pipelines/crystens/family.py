"""The CrysTens families in the registry: ``crystens-gan``, ``crystens-wgan`` and ``crystens-diffusion``."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from xtalgen.pipelines.crystens.sample import CrysTensOptions, DiffusionOptions, sample_crystens
from xtalgen.pipelines.families import Family, LoadedModel, Packaging, register

SUMMARIES = {
    "gan": "CrysTens GAN (Alverson et al. 2024), unconditional",
    "wgan": "CrysTens WGAN-GP, unconditional",
    "diffusion": "CrysTens diffusion, optionally conditioned on a space group and a formula",
}


def _load(folder: Path, kind: str) -> LoadedModel:
    from xtalgen.pipelines.crystens.load import load_crystens_model

    found, module, cfg, ct = load_crystens_model(folder)
    if found != kind:
        raise ValueError(f"{folder} holds a crystens-{found} model, not crystens-{kind}")
    return LoadedModel(module, cfg, ct)


def _train(data: Path, config: Path | None, out: Path, *, kind: str, resume: bool = False,
           overrides: list[str] = ()) -> Path:  # fmt: skip
    from xtalgen.pipelines.crystens.train import train_crystens

    return train_crystens(kind, data, config, out, resume=resume, overrides=list(overrides))


def _owns(ckpt: Any, kind: str) -> bool:
    return ckpt.config.get("_class") != "PGCGMConfig" and ckpt.state.get("extra", {}).get("kind") == kind


def _modules(names: list[str], kind: str) -> list[str]:
    """The generator; for diffusion its EMA weights (the raw model without them)."""
    if kind == "diffusion":
        return ["ema"] if "ema" in names else ["model"]
    return ["generator"]


def _drawn_table(ckpt: Any, kind: str) -> list[Path]:
    """Diffusion: the run's ``conditions.csv`` (for ``conditions=drawn``), when the run has one."""
    from xtalgen.pipelines.crystens.drawn import find_conditions_table

    path = find_conditions_table(ckpt.path) if kind == "diffusion" else None
    return [path] if path is not None else []


def _data_record(ckpt: Any, folder: Path, data_file: str | None) -> tuple[tuple[str, ...], Any, str | None]:
    extra = ckpt.state.get("extra", {})
    return ("max_samples", "size", "cell", "distance"), extra.get("n_train"), data_file or extra.get("data") or None


for _kind, _summary in SUMMARIES.items():
    register(Family(
        kind=f"crystens-{_kind}",
        summary=_summary,
        options=DiffusionOptions if _kind == "diffusion" else CrysTensOptions,
        sample=partial(sample_crystens, expect=_kind),
        conditions=frozenset({"spacegroup", "formula"}) if _kind == "diffusion" else frozenset(),
        load=partial(_load, kind=_kind),
        train=partial(_train, kind=_kind),
        packaging=Packaging(owns=partial(_owns, kind=_kind), modules=partial(_modules, kind=_kind),
                            extra_files=partial(_drawn_table, kind=_kind), data_record=_data_record),
    ))  # fmt: skip

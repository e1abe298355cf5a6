"""PGCGM's entry in the family registry: kind ``pgcgm``, conditioned on space groups and element sets."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from xtalgen.pipelines.families import Family, LoadedModel, Packaging, register
from xtalgen.pipelines.pgcgm.conditions import CONDITIONS_FILE
from xtalgen.pipelines.pgcgm.options import PGCGMOptions
from xtalgen.pipelines.pgcgm.sample import sample_pgcgm
from xtalgen.pipelines.run_files import find_run_file


def _load(folder: Path) -> LoadedModel:
    from xtalgen.pipelines.pgcgm.sample import load_pgcgm_generator

    module, cfg, _ = load_pgcgm_generator(folder)
    return LoadedModel(module, cfg)


def _train(data: Path, config: Path | None, out: Path, *, resume: bool = False, overrides: list[str] = ()) -> Path:
    from xtalgen.pipelines.pgcgm.train import train_pgcgm

    return train_pgcgm(data, config, out, resume=resume, overrides=list(overrides))


def _owns(ckpt: Any) -> bool:
    return ckpt.config.get("_class") == "PGCGMConfig"


def _run_files(ckpt: Any) -> list[Path]:
    """The run's condition table (generation needs it) and, when fitted for the run, its stability classifier
    (``stability_top_fraction``), looked up beside the checkpoint and above."""
    from xtalgen.evaluation.stability_classifier import FILE_NAME as CLASSIFIER_FILE

    path = find_run_file(ckpt.path, CONDITIONS_FILE)
    if path is None:
        raise FileNotFoundError(f"no {CONDITIONS_FILE} in the run of {ckpt.path}: PGCGM generation needs it")
    classifier = find_run_file(ckpt.path, CLASSIFIER_FILE)
    return [path] if classifier is None else [path, classifier]


def _data_record(ckpt: Any, folder: Path, data_file: str | None) -> tuple[tuple[str, ...], int, str | None]:
    with open(folder / CONDITIONS_FILE, newline="") as fh:
        n = sum(int(r["count"]) for r in csv.DictReader(fh))
    return ("nelements", "n_base_sites", "max_materials", "n_augment", "symprec"), n, data_file


def _training_rows(config: Any, dataset: Any, run: Path | None) -> Any:
    from xtalgen.pipelines.pgcgm.train import training_rows

    return training_rows(config, dataset, run)


FAMILY = register(Family(
    kind="pgcgm",
    summary="physics-guided conditional WGAN over base sites (space group + element set)",
    options=PGCGMOptions,
    sample=sample_pgcgm,
    conditions=frozenset({"spacegroup", "elements"}),
    load=_load,
    train=_train,
    packaging=Packaging(owns=_owns, extra_files=_run_files, data_record=_data_record,
                        training_rows=_training_rows),
))  # fmt: skip

"""Files of a packaged pretrained model beyond its weights: the training structures (novelty reference) and
files fitted for the model afterwards (e.g. a stability classifier), each recorded with sha256 and size."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xtalgen.data.hashing import file_sha256
from xtalgen.pipelines.families import families, get_family
from xtalgen.pipelines.training.checkpoint import STATE_FILE, WEIGHTS_FILE, read_state
from xtalgen.pretrained.registry import (
    TRAINING_STRUCTURES_FILE,
    PretrainedInfo,
    pretrained_info,
    read_registry,
    registry_dir,
    verify_files,
    write_registry,
)

#: The human-readable training config of a packaged model.
CONFIG_FILE = "config.yaml"
#: Largest pretrained model, MB (the limit for shipped models).
MAX_MB = 10.0


def training_rows(kind: str, config: Mapping[str, Any], dataset: Any, run: Path | None = None) -> np.ndarray:
    """Rows of the prepared ``dataset`` a training run of ``kind`` with ``config`` learned from.

    Asks the family (e.g. :func:`xtalgen.pipelines.pgcgm.train.training_rows`); ValueError for a family
    that cannot say.
    """
    fam = get_family(kind)
    rows = fam.packaging.training_rows if fam.packaging is not None else None
    if rows is None:
        supported = [k for k, f in families().items() if f.packaging is not None and f.packaging.training_rows]
        raise ValueError(f"training structures can only be packaged for {', '.join(supported)} models so far, "
                         f"not {kind}")  # fmt: skip
    return rows(config, dataset, run)


def write_training_structures(
    kind: str,
    config: Mapping[str, Any],
    dataset_path: str | Path,
    out_file: str | Path,
    *,
    run: Path | None = None,
    expected: int | None = None,
) -> dict[str, Any]:
    """Write the training structures of a run (see :func:`training_rows`) as a compact structure table.

    ``expected``: the number of training materials the model records; a different count is refused
    (ValueError: not the dataset the model was trained on). Returns the registry record (file, number
    of structures, source file name and sha256, split).
    """
    from xtalgen.data.dataset import load_dataset
    from xtalgen.data.structure_table import structure_table_from_dataset, write_structure_table

    path = Path(dataset_path)
    dataset = load_dataset(path)
    rows = training_rows(kind, config, dataset, run)
    if expected is not None and len(rows) != int(expected):
        raise ValueError(
            f"{path} gives {len(rows)} training structures with the model's split and filters, but the model "
            f"was trained on {expected} materials: give the prepared dataset it was trained on"
        )
    if len(rows) == 0:
        raise ValueError(f"{path}: no structure passes the model's split and filters")
    record = {
        "file": TRAINING_STRUCTURES_FILE,
        "n_structures": int(len(rows)),
        "source": path.name,
        "source_sha256": file_sha256(path),
        "split": dict(config.get("data", {})).get("split"),
    }
    meta = {**record, "symprec": dataset.symprec, "filters": dict(config.get("data", {}))}
    write_structure_table(structure_table_from_dataset(dataset, rows), out_file, meta)
    return record


def add_training_structures(
    name: str, dataset_path: str | Path, *, registry: str | Path | None = None, max_mb: float = MAX_MB
) -> PretrainedInfo:
    """Add (or replace) the training structures of pretrained model ``name`` already in the registry.

    The rows are selected with the config in the model's ``state.json`` and must number the model's
    recorded ``n_materials``; the file's sha256 and size join the entry's files (checked by
    ``xtalgen models --verify``) and ``data["training_structures"]`` records where it came from.
    """
    root = registry_dir(registry)
    info = pretrained_info(name, root)
    kept = {k: v for k, v in info.files.items() if k != TRAINING_STRUCTURES_FILE}
    folder = verify_files(PretrainedInfo.from_dict({**info.to_dict(), "files": kept}), root)
    state = read_state(folder)
    target = folder / TRAINING_STRUCTURES_FILE
    record = write_training_structures(info.kind, state.get("config", {}), dataset_path, target,
                                       expected=info.data.get("n_materials"))  # fmt: skip
    try:
        _record_files(name, root, {**kept, TRAINING_STRUCTURES_FILE: _file_meta(target)}, max_mb,
                      {"training_structures": record})  # fmt: skip
    except ValueError:
        target.unlink()
        raise
    return pretrained_info(name, root)


def _file_meta(path: Path) -> dict[str, Any]:
    return {"sha256": file_sha256(path), "size": path.stat().st_size}


def _record_files(name: str, root: Path, files: dict[str, dict[str, Any]], max_mb: float,
                  data: Mapping[str, Any] | None = None) -> None:  # fmt: skip
    """Write ``files`` (and ``data`` merged into the entry's data record) into model ``name``'s registry entry;
    ValueError, writing nothing, when the model would exceed ``max_mb``."""
    total = sum(meta["size"] for meta in files.values())
    if total > max_mb * 1e6:
        raise ValueError(f"pretrained model {name!r}: {total / 1e6:.1f} MB with its files; the limit is {max_mb:g} MB")
    raw = read_registry(root)
    for entry in raw["models"]:
        if entry["name"] == name:
            entry["files"] = files
            entry["size_bytes"] = total
            entry["data"] = {**entry.get("data", {}), **(data or {})}
    write_registry(raw, root)


def add_model_file(name: str, source: str | Path, *, registry: str | Path | None = None,
                   max_mb: float = MAX_MB) -> PretrainedInfo:  # fmt: skip
    """Copy ``source`` into pretrained model ``name``'s folder under its own file name (replacing a file of that
    name) and record its sha256 and size, e.g. a stability classifier fitted for the model afterwards."""
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"--add-file: {source} is not a file")
    root = registry_dir(registry)
    info = pretrained_info(name, root)
    if source.name in (WEIGHTS_FILE, STATE_FILE, CONFIG_FILE):
        raise ValueError(f"--add-file: {source.name} is written by packaging, not added")
    kept = {k: v for k, v in info.files.items() if k != source.name}
    folder = verify_files(PretrainedInfo.from_dict({**info.to_dict(), "files": kept}), root)
    target = folder / source.name
    backup = target.read_bytes() if target.is_file() else None
    shutil.copyfile(source, target)
    try:
        _record_files(name, root, {**kept, source.name: _file_meta(target)}, max_mb)
    except ValueError:
        target.unlink()
        if backup is not None:
            target.write_bytes(backup)
        raise
    return pretrained_info(name, root)



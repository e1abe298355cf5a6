"""Package a finished training run as a shipped pretrained model (generation weights only, ≤ 10 MB).

Command line (run by whoever trains the shipped models)::

    python -m xtalgen.pretrained.package runs/pgcgm_mp --name pgcgm-mp-ternary --version 1.0 \\
        --data-desc "MP ternaries, 3 base sites, train split" --data-file data/mp_le20.parquet \\
        --config-name pgcgm_cpu [--registry DIR] [--default] [--overwrite]

The run's latest checkpoint is reduced to the modules generation needs (PGCGM / GAN / WGAN-GP: the
generator; diffusion: the EMA weights, else the raw model), written as ``weights.safetensors`` +
``state.json`` (a checkpoint folder the generation pipelines load directly) with the run's
``config.yaml`` and, for PGCGM, its ``conditions.csv``; the registry entry records hashes, sizes, the
data and the training budget.

``--training-data DATASET`` (PGCGM) also ships the structures the model was trained on as
``training_structures.parquet`` (a compact structure table, :mod:`xtalgen.data.structure_table`): the
rows of the prepared DATASET the run selected (its split and filters, or exactly the materials in the
run's ``train_arrays.npz`` when present), checked against the number of training materials. For a
model already in the registry::

    python -m xtalgen.pretrained.package --add-training-structures pgcgm-mp-ternary \
        --training-data data/mp_ternary_le20.parquet
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from safetensors.torch import save_file

from xtalgen.data.hashing import file_sha256
from xtalgen.pipelines.families import family_of_checkpoint, get_family, trainable_kinds
from xtalgen.pipelines.training.checkpoint import (
    FORMAT_VERSION,
    STATE_FILE,
    WEIGHTS_FILE,
    Checkpoint,
    load_checkpoint,
)
from xtalgen.pretrained.model_files import (
    CONFIG_FILE,
    MAX_MB,
    add_model_file,
    add_training_structures,
    write_training_structures,
)
from xtalgen.pretrained.registry import (
    MODELS_DIR,
    TRAINING_STRUCTURES_FILE,
    PretrainedInfo,
    read_registry,
    registry_dir,
    write_registry,
)

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def checkpoint_kind(ckpt: Checkpoint) -> str:
    """The family kind (``"pgcgm"``, ``"crystens-diffusion"``...) of a loaded training checkpoint."""
    return family_of_checkpoint(ckpt).kind


def generation_modules(kind: str, modules: list[str]) -> list[str]:
    """The modules generation loads (the generator, or the diffusion model's EMA weights)."""
    return _packaging(kind).modules(modules)


def _packaging(kind: str) -> Any:
    fam = get_family(kind)
    if fam.packaging is None:
        raise ValueError(f"model {kind!r} cannot be packaged")
    return fam.packaging


def _run_folder(ckpt: Checkpoint) -> Path:
    """The training run folder of a step checkpoint (``run/checkpoints/step_*``)."""
    return ckpt.path.parents[1] if ckpt.path.parent.name == "checkpoints" else ckpt.path.parent


def training_seconds(run: Path, config: Mapping[str, Any]) -> float | None:
    """Compute time of the run estimated from ``logs/metrics.csv`` (steps x batch x world / samples_per_s).

    Pauses between resumed sessions are not counted. None when the log is missing.
    """
    path = run / "logs" / "metrics.csv"
    if not path.is_file():
        return None
    devices, nodes = config.get("devices", 1), config.get("num_nodes", 1)
    world = (devices if isinstance(devices, int) else 1) * (nodes if isinstance(nodes, int) else 1)
    batch = int(config.get("batch_size", 1))
    total, prev = 0.0, 0
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            step, rate = int(float(row["step"])), float(row.get("samples_per_s") or 0.0)
            if rate > 0:
                total += (step - prev) * batch * world / rate
            prev = step
    return round(total, 3)


def _data_record(kind: str, ckpt: Checkpoint, run: Path, folder: Path, desc: str | Mapping[str, Any],
                 data_file: str | None) -> dict[str, Any]:  # fmt: skip
    """What the model was trained on: description, file, split, filters and number of materials."""
    record: dict[str, Any] = dict(desc) if isinstance(desc, Mapping) else {"description": str(desc)}
    data_cfg = dict(ckpt.config.get("data", {}))
    record.setdefault("split", data_cfg.get("split"))
    keys, n, data_file = _packaging(kind).data_record(ckpt, folder, data_file)
    record.setdefault("filters", {k: data_cfg[k] for k in keys if k in data_cfg})
    record.setdefault("n_materials", int(n) if n is not None else None)
    record.setdefault("file", data_file)
    return record


def _write_model_files(ckpt: Checkpoint, kind: str, folder: Path, max_mb: float) -> list[str]:
    """Write weights (kept modules only), state.json, config.yaml (and conditions.csv) into ``folder``."""
    keep = generation_modules(kind, ckpt.state.get("modules", []))
    prefixes = tuple(f"module.{m}." for m in keep)
    tensors = {k: v.contiguous() for k, v in ckpt.tensors.items() if k.startswith(prefixes)}
    if not tensors:
        raise ValueError(f"{ckpt.path}: no weights of module(s) {keep}")
    save_file(tensors, str(folder / WEIGHTS_FILE), metadata={"format": "pt", "step": str(ckpt.step)})
    mb = (folder / WEIGHTS_FILE).stat().st_size / 1e6
    if mb > max_mb:
        raise ValueError(
            f"{ckpt.path}: the generation weights ({', '.join(keep)}) are {mb:.1f} MB without optimiser state; "
            f"shipped models must be <= {max_mb:g} MB: train a smaller network (e.g. the cpu config)"
        )
    state = {
        "format_version": FORMAT_VERSION,
        "step": ckpt.step,
        "modules": keep,
        "optimizers": {},
        "config": ckpt.config,
        "sampler": {},
        "versions": ckpt.state.get("versions", {}),
        "extra": ckpt.state.get("extra", {}),
    }
    (folder / STATE_FILE).write_text(json.dumps(state, indent=1))
    run_config = _run_folder(ckpt) / CONFIG_FILE
    if run_config.is_file():
        shutil.copyfile(run_config, folder / CONFIG_FILE)
    else:
        plain = {k: v for k, v in ckpt.config.items() if not k.startswith("_")}
        (folder / CONFIG_FILE).write_text(yaml.safe_dump(plain, sort_keys=False))
    names = [WEIGHTS_FILE, STATE_FILE, CONFIG_FILE]
    for extra in _packaging(kind).extra_files(ckpt):
        shutil.copyfile(extra, folder / extra.name)
        names.append(extra.name)
    return names


def package_checkpoint(
    run_dir: str | Path,
    name: str,
    kind: str | None = None,
    version: str = "1.0",
    data_desc: str | Mapping[str, Any] = "",
    *,
    data_file: str | None = None,
    config_name: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    description: str = "",
    training_time_s: float | None = None,
    make_default: bool | None = None,
    registry: str | Path | None = None,
    max_mb: float = MAX_MB,
    overwrite: bool = False,
    training_data: str | Path | None = None,
) -> PretrainedInfo:
    """Copy the latest checkpoint of ``run_dir`` into the registry as pretrained model ``name``; return its entry.

    ``kind`` is read from the checkpoint (given, it must agree). ``data_desc``: a description string or a
    dict (keys ``description``, ``file``, ``split``, ``filters``, ``n_materials`` override what is read
    from the run). ``training_time_s`` defaults to the estimate from the run's metrics log.
    ``make_default``: make it the default of its kind (None: only if the kind has no default yet).
    ``registry``: registry folder (default: the package's, or ``$XTALGEN_PRETRAINED_DIR``).
    Refuses weights over ``max_mb`` MB and an existing ``name`` unless ``overwrite``.
    ``training_data``: the prepared dataset the run was trained on; its training rows are shipped as
    ``training_structures.parquet`` (:func:`write_training_structures`, PGCGM only).
    """
    if not _NAME.match(name):
        raise ValueError(f"name {name!r}: use lower-case letters, digits, '.', '_' and '-' (e.g. pgcgm-mp-ternary)")
    ckpt = load_checkpoint(run_dir)
    found = checkpoint_kind(ckpt)
    if kind is not None and kind != found:
        raise ValueError(f"{ckpt.path} holds a {found} model, not {kind}")
    root = registry_dir(registry)
    raw = read_registry(root)
    if any(m["name"] == name for m in raw["models"]) and not overwrite:
        raise ValueError(f"pretrained model {name!r} exists in {root}; pass overwrite=True (--overwrite) to replace")
    target = root / MODELS_DIR / name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        names = _write_model_files(ckpt, found, tmp, max_mb)
        data = _data_record(found, ckpt, _run_folder(ckpt), tmp, data_desc, data_file)
        if training_data is not None:
            data["training_structures"] = write_training_structures(
                found, ckpt.config, training_data, tmp / TRAINING_STRUCTURES_FILE, run=_run_folder(ckpt),
                expected=data.get("n_materials"),
            )  # fmt: skip
            names.append(TRAINING_STRUCTURES_FILE)
        files = {f: {"sha256": file_sha256(tmp / f), "size": (tmp / f).stat().st_size} for f in names}
        total = sum(meta["size"] for meta in files.values())
        if total > max_mb * 1e6:
            raise ValueError(f"pretrained model {name!r}: {total / 1e6:.1f} MB in all; the limit is {max_mb:g} MB")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    run = _run_folder(ckpt)
    info = PretrainedInfo(
        name=name, kind=found, version=str(version), path=f"{MODELS_DIR}/{name}", files=files,
        sha256=files[WEIGHTS_FILE]["sha256"], size_bytes=total, config=config_name or f"{CONFIG_FILE} (custom)",
        data=data, steps=ckpt.step,
        training_time_s=training_time_s if training_time_s is not None else training_seconds(run, ckpt.config),
        date=time.strftime("%Y-%m-%d"), metrics=dict(metrics or {}), description=description,
    )  # fmt: skip
    raw["models"] = [m for m in raw["models"] if m["name"] != name] + [info.to_dict()]
    if make_default or (make_default is None and found not in raw["defaults"]):
        raw["defaults"][found] = name
    write_registry(raw, root)
    return info


def main(argv: list[str] | None = None) -> int:
    """``python -m xtalgen.pretrained.package RUN_DIR --name NAME ...`` (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m xtalgen.pretrained.package", description=__doc__.split("\n")[0])
    p.add_argument("run_dir", type=Path, nargs="?", help="training run folder (or one of its checkpoints)")
    p.add_argument("--name", help="registry name, e.g. pgcgm-mp-ternary")
    p.add_argument("--training-data", type=Path, help="prepared dataset the run was trained on: ship its training "
                   "structures (PGCGM)")  # fmt: skip
    p.add_argument(
        "--add-training-structures",
        metavar="NAME",
        help="add the training structures (--training-data) to model NAME already in the registry",
    )
    p.add_argument("--add-file", nargs=2, metavar=("NAME", "FILE"),
                   help="copy FILE into model NAME already in the registry and record it (e.g. a stability classifier)")
    p.add_argument("--kind", choices=trainable_kinds(), help="expected kind (read from the checkpoint)")
    p.add_argument("--version", default="1.0")
    p.add_argument("--data-desc", default="", help="what the model was trained on (free text)")
    p.add_argument("--data-file", help="the training data file (recorded as given)")
    p.add_argument("--config-name", help="the config the run used, e.g. pgcgm_cpu")
    p.add_argument("--metrics", type=Path, help="JSON file of evaluation metrics to record")
    p.add_argument("--description", default="")
    p.add_argument("--training-time", type=float, help="training time, s (default: from the metrics log)")
    p.add_argument("--default", action="store_true", help="make it the default model of its kind")
    p.add_argument("--registry", type=Path, help="registry folder (default: the package's)")
    p.add_argument("--max-mb", type=float, default=MAX_MB)
    p.add_argument("--overwrite", action="store_true")
    args = p.parse_args(argv)
    if args.add_file:
        try:
            info = add_model_file(args.add_file[0], args.add_file[1], registry=args.registry, max_mb=args.max_mb)
        except (ValueError, FileNotFoundError) as exc:
            print(f"error: {exc}")
            return 1
        print(f"added {Path(args.add_file[1]).name} to {info.name}; the model is {info.size_mb:.2f} MB in all")
        return 0
    if args.add_training_structures:
        if args.training_data is None:
            p.error("--add-training-structures needs --training-data DATASET")
        try:
            info = add_training_structures(args.add_training_structures, args.training_data,
                                           registry=args.registry, max_mb=args.max_mb)  # fmt: skip
        except (ValueError, FileNotFoundError) as exc:
            print(f"error: {exc}")
            return 1
        ts = info.data["training_structures"]
        size = info.files[TRAINING_STRUCTURES_FILE]["size"]
        print(f"added {ts['n_structures']} training structures ({size / 1e6:.2f} MB) to {info.name}; "
              f"the model is {info.size_mb:.2f} MB in all")  # fmt: skip
        return 0
    if args.run_dir is None or not args.name:
        p.error("give RUN_DIR and --name (or --add-training-structures NAME --training-data DATASET)")
    metrics = json.loads(args.metrics.read_text()) if args.metrics else None
    try:
        info = package_checkpoint(
            args.run_dir, args.name, args.kind, args.version, args.data_desc, data_file=args.data_file,
            config_name=args.config_name, metrics=metrics, description=args.description,
            training_time_s=args.training_time, make_default=True if args.default else None,
            registry=args.registry, max_mb=args.max_mb, overwrite=args.overwrite, training_data=args.training_data,
        )  # fmt: skip
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}")
        return 1
    print(f"packaged {info.name} ({info.kind}, step {info.steps}, {info.size_mb:.2f} MB) into "
          f"{registry_dir(args.registry) / info.path}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

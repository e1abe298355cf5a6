"""Train a CrysTens model (vanilla GAN, WGAN-GP or diffusion) with the shared Fabric loop.

Run folder layout (``out_dir``)::

    config.yaml                      the resolved config
    train_crystens.npy (+ sidecars)  the encoded training set, when ``data`` was a prepared dataset
    checkpoints/step_*/              safetensors weights + state.json (kind, CrysTens config in "extra")
    logs/metrics.csv                 loss terms per logged step
    conditions.csv                   diffusion: (space group, reduced formula, count) of the training rows
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xtalgen.pipelines.crystens.drawn import CONDITIONS_FILE
from xtalgen.pipelines.crystens.tasks import CONFIG_CLASSES, KINDS, TASKS, CrysTensBatches
from xtalgen.pipelines.training import TrainingConfig, fit, load_config, make_fabric
from xtalgen.representations.crystens import CrysTensConfig, EncodedSet, encode_dataset, load_encoded
from xtalgen.representations.crystens.config import FIRST_ATOM, ROW_SG, ROW_Z

ENCODED_FILE = "train_crystens.npy"


def load_crystens_config(
    kind: str, config: str | Path | Mapping[str, Any] | TrainingConfig | None = None, overrides: Iterable[str] = ()
) -> Any:
    """The validated training config of ``kind`` ("gan", "wgan", "diffusion") from a file/dict + overrides."""
    if kind not in KINDS:
        raise ValueError(f"kind: must be one of {list(KINDS)}, got {kind!r}")
    return load_config(CONFIG_CLASSES[kind], config, list(overrides))


def conditions_from_tensors(
    tensors: np.ndarray, config: CrysTensConfig, n_elements: int = 100, chunk: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Space group (M,) and element counts (M, n_elements) read from the header of encoded CrysTens.

    Reads layer 0 only (encoded tensors repeat every value exactly): atoms are the slots whose Z entry
    is above the empty level, Z and the space group are the rounded denormalised entries.
    """
    m = len(tensors)
    sg = np.zeros(m, dtype=np.int64)
    counts = np.zeros((m, n_elements), dtype=np.float32)
    thr = config.presence_threshold
    for start in range(0, m, chunk):
        block = np.asarray(tensors[start : start + chunk, 0, :, FIRST_ATOM:], dtype=np.float64)
        z_norm = block[:, ROW_Z]
        present = z_norm > thr
        z = np.rint(config.atomic_number.denormalise(z_norm)).astype(np.int64)
        if (z[present] > n_elements).any():
            raise ValueError(f"composition vectors hold Z <= {n_elements}; the data has Z = {z[present].max()}")
        sg_vals = config.spacegroup.denormalise(block[:, ROW_SG])
        n_present = present.sum(axis=1)
        mean_sg = np.where(n_present > 0, (sg_vals * present).sum(axis=1) / np.maximum(n_present, 1), 0)
        sg[start : start + len(block)] = np.clip(np.rint(mean_sg), 0, 230).astype(np.int64)
        rows, cols = np.nonzero(present)
        np.add.at(counts, (start + rows, z[rows, cols] - 1), 1.0)
    return sg, counts


def _encode_prepared(data: Path, cfg: Any, out: Path, progress: bool) -> None:
    from xtalgen.data.dataset import load_dataset

    ds = load_dataset(data)
    if cfg.data.split != "all":
        ds = ds.subset(split=cfg.data.split)
    if cfg.data.max_samples and len(ds) > cfg.data.max_samples:
        rng = np.random.default_rng([cfg.seed, 11])
        ds = ds.subset(indices=np.sort(rng.choice(len(ds), cfg.data.max_samples, replace=False)).tolist())
    ct = CrysTensConfig(size=cfg.data.size, cell=cfg.data.cell, distance=cfg.data.distance, symprec=ds.symprec)
    report = encode_dataset(ds, out, ct, workers=cfg.data.workers, progress=progress)
    if report.encoded == 0:
        raise ValueError(f"no structure of {data} could be encoded (skipped: {report.counts_by_reason()})")


def training_set(data: str | Path | EncodedSet, cfg: Any, out_dir: Path, fabric: Any = None) -> tuple[EncodedSet, Any]:
    """The encoded training set and the row selection: a CrysTens ``.npy`` is used as is, a prepared
    dataset is encoded once into the run folder (by rank 0; the others wait)."""
    if isinstance(data, EncodedSet):
        encoded = data
    else:
        path = Path(data)
        if not path.exists():
            raise FileNotFoundError(f"training data {path}: not found")
        if path.suffix == ".npy":
            encoded = load_encoded(path)
        else:
            target = out_dir / ENCODED_FILE
            rank0 = fabric is None or fabric.is_global_zero
            if rank0 and not target.exists():
                _encode_prepared(path, cfg, target, progress=cfg.progress)
            if fabric is not None:
                fabric.barrier()
            encoded = load_encoded(target)
    rows = None
    if path_is_npy(data) and cfg.data.max_samples and len(encoded.tensors) > cfg.data.max_samples:
        rng = np.random.default_rng([cfg.seed, 11])
        rows = np.sort(rng.choice(len(encoded.tensors), cfg.data.max_samples, replace=False))
    return encoded, rows


def _write_drawn_table(encoded: EncodedSet, rows: np.ndarray | None, run: Path) -> None:
    """The run's table for ``conditions=drawn`` sampling, from the training rows' tensor headers."""
    from xtalgen.pipelines.crystens.conditions_table import write_conditions_table

    tensors = encoded.tensors if rows is None else encoded.tensors[rows]
    write_conditions_table(run, *conditions_from_tensors(tensors, encoded.config))


def path_is_npy(data: Any) -> bool:
    return isinstance(data, EncodedSet) or Path(data).suffix == ".npy"


def train_crystens(
    kind: str,
    data: str | Path | EncodedSet,
    config: str | Path | Mapping[str, Any] | TrainingConfig | None = None,
    out_dir: str | Path | None = None,
    *,
    resume: bool = False,
    overrides: Iterable[str] = (),
) -> Path:
    """Train a CrysTens ``kind`` model on ``data``; return the final checkpoint folder.

    ``data``: a CrysTens ``.npy`` from ``xtalgen crystens encode`` (its ``.config.json`` beside it), or a
    prepared dataset (encoded into the run folder with the config's ``data`` section). ``config``: YAML/TOML
    path, dict or config object (``configs/crystens_<kind>_{tiny,cpu,gpu}.yaml``); ``overrides``:
    ``key=value`` strings. ``out_dir`` (default: the config's ``out_dir``) holds checkpoints and logs;
    ``resume=True`` continues exactly from its latest checkpoint.
    """
    cfg = load_crystens_config(kind, config, overrides)
    if out_dir is not None:
        cfg.out_dir = str(out_dir)
    run = Path(cfg.out_dir)
    fabric = make_fabric(cfg)
    fabric.launch()
    if fabric.is_global_zero:
        run.mkdir(parents=True, exist_ok=True)
    encoded, rows = training_set(data, cfg, run, fabric)
    ct = encoded.config
    sg = comp = None
    if kind == "diffusion" and cfg.conditioning.enabled:
        sg, comp = conditions_from_tensors(encoded.tensors, ct, cfg.conditioning.n_elements)
        if not cfg.conditioning.spacegroup:
            sg = None
        # atomic fractions, as composition_vector() gives at sampling time
        comp = comp / np.maximum(comp.sum(axis=1, keepdims=True), 1.0) if cfg.conditioning.composition else None
    if kind == "diffusion" and fabric.is_global_zero and not (run / CONDITIONS_FILE).exists():
        _write_drawn_table(encoded, rows, run)
    source = CrysTensBatches(encoded.tensors, rows, sg, comp)
    meta = {
        "crystens": ct.to_dict(),
        "n_train": len(source),
        "data": str(data if not isinstance(data, EncodedSet) else ""),
    }
    task = TASKS[kind](cfg, ct.size, meta)
    return fit(task, source, cfg, resume=resume, fabric=fabric)

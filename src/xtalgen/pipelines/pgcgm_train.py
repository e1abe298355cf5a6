"""Train PGCGM (physics-guided conditional WGAN-GP over base atom sites) with exact resume.

Run folder layout (``out_dir``)::

    config.yaml            the resolved config
    train_arrays.npz       the self-augmented training samples (reused on resume, so data are identical)
    conditions.csv         space group + base-site elements of every training material (sampling table)
    checkpoints/step_*/    safetensors weights + state.json (written by the shared training loop)
    logs/metrics.csv       loss terms per logged step
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from xtalgen.data.atomic import atomic_write
from xtalgen.data.records import ReadReport
from xtalgen.pipelines.pgcgm_task import (
    BaseSiteBatches,
    PGCGMConfig,
    PGCGMDataConfig,
    PGCGMTask,
    lattice_stats,
)
from xtalgen.pipelines.training import fit, load_config
from xtalgen.representations.basesites.batch import BaseSiteArrays, build_training_arrays

ARRAYS_FILE = "train_arrays.npz"
CONDITIONS_FILE = "conditions.csv"
REJECTIONS_FILE = "rejected_materials.csv"


def _symbol(z: int) -> str:
    from pymatgen.core import Element

    return Element.from_Z(int(z)).symbol


def select_materials(ds: Any, data_cfg: PGCGMDataConfig, *, seed: int = 0) -> np.ndarray:
    """Rows of a prepared dataset (already reduced to ``data_cfg.split``) that pass the data filters:
    number of elements, number of base sites, then ``max_materials`` drawn with ``seed``."""
    frame = ds.frame
    keep = np.ones(len(ds), dtype=bool)
    if data_cfg.nelements:
        keep &= frame["nelements"].isin(data_cfg.nelements).to_numpy()
    if data_cfg.n_base_sites and "n_base_sites" in frame:
        keep &= frame["n_base_sites"].isin(data_cfg.n_base_sites).to_numpy()
    rows = np.flatnonzero(keep)
    if data_cfg.max_materials and len(rows) > data_cfg.max_materials:
        rng = np.random.default_rng([seed, 7])
        rows = np.sort(rng.choice(rows, data_cfg.max_materials, replace=False))
    return rows


def load_training_arrays(
    data: str | Path | BaseSiteArrays, data_cfg: PGCGMDataConfig, *, seed: int = 0,
    n_sets: int = 3, max_base_sites: int = 3, rejections: Path | None = None,
    console: Console | None = None,
) -> BaseSiteArrays:  # fmt: skip
    """Training samples from a saved BaseSiteArrays ``.npz``, an in-memory one, or a prepared dataset.

    For a prepared dataset (``xtalgen data prepare`` output) the ``data_cfg`` split and filters
    (number of elements, number of base sites, ``max_materials`` drawn with ``seed``) are applied and
    each material is self-augmented ``n_augment`` times; materials that cannot be encoded are listed
    in ``rejections`` (CSV) with their reason.
    """
    if isinstance(data, BaseSiteArrays):
        arrays = data
    elif Path(data).suffix == ".npz":
        arrays = BaseSiteArrays.load_npz(data)
    else:
        from xtalgen.data.dataset import load_dataset

        path = Path(data)
        if not path.exists():
            raise ValueError(f"training data {path}: not found")
        ds = load_dataset(path)
        if data_cfg.split != "all":
            ds = ds.subset(split=data_cfg.split)
        rows = select_materials(ds, data_cfg, seed=seed)
        if len(rows) == 0:
            raise ValueError(
                f"training data {path}: no material passes the filters (split={data_cfg.split}, "
                f"nelements={data_cfg.nelements}, n_base_sites={data_cfg.n_base_sites})"
            )
        report = ReadReport()
        arrays = build_training_arrays(
            ds.subset(indices=rows), n_augment=data_cfg.n_augment, n_sets=n_sets,
            max_base_sites=max_base_sites, seed=seed, symprec=data_cfg.symprec, report=report,
            console=console,
        )  # fmt: skip
        if rejections is not None and report.rejections:
            report.to_csv(rejections)
    if arrays.max_base_sites != max_base_sites or arrays.n_sets != n_sets:
        raise ValueError(
            f"training arrays have K={arrays.max_base_sites} base sites and S={arrays.n_sets} sets; "
            f"the model config asks for n_sites={max_base_sites}, n_sets={n_sets}"
        )
    return arrays


def condition_table(arrays: BaseSiteArrays) -> list[dict[str, Any]]:
    """One row per distinct (space group, base-site elements) of the training materials, with counts."""
    first = np.unique(arrays.material_index, return_index=True)[1]
    counts: Counter[tuple[int, str]] = Counter()
    for i in first:
        zs = arrays.element_z[i][arrays.site_mask[i]]
        elems = " ".join(_symbol(z) for z in zs)
        counts[(int(arrays.spacegroup[i]), elems)] += 1
    return [
        {"spacegroup": sg, "elements": elems, "count": n}
        for (sg, elems), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def write_condition_table(arrays: BaseSiteArrays, path: Path) -> Path:
    """Write :func:`condition_table` as CSV (atomic)."""
    with atomic_write(path, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["spacegroup", "elements", "count"])
        writer.writeheader()
        writer.writerows(condition_table(arrays))
    return path


def train_pgcgm(
    data: str | Path | BaseSiteArrays,
    config: str | Path | Mapping[str, Any] | PGCGMConfig | None,
    out_dir: str | Path,
    resume: bool = False,
    overrides: list[str] | Mapping[str, Any] = (),
) -> Path:
    """Train PGCGM on ``data``; return the final checkpoint folder.

    ``data``: a prepared dataset file, a saved BaseSiteArrays ``.npz`` or a BaseSiteArrays.
    ``config``: a YAML/TOML path, dict or :class:`PGCGMConfig` (``out_dir`` here wins over the
    config's); ``overrides``: ``key=value`` strings or a nested dict applied on top.
    ``resume=True`` continues exactly from the latest checkpoint in ``out_dir``, reusing
    the training samples saved there.
    """
    out = Path(out_dir)
    cfg = load_config(PGCGMConfig, config, overrides)
    cfg = load_config(PGCGMConfig, cfg, {"out_dir": str(out)})
    if cfg.torch_threads:
        import torch

        torch.set_num_threads(cfg.torch_threads)
    out.mkdir(parents=True, exist_ok=True)
    cached = out / ARRAYS_FILE
    if resume and cached.is_file():
        arrays = BaseSiteArrays.load_npz(cached)
    else:
        arrays = load_training_arrays(
            data, cfg.data, seed=cfg.seed, n_sets=cfg.model.n_sets, max_base_sites=cfg.model.n_sites,
            rejections=out / REJECTIONS_FILE,
        )  # fmt: skip
        arrays.save_npz(cached)
    write_condition_table(arrays, out / CONDITIONS_FILE)
    task = PGCGMTask(cfg, lattice_stats(arrays), element_dim=arrays.element_features.shape[-1])
    return fit(task, BaseSiteBatches(arrays), cfg, resume=resume)

"""Train PGCGM (physics-guided conditional WGAN-GP over base atom sites) with exact resume.

Run folder layout (``out_dir``)::

    config.yaml            the resolved config
    train_arrays.npz       the self-augmented training samples (reused on resume, so data are identical)
    conditions.csv         space group + base-site elements of every training material (sampling table)
    checkpoints/step_*/    safetensors weights + state.json (written by the shared training loop)
    logs/metrics.csv       loss terms per logged step
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from xtalgen.data.records import ReadReport
from xtalgen.pipelines.pgcgm.conditions import CONDITIONS_FILE, write_condition_table
from xtalgen.pipelines.pgcgm.task import (
    BaseSiteBatches,
    PGCGMConfig,
    PGCGMDataConfig,
    PGCGMTask,
    lattice_stats,
)
from xtalgen.pipelines.training import fit, load_config
from xtalgen.representations.basesites.training_arrays import BaseSiteArrays, build_training_arrays

ARRAYS_FILE = "train_arrays.npz"
REJECTIONS_FILE = "rejected_materials.csv"


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


def arrays_from_table(
    path: Path, data_cfg: PGCGMDataConfig, *, seed: int = 0, n_sets: int = 3, max_base_sites: int = 3,
    console: Console | None = None,
) -> BaseSiteArrays:  # fmt: skip
    """Self-augmented samples of the materials of a base-site table (already encoded, so seconds).

    The ``data_cfg`` filters (number of distinct elements, number of base sites, ``max_materials`` drawn
    with ``seed``) apply; materials with more than ``max_base_sites`` base sites are left out. The
    table's own split is used as is. Samples of the j-th kept material come from ``SeedSequence([seed, j])``.
    """
    from xtalgen.representations.basesites.augment import augment_sets
    from xtalgen.representations.basesites.table import read_base_site_table
    from xtalgen.representations.basesites.training_arrays import encode_arrays

    bases = read_base_site_table(path)
    n_read = len(bases)
    bases = [b for b in bases if b.n_sites <= max_base_sites
             and (not data_cfg.nelements or len(set(b.species)) in data_cfg.nelements)
             and (not data_cfg.n_base_sites or b.n_sites in data_cfg.n_base_sites)]  # fmt: skip
    if data_cfg.max_materials and len(bases) > data_cfg.max_materials:
        keep = np.sort(np.random.default_rng([seed, 7]).choice(len(bases), data_cfg.max_materials, replace=False))
        bases = [bases[i] for i in keep]
    if not bases:
        raise ValueError(f"training data {path}: no material passes the filters (nelements={data_cfg.nelements}, "
                         f"n_base_sites={data_cfg.n_base_sites}, at most {max_base_sites} base sites)")  # fmt: skip
    coords = [augment_sets(b, data_cfg.n_augment, n_sets, np.random.default_rng(np.random.SeedSequence([seed, j])))
              for j, b in enumerate(bases)]  # fmt: skip
    (console or Console(stderr=True)).print(
        f"base-site table: {len(bases)} of {n_read} materials → {len(bases) * data_cfg.n_augment} samples")
    return encode_arrays(bases, coords, max_base_sites=max_base_sites)


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
    A base-site table (``xtalgen.representations.basesites.table``) is augmented directly
    (:func:`arrays_from_table`).
    """
    from xtalgen.representations.basesites.table import is_base_site_table

    if isinstance(data, BaseSiteArrays):
        arrays = data
    elif is_base_site_table(data):
        arrays = arrays_from_table(Path(data), data_cfg, seed=seed, n_sets=n_sets, max_base_sites=max_base_sites,
                                   console=console)  # fmt: skip
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
    if cfg.torch_threads or cfg.matmul_tf32:
        import torch

        if cfg.torch_threads:
            torch.set_num_threads(cfg.torch_threads)
        if cfg.matmul_tf32:  # before the trainer starts (Lightning checks it when it sets up the device)
            torch.set_float32_matmul_precision("high")
    out.mkdir(parents=True, exist_ok=True)
    cached = out / ARRAYS_FILE
    from xtalgen.representations.basesites.table import is_base_site_table

    if resume and cached.is_file():
        arrays = BaseSiteArrays.load_npz(cached)
    else:
        arrays = load_training_arrays(
            data, cfg.data, seed=cfg.seed, n_sets=cfg.model.n_sets, max_base_sites=cfg.model.n_sites,
            rejections=out / REJECTIONS_FILE,
        )  # fmt: skip
        if not (isinstance(data, str | Path) and is_base_site_table(data)):  # a table re-augments identically
            arrays.save_npz(cached)
    if cfg.model.wyckoff_features:  # the general model samples Wyckoff templates (with multiplicities)
        from xtalgen.pipelines.pgcgm.templates import write_template_table

        write_template_table(arrays, out / CONDITIONS_FILE)
    else:
        write_condition_table(arrays, out / CONDITIONS_FILE)
    task = PGCGMTask(cfg, lattice_stats(arrays), element_dim=arrays.element_features.shape[-1])
    return fit(task, BaseSiteBatches(arrays), cfg, resume=resume)


def training_rows(config: Mapping[str, Any], dataset: Any, run: Path | None = None) -> np.ndarray:
    """Rows of the prepared ``dataset`` a training run with ``config`` learned from.

    The config's split and filters (:func:`select_materials`), then only the materials that encode as
    base sites: exactly those in the run's ``train_arrays.npz`` when the run folder is given and keeps
    it, else the ones the training encoder accepts (the same check, repeated; materials it rejects never
    reached the model).
    """
    cfg = load_config(PGCGMConfig, {k: v for k, v in config.items() if k != "_class"})
    split = cfg.data.split
    base = np.arange(len(dataset))
    if split != "all":
        base = np.flatnonzero(dataset.frame["split"].to_numpy() == split)
    rows = base[select_materials(dataset.subset(indices=base), cfg.data, seed=cfg.seed)]
    arrays = run / ARRAYS_FILE if run is not None else None
    if arrays is not None and arrays.is_file():
        encoded = BaseSiteArrays.load_npz(arrays)
    else:  # one sample per material is enough to learn which materials encode
        encoded = build_training_arrays(
            dataset.subset(indices=rows), n_augment=1, n_sets=cfg.model.n_sets, max_base_sites=cfg.model.n_sites,
            seed=cfg.seed, symprec=cfg.data.symprec, progress=False, console=Console(file=io.StringIO()),
        )  # fmt: skip
    wanted = {str(i) for i in np.asarray(encoded.material_ids)[np.unique(encoded.material_index)]}
    ids = dataset.frame["id"].astype(str).to_numpy()
    kept = np.array([r for r in rows if ids[r] in wanted], dtype=int)
    if len(kept) != len(wanted):
        raise ValueError(f"{len(wanted) - len(kept)} training materials of {arrays} are not in the dataset "
                         "(or not in its split/filters): give the dataset the run was trained on")  # fmt: skip
    return kept

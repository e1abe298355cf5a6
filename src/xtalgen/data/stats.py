"""Describe a prepared dataset: summary counts and PNG plots of its distributions."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from xtalgen.data.atomic import atomic_path
from xtalgen.data.dataset import PreparedDataset


def lattice_parameters(ds: PreparedDataset) -> np.ndarray:
    """(n, 6) array of a, b, c (Å) and α, β, γ (degrees) for every entry."""
    mats = np.stack([ds.lattice_matrix(i) for i in range(len(ds))]) if len(ds) else np.zeros((0, 3, 3))
    lengths = np.linalg.norm(mats, axis=2)
    out = np.zeros((len(ds), 6))
    out[:, :3] = lengths
    for k, (i, j) in enumerate(((1, 2), (0, 2), (0, 1))):
        cos = np.einsum("nk,nk->n", mats[:, i], mats[:, j]) / (lengths[:, i] * lengths[:, j])
        out[:, 3 + k] = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return out


def atomic_numbers(ds: PreparedDataset) -> np.ndarray:
    """Atomic numbers of every site of every entry, concatenated."""
    _, values = ds._sites["numbers"]  # noqa: SLF001 - same module family, flat Arrow buffer
    return np.asarray(values, dtype=int)


def dataset_summary(ds: PreparedDataset) -> dict[str, Any]:
    """Counts and the most common space groups / elements of a prepared dataset."""
    frame = ds.frame
    n = len(ds)
    sg_counts = Counter(frame["spacegroup"].tolist()).most_common(10)
    el_counts = Counter(e for els in frame["elements"] for e in els).most_common(10)
    split_counts = Counter(frame["split"].tolist())
    nsites = frame["nsites"].to_numpy()
    return {
        "structures": n,
        "splits": ", ".join(f"{k} {split_counts.get(k, 0)}" for k in ("train", "val", "test")),
        "distinct space groups": int(frame["spacegroup"].nunique()),
        "top space groups": ", ".join(f"{sg} ({c})" for sg, c in sg_counts),
        "distinct elements": len({e for els in frame["elements"] for e in els}),
        "top elements (structures)": ", ".join(f"{e} ({c})" for e, c in el_counts),
        "sites per cell (min/median/max)": f"{nsites.min()}/{int(np.median(nsites))}/{nsites.max()}" if n else "-",
        "elements per structure (mean)": f"{frame['nelements'].mean():.2f}" if n else "-",
        "base sites per structure (mean)": f"{frame['n_base_sites'].mean():.2f}" if n else "-",
        "symprec (Å)": ds.symprec,
    }


def plot_distributions(ds: PreparedDataset, out_dir: str | Path) -> list[Path]:
    """Write PNG histograms: lattice lengths, angles, space groups, atomic numbers, sites per cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = lattice_parameters(ds)
    frame = ds.frame
    panels: dict[str, tuple[list[np.ndarray], list[str], str, Any]] = {
        "lattice_lengths": ([params[:, 0], params[:, 1], params[:, 2]], ["a", "b", "c"], "length (Å)", 60),
        "lattice_angles": ([params[:, 3], params[:, 4], params[:, 5]], ["α", "β", "γ"], "angle (degrees)", 60),
        "spacegroups": ([frame["spacegroup"].to_numpy()], ["space group"], "space group number", np.arange(0.5, 231.5)),
        "atomic_numbers": ([atomic_numbers(ds)], ["Z"], "atomic number", np.arange(0.5, 95.5)),
        "sites_per_cell": ([frame["nsites"].to_numpy()], ["sites"], "sites per cell", 50),
    }
    written = []
    for name, (series, labels, xlabel, bins) in panels.items():
        fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
        for values, label in zip(series, labels, strict=True):
            ax.hist(values, bins=bins, alpha=0.6, label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("count")
        ax.set_title(f"{name.replace('_', ' ')} (n={len(ds)})")
        if len(series) > 1:
            ax.legend()
        fig.tight_layout()
        target = out / f"{name}.png"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format="png")
        plt.close(fig)
        written.append(target)
    return written

"""Report figures: generated-vs-test distribution overlays and the E_hull histogram (PNG via matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from xtalgen.evaluation.distributions import property_values

#: (column, axis label, integer-valued) for each distribution panel.
PANELS = (
    ("a", "a (Å)", False),
    ("b", "b (Å)", False),
    ("c", "c (Å)", False),
    ("alpha", "α (°)", False),
    ("beta", "β (°)", False),
    ("gamma", "γ (°)", False),
    ("density", "density (g/cm³)", False),
    ("volume", "volume (Å³)", False),
    ("nsites", "sites per cell", True),
    ("nelements", "elements", True),
    ("spacegroup", "space group number", True),
    ("atomic_numbers", "atomic number", True),
)


def _figure(nrows: int, ncols: int, size: tuple[float, float]):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(nrows, ncols, figsize=size)


def _bins(g: np.ndarray, r: np.ndarray, integer: bool) -> np.ndarray:
    both = np.concatenate([g, r])
    lo, hi = np.percentile(both, [0.5, 99.5]) if len(both) else (0.0, 1.0)
    if integer:
        lo, hi = np.floor(both.min()), np.ceil(both.max())
        step = max(1.0, np.ceil((hi - lo + 1) / 60))
        return np.arange(lo - 0.5, hi + step + 0.5, step)
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, 41)


def plot_distributions(
    generated: pd.DataFrame, reference: pd.DataFrame, path: str | Path, metrics: dict[str, float] | None = None
) -> Path:
    """Histogram overlays (probability per bin) of generated vs test descriptors; returns the PNG path."""
    import matplotlib.pyplot as plt

    fig, axes = _figure(3, 4, (16, 10))
    metrics = metrics or {}
    for ax, (key, label, integer) in zip(axes.ravel(), PANELS, strict=True):
        g, r = property_values(generated, key), property_values(reference, key)
        if not len(g) and not len(r):
            ax.set_visible(False)
            continue
        bins = _bins(g, r, integer)
        for values, name, colour in ((r, "test", "tab:blue"), (g, "generated", "tab:orange")):
            if len(values):
                weights = np.full(len(values), 1.0 / len(values))
                ax.hist(values, bins=bins, weights=weights, alpha=0.55, color=colour, label=f"{name} ({len(values)})")
        stat = metrics.get(f"ks.{key}", metrics.get(f"wasserstein.{key}"))
        kind = "K–S" if f"ks.{key}" in metrics else "W" if f"wasserstein.{key}" in metrics else ""
        ax.set_title(f"{label}" + (f"  {kind} = {stat:.3f}" if stat is not None and np.isfinite(stat) else ""))
        ax.set_ylabel("fraction")
    axes.ravel()[0].legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def plot_ehull(e_hull: np.ndarray, path: str | Path, clip: tuple[float, float] = (-0.5, 2.0)) -> Path:
    """Histogram of E_hull (eV/atom) with the stable (0) and metastable (0.1) thresholds marked."""
    import matplotlib.pyplot as plt

    values = np.asarray(e_hull, dtype=float)
    values = values[np.isfinite(values)]
    fig, ax = _figure(1, 1, (7, 4.5))
    if len(values):
        ax.hist(np.clip(values, *clip), bins=50, range=clip, color="tab:green", alpha=0.8)
    ax.axvline(0.0, color="k", ls="--", lw=1, label="stable (0)")
    ax.axvline(0.1, color="tab:red", ls=":", lw=1.5, label="metastable (0.1 eV/atom)")
    ax.set_xlabel(f"E above hull (eV/atom, clipped to {clip[0]}…{clip[1]})")
    ax.set_ylabel("samples")
    ax.set_title(f"E_hull of {len(values)} relaxed samples")
    ax.legend()
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out

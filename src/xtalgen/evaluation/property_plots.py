"""Violin plots of the computed property distributions, generated vs reference (PNG via matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from xtalgen.evaluation.plots import _figure
from xtalgen.evaluation.property_distributions import PROPERTIES, finite_values

#: Central share of the values the y axis shows (outliers beyond it are drawn at the edge).
_SHOWN = (1.0, 99.0)


def _draw(ax, values: np.ndarray, position: int, colour: str) -> None:  # type: ignore[no-untyped-def]
    """One violin (a strip of points when there are too few distinct values for a density estimate)."""
    if len(np.unique(values)) >= 3:
        parts = ax.violinplot([values], positions=[position], showmedians=True, widths=0.8)
        for body in parts["bodies"]:
            body.set_facecolor(colour)
            body.set_alpha(0.55)
    elif len(values):
        ax.scatter(np.full(len(values), position), values, color=colour, s=12)


def plot_property_violins(
    generated: pd.DataFrame,
    reference: pd.DataFrame,
    path: str | Path,
    metrics: dict[str, float] | None = None,
    reference_label: str = "training",
) -> Path:
    """One panel per property of :data:`~xtalgen.evaluation.property_distributions.PROPERTIES`: violins
    of the reference (left) and generated (right) values, K–S statistic in the title; returns the PNG path."""
    import matplotlib.pyplot as plt

    metrics = metrics or {}
    fig, axes = _figure(1, len(PROPERTIES), (3.4 * len(PROPERTIES), 4.6))
    for ax, (key, column, label) in zip(np.ravel(axes), PROPERTIES, strict=True):
        r, g = finite_values(reference, column), finite_values(generated, column)
        both = np.concatenate([r, g])
        if len(both):
            lo, hi = np.percentile(both, _SHOWN)
            pad = 0.05 * (hi - lo) if hi > lo else 0.5
            lo, hi = lo - pad, hi + pad
            _draw(ax, np.clip(r, lo, hi), 0, "tab:blue")
            _draw(ax, np.clip(g, lo, hi), 1, "tab:orange")
            ax.set_ylim(lo, hi)
        ax.set_xticks([0, 1], [f"{reference_label}\n({len(r)})", f"generated\n({len(g)})"])
        ks = metrics.get(f"properties.ks.{key}")
        ax.set_title(label + (f"\nK–S = {ks:.3f}" if ks is not None and np.isfinite(ks) else ""), fontsize=10)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out

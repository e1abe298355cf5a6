"""Distribution distances between generated samples and the test set (or the training set).

Wasserstein distance (scipy) of density (g/cm³) and number of elements, as CDVAE reports them;
Kolmogorov–Smirnov statistic (scipy, two-sample) of a, b, c (Å), α, β, γ (°), space-group number,
atomic numbers (pooled over all sites) and sites per cell, the comparison of the CrysTens paper
(Alverson et al., Digital Discovery 2024, Figs. 4–6). Only structurally valid samples enter.

Like for like: both sides are described by their primitive, Niggli-reduced cells
(:func:`xtalgen.evaluation.properties.reduced_cell`), so a generator that writes conventional cells
(36 sites for an Fm-3m cell whose primitive cell has 9) is not told apart from a set of primitive
cells by the cell convention alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp, wasserstein_distance

if TYPE_CHECKING:
    from xtalgen.evaluation.base import EvalContext

#: Properties compared with the Wasserstein distance.
WASSERSTEIN_KEYS = ("density", "nelements")
#: Properties compared with the K–S statistic (``atomic_numbers`` is pooled over sites).
KS_KEYS = ("a", "b", "c", "alpha", "beta", "gamma", "spacegroup", "atomic_numbers", "nsites")


def property_values(frame: pd.DataFrame, key: str) -> np.ndarray:
    """Finite values of one property column (atomic numbers flattened over all sites)."""
    if key not in frame.columns:
        return np.zeros(0)
    if key == "atomic_numbers":
        values = np.concatenate([np.asarray(v, dtype=float) for v in frame[key] if isinstance(v, list)] or [[]])
    else:
        values = pd.to_numeric(frame[key], errors="coerce").to_numpy(dtype=float)
    return values[np.isfinite(values)]


def distribution_distances(generated: pd.DataFrame, reference: pd.DataFrame) -> dict[str, float]:
    """``wasserstein.<key>`` and ``ks.<key>`` for every property; NaN when either side is empty."""
    out: dict[str, float] = {}
    for key in WASSERSTEIN_KEYS:
        g, r = property_values(generated, key), property_values(reference, key)
        out[f"wasserstein.{key}"] = float(wasserstein_distance(g, r)) if len(g) and len(r) else float("nan")
    for key in KS_KEYS:
        g, r = property_values(generated, key), property_values(reference, key)
        out[f"ks.{key}"] = float(ks_2samp(g, r).statistic) if len(g) and len(r) else float("nan")
    return out


class Distributions:
    """Wasserstein and K–S distances of generated (valid) vs reference property distributions, both
    described by their primitive Niggli-reduced cells.

    ``reference``: the set compared with, ``"test"`` (default, as CDVAE) or ``"train"`` (e.g. when only
    a pretrained model's training structures are at hand).
    """

    name = "distributions"

    def __init__(self, reference: str = "test") -> None:
        if reference not in ("test", "train"):
            raise ValueError(f"Distributions reference: 'test' or 'train', got {reference!r}")
        self.reference = reference
        self.needs = frozenset({"structures", reference})
        self.meta: dict[str, object] = {}

    def per_sample(self, ctx: EvalContext) -> None:
        return None

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]:
        ref = ctx.reference(self.reference)
        self.meta = {"distribution_reference": self.reference, "distribution_reference_size": len(ref),
                     "distribution_cells": "primitive, Niggli-reduced"}  # fmt: skip
        return distribution_distances(ctx.generated_cell_features(), ctx.reference_cell_features(self.reference))

"""CrysTens self-consistency: averages of the per-tensor diagnostics a CrysTens generator records.

The CrysTens paper (Alverson et al., Digital Discovery 2024, Tables 1–2) averages, over the generated
tensors, the variance of the repeated lattice lengths, angles, space group and fractional
coordinates, the absolute-vs-relative coordinate agreement and the generated-vs-reconstructed
pairwise-distance difference. The decoder writes those per sample (e.g. as ``summary.csv`` columns);
this metric only aggregates them, over the samples where they are finite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from xtalgen.evaluation.base import EvalContext

#: Per-sample diagnostic columns (names as written by ``xtalgen.representations.crystens.consistency``).
CONSISTENCY_COLUMNS = (
    "var_length",
    "var_angle",
    "var_spacegroup",
    "var_frac_coord",
    "var_atomic_number",
    "coord_agreement",
    "pairwise_diff_per_atom",
)


def consistency_columns(info: pd.DataFrame) -> list[str]:
    """The diagnostic columns present in ``info`` (also accepted with a ``crystens_`` prefix)."""
    return [c for c in info.columns if c in CONSISTENCY_COLUMNS or c.removeprefix("crystens_") in CONSISTENCY_COLUMNS]


def consistency_summary(info: pd.DataFrame) -> dict[str, float]:
    """``consistency.<column>`` = mean over samples with a finite value; ``consistency.n`` = tensors used."""
    out: dict[str, float] = {}
    n = 0
    for col in consistency_columns(info):
        values = pd.to_numeric(info[col], errors="coerce").to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        out[f"consistency.{col.removeprefix('crystens_')}"] = float(values.mean()) if len(values) else float("nan")
        n = max(n, len(values))
    if out:
        out["consistency.n"] = float(n)
    return out


class Consistency:
    """Mean CrysTens self-consistency diagnostics of the generated tensors (needs the diagnostic columns)."""

    name = "consistency"
    needs = frozenset({"crystens_diagnostics"})

    def per_sample(self, ctx: EvalContext) -> None:
        return None

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]:
        return consistency_summary(ctx.generated.info)

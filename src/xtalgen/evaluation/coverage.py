"""Coverage COV-R / COV-P between generated samples and the test set (CDVAE, Xie et al. ICLR 2022).

A generated sample and a test structure are "close" when both the Euclidean distance of their
structure fingerprints is ≤ 0.4 and that of their normalised composition fingerprints is ≤ 10 (the
thresholds CDVAE uses for MP-20; it uses 0.2 / 4 for Perov-5 and Carbon-24). COV-R is the fraction of
test structures with a close generated sample; COV-P the fraction of (structurally valid) generated
samples close to some test structure. Composition fingerprints are standardised with the mean and
standard deviation of the test set's (CDVAE used fixed constants from its own training data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial.distance import cdist

if TYPE_CHECKING:
    from xtalgen.evaluation.base import EvalContext

#: (structure, composition) distance cutoffs for MP-like data, from CDVAE.
MP_CUTOFFS = (0.4, 10.0)
#: Cutoffs CDVAE uses for Perov-5 and Carbon-24.
SMALL_CUTOFFS = (0.2, 4.0)


def standardise(reference: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale columns by the reference's mean and std (constant columns keep unit scale)."""
    mean = reference.mean(axis=0) if len(reference) else 0.0
    std = reference.std(axis=0) if len(reference) else 1.0
    std = np.where(np.asarray(std) > 1e-12, std, 1.0)
    return [(x - mean) / std for x in (reference, *others)]


def coverage_masks(
    gen_struct: np.ndarray,
    gen_comp: np.ndarray,
    ref_struct: np.ndarray,
    ref_comp: np.ndarray,
    struct_cutoff: float = MP_CUTOFFS[0],
    comp_cutoff: float = MP_CUTOFFS[1],
    chunk: int = 2048,
) -> tuple[np.ndarray, np.ndarray]:
    """(recall mask over reference rows, precision mask over generated rows); fingerprints already
    normalised. Works in chunks so 10,000 × 20,000 distances never sit in memory at once.

    A pair is close when both distances are within their cutoffs. The structure distances (61
    values) are computed for every pair; the composition distances (132 values) only for the ~1 %
    of pairs that pass the structure cutoff, one generated row at a time with the same ``cdist``
    call (each pair's distance is computed on its own, so the values and verdicts are those of the
    dense computation)."""
    recall = np.zeros(len(ref_struct), dtype=bool)
    precision = np.zeros(len(gen_struct), dtype=bool)
    for start in range(0, len(gen_struct), chunk):
        sl = slice(start, start + chunk)
        close = cdist(gen_struct[sl], ref_struct) <= struct_cutoff
        for r in np.nonzero(close.any(axis=1))[0]:
            cols = np.nonzero(close[r])[0]
            row = start + r
            close[r, cols] = cdist(gen_comp[row : row + 1], ref_comp[cols])[0] <= comp_cutoff
        precision[sl] = close.any(axis=1)
        recall |= close.any(axis=0)
    return recall, precision


class Coverage:
    """Per sample: 1 if close to some test structure (COV-P), 0 if not, NaN if invalid or unfeaturised."""

    name = "cov_precision"
    needs = frozenset({"structures", "test"})

    def __init__(self, struct_cutoff: float = MP_CUTOFFS[0], comp_cutoff: float = MP_CUTOFFS[1]) -> None:
        self.struct_cutoff = struct_cutoff
        self.comp_cutoff = comp_cutoff
        self._recall = float("nan")

    def per_sample(self, ctx: EvalContext) -> np.ndarray:
        struct_cut, comp_cut = self.struct_cutoff, self.comp_cutoff
        g_idx, g_struct, g_comp = ctx.generated_fingerprints(ctx.valid_mask())
        _, r_struct, r_comp = ctx.reference_fingerprints("test")
        r_comp_n, g_comp_n = standardise(r_comp, g_comp)
        recall, precision = coverage_masks(g_struct, g_comp_n, r_struct, r_comp_n, struct_cut, comp_cut)
        self._recall = float(recall.mean()) if len(recall) else float("nan")
        out = np.full(len(ctx.generated), np.nan)
        out[g_idx] = precision.astype(float)
        return out

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]:
        if values is None:
            return {}
        n = int(np.sum(~np.isnan(values)))
        return {
            "coverage.recall": self._recall,
            "coverage.precision": float(np.nansum(values) / n) if n else 0.0,
        }

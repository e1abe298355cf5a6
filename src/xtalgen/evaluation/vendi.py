"""Diversity: the Vendi score of the valid samples' structure fingerprints.

Vendi score (Friedman & Dieng, "The Vendi Score: A Diversity Evaluation Metric for Machine Learning",
TMLR 2023, arXiv:2210.02410): ``exp(-sum_i l_i log l_i)`` with ``l_i`` the eigenvalues of ``K / n``,
``K`` an n x n similarity matrix with ones on the diagonal. It is the effective number of distinct
samples: 1 when all are alike, n when all are orthogonal. Here ``K`` is the cosine similarity of the
CrystalNN structure fingerprints (61 values, :mod:`xtalgen.evaluation.fingerprints`, the fingerprint of
CDVAE's coverage), so ``K = X X^T`` with unit rows and its non-zero eigenvalues are those of the 61 x 61
matrix ``X^T X``: linear in n.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from xtalgen.evaluation.base import EvalContext


def vendi_score(features: np.ndarray) -> float:
    """Vendi score of the rows of ``features`` under the cosine-similarity kernel (NaN for no rows)."""
    x = np.asarray(features, dtype=float)
    if x.ndim != 2 or len(x) == 0:
        return float("nan")
    zero = ~np.any(x != 0, axis=1)
    x = np.hstack([x, zero[:, None].astype(float)])  # all-zero fingerprints: alike each other only
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    eig = np.linalg.eigvalsh(x.T @ x / len(x))
    eig = eig[eig > 1e-12]
    return float(np.exp(-np.sum(eig * np.log(eig))))


class Diversity:
    """``diversity.vendi`` (effective number of distinct valid samples) and ``diversity.vendi_fraction``
    (the same over the number of featurised valid samples, 0..1)."""

    name = "diversity"
    needs = frozenset({"structures"})

    def per_sample(self, ctx: EvalContext) -> None:
        return None

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]:
        _, struct, _ = ctx.generated_fingerprints(ctx.valid_mask())
        score = vendi_score(struct)
        return {"diversity.vendi": score, "diversity.vendi_fraction": score / len(struct) if len(struct) else np.nan}

"""benchmarks/pgcgm_stability_rank.py: the ranking measures and the cross-validation (no generation)."""

from __future__ import annotations

import numpy as np
import pgcgm_stability_rank as B

from xtalgen.evaluation.stability_features import FEATURE_NAMES


def test_top_share_is_the_positive_share_of_the_best_ranked() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    score = np.arange(10, 0, -1, dtype=float)  # the first is ranked best
    assert B._top_share(score, y, 0.3) == 2 / 3
    assert B._top_share(-score, y, 0.3) == 1 / 3


def test_cross_validation_finds_a_learnable_signal() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, len(FEATURE_NAMES)))
    y = (x[:, 3] + 0.3 * rng.normal(size=300) > 0.5).astype(int)
    rows = B.cross_validate(x, y)
    assert [r["model"] for r in rows] == ["perceptron (shipped)", "logistic regression", "gradient boosting"]
    for r in rows:
        assert r["auc"] > 0.85 and r["top_share"] > r["base"] and r["base"] == y.mean()

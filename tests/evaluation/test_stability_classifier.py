"""The learned P(metastable) classifier: fit, numpy forward pass, JSON round trip, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xtalgen.evaluation.stability_classifier import StabilityClassifier
from xtalgen.evaluation.stability_features import FEATURE_NAMES


def _data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURE_NAMES))) * 3 + 1
    y = (x[:, 0] - 0.5 * x[:, 5] + rng.normal(scale=0.5, size=n) > 1).astype(int)
    return x, y


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    pos, neg = score[y == 1], score[y == 0]
    return float((pos[:, None] > neg[None, :]).mean())


def test_fit_ranks_held_out_data() -> None:
    x, y = _data()
    model = StabilityClassifier.fit(x[:300], y[:300], seed=0)
    assert _auc(model.predict_features(x[300:]), y[300:]) > 0.8  # chance is 0.5
    assert model.meta["n_train"] == 300 and model.meta["n_positive"] == int(y[:300].sum())


def test_forward_pass_matches_scikit_learn() -> None:
    from sklearn.neural_network import MLPClassifier

    x, y = _data()
    model = StabilityClassifier.fit(x, y, seed=1)
    mlp = MLPClassifier(hidden_layer_sizes=(32, 16))
    mlp.fit((x[:20] - model.mean) / model.scale, np.r_[np.zeros(10), np.ones(10)].astype(int))
    mlp.coefs_ = [w for w, _ in model.layers]
    mlp.intercepts_ = [b for _, b in model.layers]
    expected = mlp.predict_proba((x - model.mean) / model.scale)[:, 1]
    np.testing.assert_allclose(model.predict_features(x), expected, rtol=1e-9, atol=1e-12)


def test_json_round_trip(tmp_path) -> None:
    x, y = _data()
    model = StabilityClassifier.fit(x, y, seed=0, meta={"label": "e_hull <= 0.1"})
    path = model.to_json(tmp_path / "clf.json")
    back = StabilityClassifier.from_json(path)
    np.testing.assert_array_equal(back.predict_features(x), model.predict_features(x))
    assert back.meta["label"] == "e_hull <= 0.1"


def test_bad_files_and_inputs_are_refused(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something-else", "version": 1}))
    with pytest.raises(ValueError, match="bad.json"):
        StabilityClassifier.from_json(bad)
    x, y = _data()
    with pytest.raises(ValueError, match="both classes"):
        StabilityClassifier.fit(x, np.zeros(len(x)))
    model = StabilityClassifier.fit(x, y)
    model.feature_names = ("a", "b")
    with pytest.raises(ValueError, match="retrain"):
        model.predict([])

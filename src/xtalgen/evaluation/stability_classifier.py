"""A small learned classifier: P(a structure relaxes to E_hull ≤ threshold) from cheap descriptors.

Trained on structures a generator made, labelled by an ML-potential relaxation (E_hull in eV/atom against
that potential's reference table), it ranks new candidates without running the potential. The model is a
multi-layer perceptron (scikit-learn's ``MLPClassifier``) on standardised
:mod:`~xtalgen.evaluation.stability_features`, stored as plain JSON (weights, scaling, feature names,
training record) so that a shipped file does not depend on the scikit-learn version.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from xtalgen.data.atomic import atomic_write
from xtalgen.data.versioned_json import check_format, read_json
from xtalgen.evaluation.stability_features import FEATURE_NAMES, feature_matrix

FORMAT = "xtalgen-stability-classifier"
FORMAT_VERSION = 1
FILE_NAME = "stability_classifier.json"
#: Hidden layer sizes of the perceptron (its cross-validated AUC: docs/benchmarks/pgcgm_stability_rank.md).
DEFAULT_HIDDEN = (32, 16)
#: L2 penalty of the perceptron, trained without early stopping (which stalled on small label sets).
DEFAULT_ALPHA = 1.0


@dataclass
class StabilityClassifier:
    """Standardise, then a ReLU perceptron with a logistic output; ``meta`` records how it was trained."""

    feature_names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]
    meta: dict[str, Any] = field(default_factory=dict)

    def predict_features(self, x: np.ndarray) -> np.ndarray:
        """P(metastable) (n,) for a feature matrix (n, F) in :attr:`feature_names` order."""
        h = (np.asarray(x, float) - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return 1.0 / (1.0 + np.exp(-np.clip(h[:, 0], -50, 50)))

    def predict(self, structures: Sequence[Structure]) -> np.ndarray:
        """P(metastable) (n,) of unrelaxed ``structures``."""
        if tuple(self.feature_names) != FEATURE_NAMES:
            raise ValueError("stability classifier: trained on other features than this xtalgen computes "
                             f"({len(self.feature_names)} vs {len(FEATURE_NAMES)}); retrain it")  # fmt: skip
        return self.predict_features(feature_matrix(list(structures)))

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, *, hidden: Sequence[int] = DEFAULT_HIDDEN, alpha: float = DEFAULT_ALPHA,
            seed: int = 0, meta: dict[str, Any] | None = None) -> StabilityClassifier:  # fmt: skip
        """Train on features ``x`` (n, F) and labels ``y`` (n,) of 0/1 (1: metastable)."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        x, y = np.asarray(x, float), np.asarray(y, int)
        if len(x) != len(y) or len(set(y.tolist())) < 2:
            raise ValueError("stability classifier: need matching features and labels with both classes")
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        mlp = MLPClassifier(hidden_layer_sizes=tuple(hidden), alpha=alpha, max_iter=500, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # 500 full passes are the budget, not a failure
            mlp.fit((x - mean) / scale, y)
        layers = [(np.asarray(w), np.asarray(b)) for w, b in zip(mlp.coefs_, mlp.intercepts_, strict=True)]
        record = {"n_train": int(len(y)), "n_positive": int(y.sum()), "hidden": list(hidden), "alpha": alpha,
                  "seed": seed, **(meta or {})}  # fmt: skip
        return cls(FEATURE_NAMES, mean, scale, layers, record)

    def to_json(self, path: str | Path) -> Path:
        """Write the classifier as JSON; return the path."""
        path = Path(path)
        payload = {"format": FORMAT, "version": FORMAT_VERSION, "meta": self.meta,
                   "feature_names": list(self.feature_names), "mean": self.mean.tolist(),
                   "scale": self.scale.tolist(),
                   "layers": [{"weights": w.tolist(), "bias": b.tolist()} for w, b in self.layers]}  # fmt: skip
        with atomic_write(path) as fh:
            json.dump(payload, fh)
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> StabilityClassifier:
        """Read a classifier written by :meth:`to_json`; ValueError naming the file when it is not one."""
        path = Path(path)
        payload = read_json(path, "a stability classifier")
        check_format(payload, FORMAT, FORMAT_VERSION, "a stability classifier", exact=True, where=str(path))
        try:
            layers = [(np.asarray(layer["weights"], float), np.asarray(layer["bias"], float))
                      for layer in payload["layers"]]  # fmt: skip
            out = cls(tuple(payload["feature_names"]), np.asarray(payload["mean"], float),
                      np.asarray(payload["scale"], float), layers, dict(payload.get("meta", {})))  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"stability classifier {path}: malformed ({exc})") from None
        if out.mean.shape != (len(out.feature_names),) or layers[0][0].shape[0] != len(out.feature_names):
            raise ValueError(f"stability classifier {path}: weights do not match its {len(out.feature_names)} features")
        return out

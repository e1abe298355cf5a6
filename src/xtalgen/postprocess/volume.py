"""Cell volume from composition (additive per-element volumes) and rescaling a cell to it.

Crystal volumes are close to additive in per-element volume increments (Biltz's rule; e.g. Hofmann,
Acta Cryst. B 58, 489 (2002)): ``V_cell ≈ Σ_atoms v(Z)``. The increments ``v(Z)`` (Å³) are fitted here to
a set of known crystals in log space with a robust (soft-L1) loss, so the prediction error is relative and
unusual entries do not dominate. Rescaling a generated cell isotropically to the predicted volume keeps
its shape, fractional coordinates and symmetry and fixes only its size — the one lattice quantity a
generative model gets most wrong (see docs/models/pgcgm.md). Volumes in Å³, lengths in Å.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xtalgen.data.atomic import atomic_write
from xtalgen.data.versioned_json import check_format, read_json

FORMAT = "xtalgen-element-volumes"
FORMAT_VERSION = 1
#: the table shipped with the package (fitted to the MP <= 20-site training split)
DEFAULT_TABLE = "mp_le20_train.json"


@dataclass(frozen=True)
class ElementVolumes:
    """Per-element volume increments (Å³ per atom) and where they came from.

    ``predict`` gives the predicted cell volume (Å³) of a list of element symbols, or None when an
    element has no fitted increment.
    """

    volumes: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)

    def predict(self, symbols: Iterable[str]) -> float | None:
        total = 0.0
        for sym in symbols:
            v = self.volumes.get(sym)
            if v is None:
                return None
            total += v
        return total

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        payload = {"format": FORMAT, "version": FORMAT_VERSION, "meta": self.meta,
                   "volumes_A3": {k: round(v, 4) for k, v in sorted(self.volumes.items())}}  # fmt: skip
        with atomic_write(path) as fh:
            json.dump(payload, fh, indent=1)
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> ElementVolumes:
        path = Path(path)
        payload = read_json(path, "an element-volume table")
        check_format(payload, FORMAT, FORMAT_VERSION, "an element-volume table", exact=True, where=str(path))
        return cls({k: float(v) for k, v in payload["volumes_A3"].items()}, payload.get("meta", {}))

    @classmethod
    def default(cls) -> ElementVolumes:
        """The table shipped with xtalgen (fitted to the MP <= 20-site training split)."""
        return cls.from_json(shipped_dir() / DEFAULT_TABLE)


def shipped_dir() -> Path:
    """Folder of the element-volume tables that ship inside the package."""
    import xtalgen

    return Path(xtalgen.__file__).resolve().parent / "resources" / "element_volumes"


def fit_element_volumes(
    compositions: Sequence[Sequence[str]], volumes: Sequence[float], *, f_scale: float = 0.1
) -> tuple[ElementVolumes, dict[str, float]]:
    """Fit increments ``v(Z)`` so that ``log Σ v ≈ log V`` (soft-L1 loss, scale ``f_scale`` in log units).

    ``compositions``: the element symbol of every atom of each cell; ``volumes``: cell volumes (Å³).
    Returns the table and fit statistics (median |log ratio|, 5/95 % ratio quantiles on the fitted data).
    """
    from scipy import sparse
    from scipy.optimize import least_squares

    if len(compositions) != len(volumes) or not len(volumes):
        raise ValueError(f"need equally many compositions and volumes, got {len(compositions)} and {len(volumes)}")
    y = np.asarray(volumes, dtype=np.float64)
    if np.any(~np.isfinite(y)) or np.any(y <= 0):
        bad = int(np.flatnonzero(~np.isfinite(y) | (y <= 0))[0])
        raise ValueError(f"entry {bad}: cell volume must be positive and finite, got {y[bad]}")
    elements = sorted({s for comp in compositions for s in comp})
    col = {e: j for j, e in enumerate(elements)}
    rows, cols, vals = [], [], []
    for i, comp in enumerate(compositions):
        if not comp:
            raise ValueError(f"entry {i}: empty composition")
        for sym, count in Counter(comp).items():
            rows.append(i)
            cols.append(col[sym])
            vals.append(float(count))
    counts = sparse.csr_matrix((vals, (rows, cols)), shape=(len(y), len(elements)))
    log_y = np.log(y)

    def residual(p: np.ndarray) -> np.ndarray:
        return np.log(counts @ np.exp(p)) - log_y

    def jacobian(p: np.ndarray) -> Any:
        ev = np.exp(p)
        return sparse.diags(1.0 / (counts @ ev)) @ counts @ sparse.diags(ev)

    start = np.full(len(elements), np.log(float(np.median(y / np.asarray(counts.sum(axis=1)).ravel()))))
    fit = least_squares(residual, start, jac=jacobian, loss="soft_l1", f_scale=f_scale, x_scale="jac")
    ratio = np.exp(residual(fit.x))
    stats = {"n": int(len(y)), "median_abs_log_ratio": float(np.median(np.abs(np.log(ratio)))),
             "ratio_p05": float(np.quantile(ratio, 0.05)), "ratio_p95": float(np.quantile(ratio, 0.95))}  # fmt: skip
    return ElementVolumes(dict(zip(elements, np.exp(fit.x).tolist(), strict=True)), {"fit": stats}), stats


def rescale_matrix(
    matrix: np.ndarray, symbols: Sequence[str], table: ElementVolumes
) -> tuple[np.ndarray, float | None]:
    """Row lattice matrix (Å) scaled isotropically to the predicted volume of ``symbols``.

    Returns the new matrix and the linear scale factor, or the input and None when the volume cannot be
    predicted (an element without an increment, or a degenerate cell).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    target = table.predict(symbols)
    current = abs(float(np.linalg.det(matrix)))
    if target is None or not np.isfinite(current) or current <= 1e-9:
        return matrix, None
    factor = float((target / current) ** (1.0 / 3.0))
    return matrix * factor, factor

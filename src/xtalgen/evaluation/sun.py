"""SUN, MetaSUN and S.S.U.N.: stable (or metastable), unique and novel samples, from the stability metric.

Definitions as LeMat-GenBench computes them (``lemat_genbench/metrics/sun_metric.py``, SUNMetric):
``sun_rate`` = samples with E_hull <= 0 eV/atom that are unique and novel, over all submitted samples;
``msun_rate`` = the same with 0 < E_hull <= 0.1 eV/atom (MetaSUN; stable samples are not counted twice);
``combined_sun_msun_rate`` = E_hull <= 0.1, unique and novel (MatterGen's S.U.N. criterion). S.S.U.N.
(WyFormer, Kazeev et al., arXiv:2503.02407) adds symmetry kept: the relaxed structure has the space group
of the generated one (spglib at the same symprec, 0.1 Å); here with E_hull <= ``ssun_ehull``.
Unique: the first sample of each structure class (:mod:`~xtalgen.evaluation.uniqueness`); novel: the
headline novelty (:mod:`~xtalgen.evaluation.novelty`). E_hull and the relaxed structures are the ones the
stability metric records; when it relaxed only a random subset, rates are estimated as
(count / subset size) x (valid / submitted), as the stability rates are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from xtalgen.evaluation.properties import spacegroup_number
from xtalgen.evaluation.stability import rate_scale

if TYPE_CHECKING:
    from xtalgen.evaluation.base import EvalContext

#: E_hull thresholds (eV/atom) of SUN and MetaSUN (LeMat-GenBench's defaults).
SUN_EHULL = 0.0
METASUN_EHULL = 0.1
#: spglib tolerance (Å) for "symmetry kept": the one of every sample's space group.
SSUN_SYMPREC = 0.1


def _flag(ctx: EvalContext, name: str, n: int) -> np.ndarray:
    values = ctx.results.get(name, ctx.columns.get(name))
    return np.zeros(n, dtype=bool) if values is None else np.nan_to_num(np.asarray(values, dtype=float)) > 0


def symmetry_kept(ctx: EvalContext, relaxed: Any, symprec: float = SSUN_SYMPREC) -> np.ndarray:
    """Per sample: 1 if the relaxed structure keeps the generated one's space group, 0 if not, NaN if
    not relaxed."""
    from pymatgen.core import Structure

    groups = ctx.generated_features()["spacegroup"].to_numpy()
    out = np.full(len(ctx.generated), np.nan)
    for i, rec in enumerate(relaxed if relaxed is not None else []):
        if isinstance(rec, dict):
            out[i] = float(spacegroup_number(Structure.from_dict(rec), symprec) == groups[i])
    return out


class SUN:
    """Per sample: 1 SUN, 0.5 MetaSUN (0 < E_hull <= 0.1), 0 otherwise, NaN when no E_hull (LeMat's
    per-structure values). Adds the columns ``symmetry_kept`` and ``ssun``.

    ``e_hull``: the per-sample result holding E_hull (eV/atom) (default: the stability metric's);
    ``potential``: the name of the potential behind it (shown in the report); ``ssun_ehull``: the E_hull
    bound of S.S.U.N. (eV/atom).
    """

    name = "sun"
    needs = frozenset({"structures", "stability"})

    def __init__(self, e_hull: str = "e_hull", potential: str = "", ssun_ehull: float = METASUN_EHULL) -> None:
        self.e_hull = e_hull
        self.potential = potential
        self.ssun_ehull = ssun_ehull
        self.meta: dict[str, Any] = {}

    def per_sample(self, ctx: EvalContext) -> np.ndarray:
        n = len(ctx.generated)
        e = np.asarray(ctx.results.get(self.e_hull, ctx.columns.get(self.e_hull, np.full(n, np.nan))), dtype=float)
        un = _flag(ctx, "unique", n) & _flag(ctx, "novel", n)
        kept = symmetry_kept(ctx, ctx.columns.get("_relaxed"))
        ctx.columns["symmetry_kept"] = kept
        ctx.columns["ssun"] = un & (np.nan_to_num(kept) > 0) & (np.nan_to_num(e, nan=np.inf) <= self.ssun_ehull)
        out = np.where(np.isfinite(e), 0.0, np.nan)
        out[un & (e <= SUN_EHULL)] = 1.0
        out[un & (e > SUN_EHULL) & (e <= METASUN_EHULL)] = 0.5
        self.meta = {"sun_potential": self.potential or None, "ssun_ehull": self.ssun_ehull}
        return out

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]:
        if values is None:
            return {}
        scale = rate_scale(ctx)  # (count / relaxed) x (valid / submitted)
        counts = {"sun": int(np.sum(values == 1.0)), "msun": int(np.sum(values == 0.5)),
                  "ssun": int(np.sum(ctx.columns["ssun"]))}  # fmt: skip
        kept = ctx.columns["symmetry_kept"]
        return {
            "sun.sun_rate": counts["sun"] * scale,
            "sun.msun_rate": counts["msun"] * scale,
            "sun.combined_sun_msun_rate": (counts["sun"] + counts["msun"]) * scale,
            "sun.ssun_rate": counts["ssun"] * scale,
            "sun.sun_count": float(counts["sun"]),
            "sun.msun_count": float(counts["msun"]),
            "sun.ssun_count": float(counts["ssun"]),
            "sun.symmetry_kept": float(np.nanmean(kept)) if np.isfinite(kept).any() else float("nan"),
        }

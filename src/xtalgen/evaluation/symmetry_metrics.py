"""Symmetry and prototype diversity of the valid samples: P1 share, space groups, Wyckoff templates.

Space groups are spglib's at symprec 0.1 Å (the descriptor of every sample). A Wyckoff template is
the space group plus the multiset of occupied Wyckoff letters (:mod:`xtalgen.evaluation.symmetry_keys`);
a sample's template is novel when no known structure has it (the known structures of the novelty
metric: the known-structures table and the training set). WyFormer (Kazeev et al., arXiv:2503.02407)
reports the P1 share and the novelty of templates as measures of symmetry and prototype diversity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from xtalgen.evaluation.known_structures import KnownStructures
from xtalgen.evaluation.novelty import known_reference

if TYPE_CHECKING:
    from xtalgen.evaluation.base import EvalContext


class SymmetryDiversity:
    """Per sample: 1 if its Wyckoff template is novel, 0 if some known structure has it, NaN if invalid
    (NaN for all when there are no known structures). Adds the column ``template``.

    ``known``: the known-structures table (as given to :class:`~xtalgen.evaluation.novelty.Novelty`).
    """

    name = "template_novel"
    needs = frozenset({"structures"})

    def __init__(self, known: KnownStructures | None = None) -> None:
        self.known = known

    def per_sample(self, ctx: EvalContext) -> np.ndarray:
        keys = ctx.generated_wyckoff_keys()
        ctx.columns["template"] = np.array([k["template"] if k else "" for k in keys], dtype=object)
        out = np.full(len(keys), np.nan)
        ref = known_reference(ctx, self.known)
        if ref is None:
            return out
        for i, k in enumerate(keys):
            if k is not None:
                out[i] = 0.0 if ref.has_template(k["template"]) else 1.0
        return out

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]:
        valid = ctx.valid_mask()
        features = ctx.generated_features()
        if "spacegroup" not in features:  # no sample had a structure to analyse
            features = features.assign(spacegroup=np.nan)
        groups = features["spacegroup"].to_numpy()[valid]
        groups = groups[np.isfinite(groups.astype(float))].astype(int)
        templates = {str(t) for t, ok in zip(ctx.columns.get("template", []), valid, strict=False) if ok and t}
        out = {
            "symmetry.p1_share": float(np.mean(groups == 1)) if len(groups) else float("nan"),
            "symmetry.n_spacegroups": float(len(set(groups.tolist()))),
            "symmetry.n_templates": float(len(templates)),
        }
        if values is not None and np.isfinite(values).any():
            out["symmetry.template_novelty"] = float(np.nanmean(values))
        return out

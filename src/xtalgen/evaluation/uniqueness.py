"""Uniqueness: the fraction of structurally valid samples that are distinct from each other.

Two samples are the same when pymatgen's StructureMatcher (ltol 0.2, stol 0.3, angle_tol 5°)
matches them; only samples with the same reduced formula can match, so samples are compared within
formula groups, which keeps the cost near linear for diverse sets. Within a group each sample is
compared with one representative of every class found so far (in input order); the first sample of
a class is its representative and counts as unique.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np
from pymatgen.core import Structure

from xtalgen.evaluation.matching import first_match, reduced

if TYPE_CHECKING:
    from xtalgen.evaluation.base import EvalContext


def equivalence_classes(structures: list[Structure]) -> list[int]:
    """Class label per structure; labels count up from 0 in order of first appearance."""
    reps: list[Structure] = []
    labels: list[int] = []
    for s in map(reduced, structures):
        j = first_match(s, reps)
        if j < 0:
            reps.append(s)
            j = len(reps) - 1
        labels.append(j)
    return labels


def _group_job(structures: list[Structure]) -> list[int]:
    return equivalence_classes(structures)


class Uniqueness:
    """Per sample: 1 if it is the first of its class, 0 if it repeats an earlier one, NaN if invalid."""

    name = "unique"
    needs = frozenset({"structures"})

    def per_sample(self, ctx: EvalContext) -> np.ndarray:
        feats = ctx.generated_features()
        valid = ctx.valid_mask()
        keys = ctx.sample_keys
        groups: dict[str, list[int]] = defaultdict(list)
        for i in np.nonzero(valid)[0]:
            groups[str(feats["formula"].iat[i])].append(int(i))
        out = np.full(len(valid), np.nan)
        items: list[tuple[str, Any]] = []
        members: dict[str, list[int]] = {}
        for idx in groups.values():
            if len(idx) == 1:
                out[idx[0]] = 1.0
                continue
            gkey = hashlib.sha1("|".join(str(keys[i]) for i in idx).encode()).hexdigest()[:20]
            members[gkey] = idx
            items.append((gkey, [ctx.generated.structures[i] for i in idx]))
        done = ctx.map(_group_job, items, ctx.cache("generated", "unique"), "uniqueness")
        for gkey, idx in members.items():
            labels = done[gkey]
            if isinstance(labels, dict):  # the group job failed: count each member as its own class
                labels = list(range(len(idx)))
            seen: set[int] = set()
            for i, lab in zip(idx, labels, strict=True):
                out[i] = 0.0 if lab in seen else 1.0
                seen.add(lab)
        return out

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]:
        if values is None:
            return {}
        n_valid = int(np.sum(~np.isnan(values)))
        return {"uniqueness": float(np.nansum(values) / n_valid) if n_valid else 0.0}

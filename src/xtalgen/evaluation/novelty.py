"""Novelty: the fraction of structurally valid samples that match no training structure.

Matching uses pymatgen's StructureMatcher (ltol 0.2, stol 0.3, angle_tol 5°), and a sample is only
compared with training structures of the same reduced formula (others cannot match), so 10,000
samples against 80,000 training structures cost only as many fits as there are shared formulas.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np
from pymatgen.core import Structure

from xtalgen.evaluation.matching import first_match, reduced
from xtalgen.evaluation.sources import to_structure

if TYPE_CHECKING:
    from xtalgen.evaluation.base import EvalContext


_REDUCED: dict[str, Structure] = {}


def _reduced_candidate(key: str, payload: Any) -> Structure:
    """Training structures recur for every sample of their formula: reduce each once per worker."""
    if key not in _REDUCED:
        if len(_REDUCED) > 50_000:
            _REDUCED.clear()
        _REDUCED[key] = reduced(to_structure(payload))
    return _REDUCED[key]


def _novelty_job(payload: tuple[Any, list[tuple[str, Any]]]) -> int:
    """Index of the first training candidate matching the sample, or -1."""
    sample, candidates = payload
    return first_match(reduced(to_structure(sample)), [_reduced_candidate(k, c) for k, c in candidates])


class Novelty:
    """Per sample: 1 if no training structure matches, 0 if one does, NaN if invalid.

    Adds the column ``matched_train_id`` (the first matching training entry)."""

    name = "novel"
    needs = frozenset({"structures", "train"})

    def per_sample(self, ctx: EvalContext) -> np.ndarray:
        train = ctx.reference("train")
        by_formula: dict[str, list[int]] = defaultdict(list)
        for j, f in enumerate(train.formulas):
            by_formula[f].append(j)
        feats = ctx.generated_features()
        valid = ctx.valid_mask()
        keys = ctx.sample_keys
        out = np.full(len(valid), np.nan)
        matched = np.full(len(valid), "", dtype=object)
        items: list[tuple[str, Any]] = []
        todo: dict[str, int] = {}
        for i in np.nonzero(valid)[0]:
            cands = by_formula.get(str(feats["formula"].iat[i]), [])
            if not cands:
                out[i] = 1.0
                continue
            key = f"{keys[i]}|{train.fingerprint}"
            todo[key] = int(i)
            items.append((key, (int(i), cands)))

        def load(spec: tuple[int, list[int]]) -> tuple[Any, list[tuple[str, Any]]]:
            i, cands = spec
            return ctx.generated.structures[i], [(f"{train.fingerprint}:{j}", train.payload(j)) for j in cands]

        done = ctx.map(_novelty_job, items, ctx.cache("generated", "novel"), "novelty", load=load)
        for key, i in todo.items():
            hit = done[key]
            if isinstance(hit, dict):  # matching failed for this sample: treat as not matched
                hit = -1
            out[i] = 1.0 if hit < 0 else 0.0
            if hit >= 0:
                cands = by_formula[str(feats["formula"].iat[i])]
                matched[i] = train.ids[cands[hit]]
        ctx.columns["matched_train_id"] = matched
        return out

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]:
        if values is None:
            return {}
        n_valid = int(np.sum(~np.isnan(values)))
        return {"novelty": float(np.nansum(values) / n_valid) if n_valid else 0.0}

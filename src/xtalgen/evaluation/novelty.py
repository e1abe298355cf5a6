"""Novelty: the fraction of structurally valid samples that match no training structure.

Matching uses pymatgen's StructureMatcher (ltol 0.2, stol 0.3, angle_tol 5°), and a sample is only
compared with training structures of the same reduced formula (others cannot match), so 10,000
samples against 80,000 training structures cost only as many fits as there are shared formulas.

Work is done in two cached steps: (1) every training structure some sample needs is reduced
(primitive + Niggli, as StructureMatcher would) once, in parallel, and stored on disk per training
set (``ref-<fingerprint>/reduced.jsonl``), so later evaluations against the same set skip it; (2) each
sample is reduced and fitted against its candidates' reduced forms, costliest samples first so the
workers finish together.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np
from pymatgen.core import Structure

from xtalgen.evaluation.matching import first_match, reduce_job, reduced, unpack
from xtalgen.evaluation.sources import to_structure

if TYPE_CHECKING:
    from xtalgen.evaluation.base import EvalContext


_UNPACKED: dict[str, Structure] = {}


def _candidate(key: str, packed: dict[str, Any]) -> Structure:
    """Training structures recur for every sample of their formula: rebuild each once per worker."""
    if key not in _UNPACKED:
        if len(_UNPACKED) > 50_000:
            _UNPACKED.clear()
        _UNPACKED[key] = unpack(packed)
    return _UNPACKED[key]


def _novelty_job(payload: tuple[Any, list[tuple[str, dict[str, Any]]]]) -> int:
    """Index of the first (packed, reduced) training candidate matching the sample, or -1.

    Candidates whose reduction failed (``{"error": ...}``, e.g. unparseable CIF) are skipped."""
    sample, candidates = payload
    usable = [(n, _candidate(k, c)) for n, (k, c) in enumerate(candidates) if "error" not in c]
    hit = first_match(reduced(to_structure(sample)), [s for _, s in usable])
    return usable[hit][0] if hit >= 0 else -1


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
        cache = ctx.cache("generated", "novel")
        pending = [(k, spec) for k, spec in items if k not in cache]
        # step 1: reduced training candidates (cached per training set, shared by all evaluations)
        needed = sorted({j for _, (_, cands) in pending for j in cands})
        reduced_train = ctx.map(
            reduce_job,
            [(f"{j}|{train.ids[j]}", j) for j in needed],
            ctx.cache(f"ref-{train.fingerprint}", "reduced"),
            "train reduction",
            load=train.payload,
        )
        # step 2: fits, most candidates first (longest jobs first balances the workers)
        pending.sort(key=lambda item: -len(item[1][1]))

        def load(spec: tuple[int, list[int]]) -> tuple[Any, list[tuple[str, Any]]]:
            i, cands = spec
            packed = [(f"{train.fingerprint}:{j}", reduced_train[f"{j}|{train.ids[j]}"]) for j in cands]
            return ctx.generated.structures[i], packed

        ctx.map(_novelty_job, pending, cache, "novelty", load=load)
        for key, i in todo.items():
            hit = cache[key]
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

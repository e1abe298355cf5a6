"""Novelty: the fraction of structurally valid samples that are not known structures.

Two references. (1) A known-structures table (:mod:`xtalgen.evaluation.known_structures`, by default
the one shipped with xtalgen: every Materials Project structure of the shared dataset) plus the
training set's structures it does not hold: a sample is known when some entry has its reduced formula
and Wyckoff decoration. This is the headline ``novelty`` used by S.U.N., so it does not depend on
whether ``--train`` is given when the table covers the training set. (2) The training set alone, by
structure matching (``novelty.train``, the CDVAE-style figure; the headline when no table is used).

Structure matching uses pymatgen's StructureMatcher (ltol 0.2, stol 0.3, angle_tol 5°), and a sample is only
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

from xtalgen.evaluation.known_structures import KnownStructures, keys_rows
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


def known_reference(ctx: EvalContext, known: KnownStructures | None) -> KnownStructures | None:
    """The known structures of this evaluation: ``known`` plus the training structures it does not hold
    (all of them when ``known`` is None); None without either. Computed once per evaluation."""
    if "known_reference" in ctx._memo:
        return ctx._memo["known_reference"]
    train = ctx.train
    if train is None or (known is not None and known.covers(train.ids)):
        ref = known
    else:
        rows = keys_rows(train.ids, train.formulas, ctx.reference_wyckoff_keys("train"))
        what = f"the {len(train):,} training structures"
        ref = KnownStructures(rows, {}, what) if known is None else known.extended(rows, f"{known.name} + {what}")
    ctx._memo["known_reference"] = ref
    return ref


def train_novelty(ctx: EvalContext) -> tuple[np.ndarray, np.ndarray]:
    """(1 novel / 0 matched / NaN invalid, id of the first matching training entry) per sample, by
    structure matching against the training set."""
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
            matched[i] = train.ids[by_formula[str(feats["formula"].iat[i])][hit]]
    return out, matched


def _rate(values: np.ndarray) -> float:
    n = int(np.sum(~np.isnan(values)))
    return float(np.nansum(values) / n) if n else 0.0


class Novelty:
    """Per sample: 1 if not a known structure, 0 if known, NaN if invalid.

    ``known``: the known-structures table (None: novelty against the training set only, by structure
    matching). With a table, a training set given too is added to it (unless the table holds it) and
    also scored on its own by structure matching (``novelty.train``, column ``novel_train``). Adds the
    column ``matched_known_id`` (table) or ``matched_train_id`` (training set).
    """

    name = "novel"

    def __init__(self, known: KnownStructures | None = None) -> None:
        self.known = known
        self.needs = frozenset({"structures"} if known is not None else {"structures", "train"})
        self.meta: dict[str, Any] = {}

    def per_sample(self, ctx: EvalContext) -> np.ndarray:
        if ctx.train is not None:
            by_match, matched_train = train_novelty(ctx)
            ctx.columns["matched_train_id"] = matched_train
            if self.known is None:
                self.meta = {"novelty_reference": f"the {len(ctx.train):,} training structures",
                             "novelty_reference_size": len(ctx.train), "novelty_by": "structure matching"}  # fmt: skip
                return by_match
            ctx.columns["novel_train"] = by_match
        ref = known_reference(ctx, self.known)
        assert ref is not None  # a table was given
        feats, keys = ctx.generated_features(), ctx.generated_wyckoff_keys()
        out = np.full(len(keys), np.nan)
        matched = np.full(len(keys), "", dtype=object)
        for i in np.nonzero(ctx.valid_mask())[0]:
            rec = keys[i]
            hit = ref.match(str(feats["formula"].iat[i]), rec["decoration"]) if rec is not None else None
            out[i] = 1.0 if hit is None else 0.0
            matched[i] = hit or ""
        ctx.columns["matched_known_id"] = matched
        self.meta = {"novelty_reference": ref.name, "novelty_reference_size": len(ref), "novelty_by": "Wyckoff keys"}
        return out

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]:
        if values is None:
            return {}
        out = {"novelty": _rate(values)}
        if "novel_train" in ctx.columns:
            out["novelty.train"] = _rate(ctx.columns["novel_train"])
        return out

"""Run all metrics on generated samples against train/test references (cached, parallel per-sample work)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from xtalgen.evaluation.base import EvalContext, Metric
from xtalgen.evaluation.composition_validity import CompositionalValidity
from xtalgen.evaluation.consistency import Consistency, consistency_columns
from xtalgen.evaluation.coverage import Coverage
from xtalgen.evaluation.distributions import Distributions
from xtalgen.evaluation.novelty import Novelty
from xtalgen.evaluation.parallel import JOB_CPU_SECONDS
from xtalgen.evaluation.sources import load_generated, load_reference
from xtalgen.evaluation.stability import METASTABLE_EHULL, EnergyModel, Stability
from xtalgen.evaluation.uniqueness import Uniqueness
from xtalgen.evaluation.validity import StructuralValidity

#: Per-sample descriptor columns copied into the results table.
_FEATURE_COLUMNS = ("formula", "spacegroup", "nsites", "nelements", "density", "volume", "struct_reason")


def default_metrics() -> list[Metric]:
    """All metrics, in dependency order (S.U.N. needs uniqueness and novelty first)."""
    return [
        StructuralValidity(),
        CompositionalValidity(),
        Uniqueness(),
        Novelty(),
        Coverage(),
        Distributions(),
        Consistency(),
        Stability(),
    ]


@dataclass
class EvaluationResult:
    """Aggregate metrics, a per-sample table and what the report needs to draw plots."""

    metrics: dict[str, float]
    per_sample: pd.DataFrame
    generated_properties: pd.DataFrame
    test_properties: pd.DataFrame | None
    structures: dict[str, Structure]
    relaxed: dict[str, Structure] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    #: relaxed structures under each further potential (``--potential chgnet,sevennet``), by potential name
    relaxed_by_potential: dict[str, dict[str, Structure]] = field(default_factory=dict)


def evaluate(
    generated: Any,
    train: Any = None,
    test: Any = None,
    *,
    stability: bool = False,
    energy_model: EnergyModel | None = None,
    workers: int = 2,
    cache_dir: str | Path | None = None,
    metrics: list[Metric] | None = None,
    progress: bool = True,
    generated_split: str | None = None,
    train_split: str | None = "train",
    test_split: str | None = "test",
    limit: int | None = None,
    train_limit: int | None = None,
    test_limit: int | None = None,
    options: dict[str, Any] | None = None,
) -> EvaluationResult:
    """Score ``generated`` samples against ``train`` (novelty, hull references) and ``test`` (coverage,
    distributions); with ``stability=True`` also relax and compute E_hull with ``energy_model``.

    Sources may be paths (generation dir, prepared dataset, CSV, folder, file) or in-memory sets;
    ``*_split`` selects a split when a source carries one; ``limit``, ``train_limit``, ``test_limit``
    keep the first N entries. Per-sample results are cached under
    ``cache_dir`` so an interrupted evaluation resumes; ``workers`` processes share the work.
    """
    if workers < 1:
        raise ValueError(f"workers must be ≥ 1, got {workers}")
    if stability and energy_model is None:
        raise ValueError("stability=True needs energy_model (e.g. xtalgen.postprocess.relax.CHGNetEnergyModel())")
    t0 = time.perf_counter()
    try:
        gen = load_generated(generated, split=generated_split, limit=limit)
    except ValueError as exc:  # name the input when the reason does not
        if isinstance(generated, str | Path) and str(generated) not in str(exc):
            raise ValueError(f"{generated}: {exc}") from None
        raise
    if len(gen) == 0:
        where = generated if isinstance(generated, str | Path) else "the generated set"
        raise ValueError(f"{where}: no structures to evaluate (no readable structure files or rows)")
    tr = load_reference(train, split=train_split, limit=train_limit, name="train") if train is not None else None
    te = load_reference(test, split=test_split, limit=test_limit, name="test") if test is not None else None
    opts = dict(options or {})
    if energy_model is not None:
        opts["energy_model"] = energy_model
    ctx = EvalContext(gen, tr, te, Path(cache_dir) if cache_dir else None, workers, progress, opts)

    available = {"structures"}
    available |= {"train"} if tr is not None else set()
    available |= {"test"} if te is not None else set()
    available |= {"crystens_diagnostics"} if consistency_columns(gen.info) else set()
    available |= {"stability"} if stability else set()

    results: dict[str, float] = {"n_samples": float(len(gen))}
    timings: dict[str, float] = {}
    cpu_timings: dict[str, float] = {}
    skipped: dict[str, list[str]] = {}
    metric_list = metrics if metrics is not None else default_metrics()
    dist_ref = next((getattr(m, "reference", "test") for m in metric_list if isinstance(m, Distributions)), "test")
    try:
        for metric in metric_list:
            missing = sorted(set(metric.needs) - available)
            if missing:
                skipped[metric.name] = missing
                continue
            t, cpu, worker_cpu = time.perf_counter(), time.process_time(), sum(JOB_CPU_SECONDS.values())
            values = metric.per_sample(ctx)
            if values is not None:
                ctx.results[metric.name] = values
            results.update(metric.aggregate(ctx, values))
            timings[metric.name] = time.perf_counter() - t
            # CPU seconds: this process (incl. jobs it ran itself) + jobs run in worker processes
            cpu_timings[metric.name] = time.process_time() - cpu + sum(JOB_CPU_SECONDS.values()) - worker_cpu
        # the properties plotted against the generated ones: the set the distribution metric compared with
        test_properties = ctx.reference_features(dist_ref) if dist_ref in available else None
        generated_properties = ctx.generated_features()[ctx.valid_mask()].reset_index(drop=True)
    finally:
        ctx.close()

    per_sample = _per_sample_table(ctx)
    relaxed = {
        gen.ids[i]: Structure.from_dict(d) for i, d in enumerate(ctx.columns.get("_relaxed", [])) if isinstance(d, dict)
    }
    relaxed_by_potential = {
        name[len("_relaxed_"):]: {gen.ids[i]: Structure.from_dict(d) for i, d in enumerate(col) if isinstance(d, dict)}
        for name, col in ctx.columns.items() if name.startswith("_relaxed_")
    }  # fmt: skip
    meta = {
        "n_samples": len(gen),
        "n_train": len(tr) if tr is not None else 0,
        "n_test": len(te) if te is not None else 0,
        "train_split": train_split,
        "test_split": test_split,
        "workers": workers,
        "energy_model": getattr(energy_model, "name", None),
        "timings_s": timings,
        "cpu_s": cpu_timings,
        "total_s": time.perf_counter() - t0,
        "skipped": skipped,
        "distribution_reference": dist_ref,
        "hull_reference_table": ctx.options.get("hull_reference_table"),
    }
    return EvaluationResult(
        metrics=results,
        per_sample=per_sample,
        generated_properties=generated_properties,
        test_properties=test_properties,
        structures={i: s for i, s in zip(gen.ids, gen.structures, strict=True) if s is not None},
        relaxed=relaxed,
        meta=meta,
        relaxed_by_potential=relaxed_by_potential,
    )


def _per_sample_table(ctx: EvalContext) -> pd.DataFrame:
    feats = ctx.generated_features()
    table = pd.DataFrame({"id": ctx.generated.ids})
    table["struct_valid"] = feats["struct_valid"].astype(bool).to_numpy()
    table["comp_valid"] = feats["comp_valid"].astype(bool).to_numpy()
    for col in _FEATURE_COLUMNS:
        if col in feats.columns:
            table[col] = feats[col].to_numpy()
    for name, values in ctx.results.items():
        if name not in ("struct_valid", "comp_valid"):
            table[name] = values
    for name, values in ctx.columns.items():
        if not name.startswith("_"):
            table[name] = values
    if "e_hull" in table.columns:
        e = table["e_hull"].to_numpy(dtype=float)
        unique = np.nan_to_num(table["unique"].to_numpy(dtype=float), nan=0) if "unique" in table else 0
        novel = np.nan_to_num(table["novel"].to_numpy(dtype=float), nan=0) if "novel" in table else 0
        table["sun"] = np.isfinite(e) & (e <= METASTABLE_EHULL) & (unique * novel > 0)
    return table

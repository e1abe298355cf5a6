"""Run all metrics on generated samples against train/test references (cached, parallel per-sample work)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from pymatgen.core import Structure

from xtalgen.evaluation.assembly import MetricSettings, choose_metrics
from xtalgen.evaluation.base import EvalContext, Metric
from xtalgen.evaluation.consistency import consistency_columns
from xtalgen.evaluation.parallel import JOB_CPU_SECONDS
from xtalgen.evaluation.sources import GeneratedSet, ReferenceSet, load_generated, load_reference
from xtalgen.evaluation.stability import EnergyModel, Stability

#: Per-sample descriptor columns copied into the results table.
_FEATURE_COLUMNS = ("formula", "spacegroup", "nsites", "nelements", "density", "volume", "struct_reason")


def default_metrics(settings: MetricSettings | None = None, energy_model: EnergyModel | None = None) -> list[Metric]:
    """The metrics of an evaluation with every input at hand, in dependency order (S.U.N. needs
    uniqueness and novelty first); see :func:`xtalgen.evaluation.assembly.choose_metrics`. Without a
    stability metric in ``settings``, stability is ``Stability(energy_model)``."""
    settings = settings or MetricSettings()
    if settings.stability is None:
        settings = replace(settings, stability=Stability(energy_model))
    return choose_metrics({"structures", "train", "test", "stability", "crystens_diagnostics"}, settings)


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
    #: properties of the relaxed reference subset of the property-distributions metric (None if not run)
    reference_properties: pd.DataFrame | None = None


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
    settings: MetricSettings | None = None,
    progress: bool = True,
    generated_split: str | None = None,
    train_split: str | None = "train",
    test_split: str | None = "test",
    limit: int | None = None,
    train_limit: int | None = None,
    test_limit: int | None = None,
) -> EvaluationResult:
    """Score ``generated`` samples against the known structures and ``train`` (novelty, hull references)
    and ``test`` (coverage, distributions); with ``stability=True`` also relax and compute E_hull with
    ``energy_model``.

    Sources may be paths (generation dir, prepared dataset, CSV, folder, file) or in-memory sets;
    ``*_split`` selects a split when a source carries one; ``limit``, ``train_limit``, ``test_limit``
    keep the first N entries. ``metrics`` (default: :func:`choose_metrics` with ``settings``) run in
    order; per-sample results are cached under ``cache_dir`` so an interrupted evaluation resumes;
    ``workers`` processes share the work. Metrics carry their own settings (the stability metric its
    energy model); ``energy_model`` builds the default stability metric and names the potential.
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
    ctx = EvalContext(gen, tr, te, Path(cache_dir) if cache_dir else None, workers, progress)
    available = _available(gen, tr, te, stability)
    if metrics is None:
        settings = settings or MetricSettings()
        if stability and settings.stability is None:
            settings = replace(settings, stability=Stability(energy_model),
                               potential=settings.potential or getattr(energy_model, "name", ""))  # fmt: skip
        metrics = choose_metrics(available, settings)
    unset = [m.name for m in metrics if "stability" in m.needs and getattr(m, "energy_model", True) is None]
    if stability and unset:
        raise ValueError(f"metrics {unset} have no energy model: construct them with energy_model=...")
    try:
        results, meta = _run(ctx, metrics, available)
        ref = _metric_attribute(metrics, meta, "distributions", "reference")
        test_properties = ctx.reference_cell_features(ref) if ref in available else None
        generated_properties = ctx.generated_cell_features() if test_properties is not None else pd.DataFrame()
    finally:
        ctx.close()
    relaxed = {
        gen.ids[i]: Structure.from_dict(d) for i, d in enumerate(ctx.columns.get("_relaxed", [])) if isinstance(d, dict)
    }
    meta.update(_meta(gen, tr, te, train_split, test_split, workers, energy_model))
    meta.update(total_s=time.perf_counter() - t0, hull_reference_table=meta.pop("hull_reference_table", None))
    return EvaluationResult(
        metrics=results,
        per_sample=_per_sample_table(ctx),
        generated_properties=generated_properties,
        test_properties=test_properties,
        structures={i: s for i, s in zip(gen.ids, gen.structures, strict=True) if s is not None},
        relaxed=relaxed,
        meta=meta,
        relaxed_by_potential=_relaxed_by_potential(ctx),
        reference_properties=_metric_attribute(metrics, meta, "properties", "reference_frame"),
    )


def _metric_attribute(metrics: list[Metric], meta: dict[str, Any], name: str, attribute: str) -> Any:
    """``attribute`` of the metric called ``name`` when it ran (None when it was skipped or not chosen)."""
    metric = next((m for m in metrics if m.name == name and m.name not in meta["skipped"]), None)
    return getattr(metric, attribute, None)


def _relaxed_by_potential(ctx: EvalContext) -> dict[str, dict[str, Structure]]:
    """Relaxed structures under each further potential (columns ``_relaxed_<potential>``), by potential."""
    ids = ctx.generated.ids
    return {
        name[len("_relaxed_"):]: {ids[i]: Structure.from_dict(d) for i, d in enumerate(col) if isinstance(d, dict)}
        for name, col in ctx.columns.items() if name.startswith("_relaxed_")
    }  # fmt: skip


def _available(gen: GeneratedSet, tr: ReferenceSet | None, te: ReferenceSet | None, stability: bool) -> set[str]:
    """The inputs at hand, by the names metrics declare in ``needs``."""
    available = {"structures"}
    available |= {"train"} if tr is not None else set()
    available |= {"test"} if te is not None else set()
    available |= {"crystens_diagnostics"} if consistency_columns(gen.info) else set()
    available |= {"stability"} if stability else set()
    return available


def _run(ctx: EvalContext, metrics: list[Metric], available: set[str]) -> tuple[dict[str, float], dict[str, Any]]:
    """Run the metrics in order: (aggregate numbers, meta with timings, skipped metrics and what the
    metrics report about themselves, e.g. their reference sets)."""
    results: dict[str, float] = {"n_samples": float(len(ctx.generated))}
    meta: dict[str, Any] = {"timings_s": {}, "cpu_s": {}, "skipped": {}}
    for metric in metrics:
        missing = sorted(set(metric.needs) - available)
        if missing:
            meta["skipped"][metric.name] = missing
            continue
        t, cpu, worker_cpu = time.perf_counter(), time.process_time(), sum(JOB_CPU_SECONDS.values())
        values = metric.per_sample(ctx)
        if values is not None:
            ctx.results[metric.name] = values
        results.update(metric.aggregate(ctx, values))
        meta.update(getattr(metric, "meta", None) or {})
        meta["timings_s"][metric.name] = time.perf_counter() - t
        # CPU seconds: this process (incl. jobs it ran itself) + jobs run in worker processes
        meta["cpu_s"][metric.name] = time.process_time() - cpu + sum(JOB_CPU_SECONDS.values()) - worker_cpu
    return results, meta


def _meta(gen: GeneratedSet, tr: ReferenceSet | None, te: ReferenceSet | None, train_split: str | None,
          test_split: str | None, workers: int, energy_model: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "n_samples": len(gen),
        "n_train": len(tr) if tr is not None else 0,
        "n_test": len(te) if te is not None else 0,
        "train_split": train_split,
        "test_split": test_split,
        "workers": workers,
        "energy_model": getattr(energy_model, "name", None),
    }


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
    return table

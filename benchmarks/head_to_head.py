"""Head-to-head benchmark: every model generates N structures on the same data, all evaluated the same way.

One command generates ``--n`` structures from each learned model (PGCGM ternary and general, CrysTens GAN,
WGAN-GP, diffusion; the shipped pretrained models by default, or ``--checkpoint KIND=PATH``), from the PyXtal
random baseline (compositions and space groups drawn from the same training split) and from the *paired*
PyXtal baseline (for each structure of ``--paired-model``, PyXtal places atoms at random with exactly its
space group, conventional-cell composition and volume per atom), evaluates every set
with the full protocol against the same train/test splits (validity, uniqueness, novelty, COV-R/P,
Wasserstein, K-S, CrysTens Tables 1-2, and with ``--stability`` CHGNet E_hull on a seeded random subset of
``--stability-n`` samples per model, ``--stability-m KIND=M`` for one model), and writes
``docs/benchmarks/head_to_head.md`` (then regenerates ``docs/benchmarks.md``): quality, symmetry and
diversity, stability (SUN, MetaSUN, S.U.N., S.S.U.N.) with 95 % intervals, each learned model minus PyXtal,
the paired comparison (bootstrap intervals of the S.U.N. ratio), speed (generation end to end, training
samples/s, peak RSS) and the published anchors.

Every stage runs in a forked child process (its wall/CPU seconds and peak RSS are measured alone) and is
recorded in ``WORK/stages.json``; a rerun skips finished stages, and interrupted evaluations resume from
their per-sample caches under ``WORK/cache``. Usage (repository root)::

    nohup nice -n 19 python benchmarks/head_to_head.py --n 1000 --stability-n 200 \\
        --work /work/runs/head_to_head > /work/runs/head_to_head.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import head_to_head_report as R  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path("/work/runs/mp_le20.parquet")
LEARNED = ("pgcgm", "pgcgm-general", "crystens-gan", "crystens-wgan", "crystens-diffusion")
BASELINE = "pyxtal-random"
#: The paired PyXtal baseline: the space group, composition and volume of each structure of ``--paired-model``.
PAIRED = "pyxtal-paired"
#: Benchmark entries that are a second model of a family: entry -> (family kind, its default pretrained model).
VARIANTS = {"pgcgm-general": ("pgcgm", "pgcgm-mp-general")}
#: Relaxation order: the issue-21 comparison (general PGCGM and its paired baseline) first, then the rest.
PRIORITY = ("pgcgm-general", PAIRED, "pgcgm", BASELINE)


def family_kind(kind: str) -> str:
    """The model family (registry kind) of a benchmark entry."""
    return VARIANTS[kind][0] if kind in VARIANTS else kind


# ----------------------------------------------------------------------------- stages (forked children)


def _usage() -> tuple[float, float]:
    """(CPU seconds, peak RSS in MB) of this process and its reaped children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    return cpu, max(own.ru_maxrss, kids.ru_maxrss) / 1024.0  # Linux: KiB


def _child(out: Path, func: Callable[..., dict[str, Any]], args: tuple[Any, ...]) -> None:
    t0 = time.perf_counter()
    try:
        extra = func(*args) or {}
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    cpu, rss = _usage()  # a forked child starts with zero usage counters
    with open(out, "w") as fh:
        json.dump({"wall_s": time.perf_counter() - t0, "cpu_s": cpu, "peak_rss_mb": rss, **extra}, fh)


def load_stages(work: Path) -> dict[str, dict[str, Any]]:
    path = work / "stages.json"
    return json.loads(path.read_text()) if path.is_file() else {}


#: Set by ``--report-only``: stages not yet recorded are not run (a look at a run under way).
REPORT_ONLY = False


def run_stage(work: Path, key: str, func: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any] | None:
    """Run ``func(*args)`` once in a forked child and record its cost under ``key`` (skipped if recorded;
    None without running it under ``REPORT_ONLY``)."""
    from xtalgen.data.atomic import atomic_write

    stages = load_stages(work)
    if key in stages:
        return stages[key]
    if REPORT_ONLY:
        return None
    tmp = work / "stages" / (key.replace("/", "__") + ".json")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.unlink(missing_ok=True)
    print(f"[stage] {key}", flush=True)
    proc = mp.get_context("fork").Process(target=_child, args=(tmp, func, args))
    proc.start()
    proc.join()
    if proc.exitcode != 0 or not tmp.is_file():
        raise RuntimeError(f"stage {key} failed (exit code {proc.exitcode}); its traceback is printed above")
    stages = load_stages(work)
    stages[key] = json.loads(tmp.read_text())
    with atomic_write(work / "stages.json") as fh:
        json.dump(stages, fh, indent=1)
    return stages[key]


# ----------------------------------------------------------------------------- models


def model_sources(args: argparse.Namespace) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """kind -> {checkpoint, label, training facts} for every model that can run; kind -> reason for the rest."""
    from xtalgen.pretrained import default_pretrained, pretrained_checkpoint, pretrained_info

    given = dict(_pairs(args.checkpoint, "--checkpoint"))
    names = dict(_pairs(args.pretrained, "--pretrained"))
    found: dict[str, dict[str, Any]] = {}
    missing: dict[str, str] = {}
    for kind in args.models:
        if kind in given:
            path = Path(given[kind])
            found[kind] = {"checkpoint": path, "source": f"checkpoint `{path}`", **training_facts(path)}
            continue
        name = names.get(kind) or (VARIANTS[kind][1] if kind in VARIANTS else default_pretrained(kind))
        if name is None:
            missing[kind] = "no pretrained model of this kind ships yet and no --checkpoint was given"
            continue
        info = pretrained_info(name)
        folder = pretrained_checkpoint(name)
        facts = training_facts(folder)
        if info.training_time_s:
            facts["train_s"] = info.training_time_s
        found[kind] = {"checkpoint": folder, "source": f"pretrained `{name}` v{info.version}",
                       "data": info.data.get("description", ""), **facts}  # fmt: skip
    return found, missing


def _pairs(items: Sequence[str], flag: str, kinds: Sequence[str] = LEARNED) -> list[tuple[str, str]]:
    out = []
    for item in items:
        kind, sep, value = item.partition("=")
        if not sep or kind not in kinds:
            raise ValueError(f"{flag} {item!r}: expected KIND=VALUE with KIND one of {list(kinds)}")
        out.append((kind, value))
    return out


def family_options(args: argparse.Namespace, kind: str) -> dict[str, Any]:
    """The ``--set KIND:KEY=VALUE`` family options of one benchmark entry (values read as YAML)."""
    import yaml

    out = {}
    for item in args.set:
        entry, _, rest = item.partition(":")
        key, _, value = rest.partition("=")
        if entry == kind:
            out[key] = yaml.safe_load(value)
    return out


def _check_family_options(args: argparse.Namespace) -> None:
    """Stop before any work on a malformed ``--set`` or a key/value the family refuses (one line)."""
    from xtalgen.pipelines.families import get_family

    for item in args.set:
        entry, sep, rest = item.partition(":")
        if not sep or entry not in LEARNED or "=" not in rest:
            raise ValueError(f"--set {item!r}: expected KIND:KEY=VALUE with KIND one of {list(LEARNED)}")
    for kind in dict.fromkeys(item.partition(":")[0] for item in args.set):
        get_family(family_kind(kind)).parse_options(family_options(args, kind))


def training_facts(path: Path) -> dict[str, Any]:
    """steps, batch size and training compute seconds of a checkpoint (seconds from the run's metrics log)."""
    from xtalgen.pipelines.training import find_checkpoint
    from xtalgen.pretrained.package import training_seconds

    folder = find_checkpoint(path)
    if folder is None:
        raise FileNotFoundError(f"no complete checkpoint at {path}")
    state = json.loads((folder / "state.json").read_text())
    config = state.get("config", {})
    run = folder.parents[1] if folder.parent.name == "checkpoints" else folder
    facts: dict[str, Any] = {"steps": int(state.get("step", 0)), "batch_size": int(config.get("batch_size", 0))}
    seconds = training_seconds(run, config)
    if seconds:
        facts["train_s"] = seconds
    return facts


# ----------------------------------------------------------------------------- stage bodies


def _train_source(args: argparse.Namespace) -> Any:
    if Path(args.train).suffix.lower() not in (".parquet", ".pq", ".xtal"):
        return args.train  # PyXtal takes the train split of a CSV itself
    from xtalgen.data.dataset import load_dataset

    return load_dataset(args.train).subset(split=args.train_split)


def generate(kind: str, out: Path, source: dict[str, Any] | None, args: argparse.Namespace) -> dict[str, Any]:
    """Generate ``args.n`` samples of ``kind`` into ``out`` (CIFs + summary.csv), post-processing included.

    PGCGM runs as users run it (``xtalgen generate`` defaults): candidates are drawn until ``args.n`` pass its
    post-processing (``--pgcgm-count candidates``: exactly ``args.n`` candidates, rejects submitted as invalid),
    cells rescaled to the composition's predicted volume; the candidates drawn are recorded."""
    import torch

    torch.set_num_threads(1)
    if kind == BASELINE:
        from xtalgen.pipelines.pyxtal.sample import generate_pyxtal_random

        generate_pyxtal_random(args.n, out, train=_train_source(args), seed=args.seed, workers=args.workers,
                               progress=False)  # fmt: skip
    elif kind == PAIRED:
        from xtalgen.pipelines.pyxtal.sample import generate_pyxtal_random

        conditions = out.parent / "conditions.csv"
        n = len(pd.read_csv(conditions))
        if n == 0:
            raise ValueError(f"{conditions}: no structure of --paired-model {args.paired_model} had a space group "
                             "to pair with")  # fmt: skip
        generate_pyxtal_random(n, out, train=None, seed=args.seed, workers=args.workers, conditions=conditions,
                               progress=False)  # fmt: skip
    elif family_kind(kind) == "pgcgm":
        from xtalgen.pipelines.pgcgm.sample import generate_pgcgm

        generate_pgcgm(args.n, out, checkpoint=source["checkpoint"], seed=args.seed, workers=args.workers,
                       **{"count": args.pgcgm_count, **family_options(args, kind)}, progress=False)  # fmt: skip
    else:
        from xtalgen.pipelines.crystens.sample import generate_crystens

        generate_crystens(args.n, out, checkpoint=source["checkpoint"], seed=args.seed, workers=args.workers,
                          sampling_steps=args.sampling_steps, progress=False, **family_options(args, kind))  # fmt: skip
    from xtalgen.data.generation_folder import read_generation_meta

    summary = pd.read_csv(out / "summary.csv")
    drawn = int(read_generation_meta(out).get("n_candidates", len(summary)))
    return {"n": len(summary) if kind == PAIRED else args.n, "submitted": len(summary), "candidates": drawn,
            "accepted": int(summary["accepted"].astype(bool).sum()), "seed": args.seed}  # fmt: skip


def paired_conditions(source: Path, out_csv: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The conditions of the paired baseline: space group, conventional-cell composition and volume per atom
    of every submitted structure of the generation folder ``source`` (spglib at 0.1 Å), in its order."""
    from xtalgen.evaluation.sources import load_generated
    from xtalgen.pipelines.pyxtal.conditions import conditions_from_structures

    gen = load_generated(source)
    table = conditions_from_structures(gen.ids, gen.structures, symprec=0.1)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_csv, index=False)
    return {"n": len(table), "submitted": len(gen), "source": str(source)}


def _eval_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {"workers": args.workers, "cache_dir": args.work / "cache", "progress": False,
            "train_split": args.train_split, "test_split": args.test_split,
            "train_limit": args.train_limit, "test_limit": args.test_limit}  # fmt: skip


def evaluate_set(gen: Path, report: Path, title: str, args: argparse.Namespace) -> dict[str, Any]:
    """The full non-stability protocol on one generation; writes the evaluation report into ``report``."""
    from xtalgen.evaluation.report import write_report
    from xtalgen.evaluation.runner import evaluate

    result = evaluate(gen, args.train, args.test, **_eval_kwargs(args))
    if args.plots:
        write_report(result, report, title=title, gallery_size=args.gallery)
    else:  # the numbers only (metrics.json, per_sample.csv as write_report writes them), no plots or HTML
        from xtalgen.data.atomic import atomic_write

        report.mkdir(parents=True, exist_ok=True)
        with atomic_write(report / "metrics.json") as fh:
            json.dump({"metrics": result.metrics, "meta": result.meta}, fh, indent=2, default=str)
        with atomic_write(report / "per_sample.csv", newline="") as fh:
            result.per_sample.to_csv(fh, index=False)
    return {"n_train": result.meta["n_train"], "n_test": result.meta["n_test"]}


def make_energy_model(args: argparse.Namespace) -> Any:
    """The energy model of the stability screen (CHGNet, FIRE with cell relaxation)."""
    from xtalgen.postprocess.relax import CHGNetEnergyModel

    return CHGNetEnergyModel(steps=args.relax_steps, fmax=args.fmax)


def subset_size(requested: int, n: int) -> int:
    """Samples relaxed of ``n`` for ``--stability-n``-style requests (0 = all)."""
    return min(requested, n) if requested > 0 else n


def stability_subset(n: int, m: int, seed: int) -> np.ndarray:
    """Sorted indices of the ``m`` samples (of ``n`` submitted) that are relaxed; all when m = 0 or m ≥ n."""
    if m <= 0 or m >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, 7]).choice(n, size=m, replace=False))


def stability_set(gen: Path, out_csv: Path, m: int, args: argparse.Namespace) -> dict[str, Any]:
    """Relax a seeded random subset of ``m`` submitted samples and write their E_hull to ``out_csv``."""
    from xtalgen.evaluation.composition_validity import CompositionalValidity
    from xtalgen.evaluation.runner import evaluate
    from xtalgen.evaluation.sources import GeneratedSet, load_generated
    from xtalgen.evaluation.stability import Stability
    from xtalgen.evaluation.validity import StructuralValidity

    full = load_generated(gen)
    idx = stability_subset(len(full), m, args.seed)
    sub = GeneratedSet([full.ids[i] for i in idx], [full.structures[i] for i in idx],
                       full.info.iloc[idx].reset_index(drop=True), [full.reasons[i] for i in idx])  # fmt: skip
    model = make_energy_model(args)
    metrics = [StructuralValidity(), CompositionalValidity(), Stability(model, args.reference_energies)]
    props = None
    if args.properties_n > 0:
        from xtalgen.evaluation.property_distributions import COLUMNS, PropertyDistributions

        props = PropertyDistributions(model, reference="train", n_reference=args.properties_n, seed=args.seed,
                                      reference_energies=args.reference_energies)  # fmt: skip
        metrics.append(props)
    kw = {k: v for k, v in _eval_kwargs(args).items() if not k.startswith("test")}
    result = evaluate(sub, args.train, None, stability=True, energy_model=model, metrics=metrics, **kw)
    if props is not None:
        prop_cols = ["id", *[c for c in COLUMNS if c in result.per_sample], "e_hull"]
        result.per_sample[[c for c in prop_cols if c in result.per_sample]].to_csv(
            out_csv.with_name(out_csv.stem + "_properties.csv"), index=False)
        if props.reference_frame is not None:
            props.reference_frame.to_csv(out_csv.with_name("properties_reference.csv"), index=False)
        pm = {k: v for k, v in result.metrics.items() if k.startswith("properties.")}
        out_csv.with_name(out_csv.stem + "_properties.json").write_text(json.dumps(pm, indent=2, default=str))
    table = result.per_sample.assign(symmetry_kept=symmetry_kept(result.per_sample, result.relaxed))
    cols = [c for c in ("id", "e_hull", "energy_per_atom", "relax_rmsd", "symmetry_kept", "e_hull_note")
            if c in table]  # fmt: skip
    table[cols].to_csv(out_csv, index=False)
    return {"relaxed": int(np.isfinite(result.per_sample["energy_per_atom"]).sum()), "subset": len(idx),
            "energy_model": getattr(model, "name", type(model).__name__)}  # fmt: skip


def symmetry_kept(per_sample: pd.DataFrame, relaxed: dict[str, Any], symprec: float = 0.1) -> np.ndarray:
    """Per sample: 1.0 if spglib (``symprec`` Å) finds the generated space group in the relaxed structure,
    0.0 if not, NaN if it was not relaxed (WyFormer's symmetry-kept criterion of S.S.U.N.)."""
    from xtalgen.evaluation.properties import spacegroup_number

    groups = per_sample.get("spacegroup", pd.Series(np.nan, index=per_sample.index)).to_numpy(float)
    out = np.full(len(per_sample), np.nan)
    for i, sid in enumerate(per_sample["id"]):
        if sid in relaxed and np.isfinite(groups[i]):
            out[i] = float(spacegroup_number(relaxed[sid], symprec) == int(groups[i]))
    return out


def generator_filter_pass(gen: Path, out_csv: Path) -> dict[str, Any]:
    """Which submitted samples in ``gen`` would pass PGCGM's default generation filters (shortest contact,
    reduced-formula size, primitive-cell size): the baseline put through the same screen as PGCGM, by the
    same post-processing code (structures as they are: no merging, no space-group target, no dedupe)."""
    from xtalgen.evaluation.sources import load_generated
    from xtalgen.pipelines.pgcgm.options import (
        DEFAULT_MAX_FORMULA_ATOMS,
        DEFAULT_MAX_PRIMITIVE_SITES,
        DEFAULT_PGCGM_DISTANCE_FACTOR,
    )
    from xtalgen.postprocess.candidates import postprocess_candidates

    full = load_generated(gen)
    results = postprocess_candidates(
        full.structures, spacegroups=[None] * len(full.structures), merge=False, dedupe=False,
        distance_factor=DEFAULT_PGCGM_DISTANCE_FACTOR, max_formula_atoms=DEFAULT_MAX_FORMULA_ATOMS,
        max_primitive_sites=DEFAULT_MAX_PRIMITIVE_SITES, workers=1, progress=False,
    )  # fmt: skip
    frame = pd.DataFrame({"id": full.ids, "passes": [r.accepted for r in results]})
    frame.to_csv(out_csv, index=False)
    return {"n": len(frame), "passing": int(frame["passes"].sum()), "distance_factor": DEFAULT_PGCGM_DISTANCE_FACTOR,
            "max_formula_atoms": DEFAULT_MAX_FORMULA_ATOMS, "max_primitive_sites": DEFAULT_MAX_PRIMITIVE_SITES}


# ----------------------------------------------------------------------------- results


def stability_flags(per_sample: pd.DataFrame, stab: pd.DataFrame) -> pd.DataFrame:
    """Per relaxed sample (rows of ``stab``, its order): id, e_hull (inf when failed/invalid) and the booleans
    stable (E_hull ≤ 0), metastable (≤ 0.1 eV/atom), un (unique and novel in the full set), sun_stable (LeMat
    SUN: stable and un), metasun (0 < E_hull ≤ 0.1 and un), sun (S.U.N.: metastable and un), ssun (S.S.U.N.:
    S.U.N. and the relaxed structure keeps the generated space group)."""
    from xtalgen.evaluation.stability import METASTABLE_EHULL, STABLE_EHULL

    flags = per_sample.reindex(columns=["id", "unique", "novel"])  # absent when no sample was valid
    merged = stab.reindex(columns=["id", "e_hull", "symmetry_kept"]).merge(flags, on="id", how="left")
    e = merged["e_hull"].to_numpy(float)
    e = np.where(np.isfinite(e), e, np.inf)
    un = (np.nan_to_num(merged["unique"].to_numpy(float)) > 0) & (np.nan_to_num(merged["novel"].to_numpy(float)) > 0)
    kept = np.nan_to_num(merged["symmetry_kept"].to_numpy(float)) > 0
    stable, meta = e <= STABLE_EHULL, e <= METASTABLE_EHULL
    return pd.DataFrame({"id": merged["id"], "e_hull": e, "stable": stable, "metastable": meta, "un": un,
                         "sun_stable": stable & un, "metasun": meta & ~stable & un, "sun": meta & un,
                         "ssun": meta & un & kept})  # fmt: skip


def stability_counts(per_sample: pd.DataFrame, stab: pd.DataFrame) -> dict[str, int]:
    """Counts over the relaxed subset (every subset sample counts; failed/invalid ones are not stable) of the
    flags of :func:`stability_flags`; ``m`` = subset size, ``kept`` = relaxed samples that kept their group."""
    f = stability_flags(per_sample, stab)
    kept = stab["symmetry_kept"].to_numpy(float) if "symmetry_kept" in stab else np.full(len(stab), np.nan)
    out = {"m": len(f), "kept": int(np.nansum(kept)), "kept_of": int(np.isfinite(kept).sum())}
    out.update({k: int(f[k].sum()) for k in ("stable", "metastable", "sun", "sun_stable", "metasun", "ssun")})
    return out


def paired_table(model_ps: pd.DataFrame, model_stab: pd.DataFrame, base_ps: pd.DataFrame, base_stab: pd.DataFrame,
                 base_summary: pd.DataFrame) -> pd.DataFrame:  # fmt: skip
    """One row per pair relaxed on both sides (a model sample and the paired baseline sample made from its
    space group and composition, joined by the baseline's ``source_id``): model_* and base_* flags of
    :func:`stability_flags` and E_hull."""
    m = stability_flags(model_ps, model_stab).add_prefix("model_")
    b = stability_flags(base_ps, base_stab).add_prefix("base_")
    link = base_summary.reindex(columns=["id", "source_id"]).rename(columns={"id": "base_id", "source_id": "model_id"})
    link["model_id"] = link["model_id"].astype(str)
    return m.merge(link, on="model_id").merge(b, on="base_id")


def element_count_group(n: float) -> str:
    """'1', '2', '3', '≥4' elements, or 'invalid' (no structure)."""
    if not np.isfinite(n):
        return "invalid"
    return str(int(n)) if n < 4 else "≥4"


def stability_by_elements(per_sample: pd.DataFrame, stab: pd.DataFrame) -> dict[str, dict[str, int]]:
    """:func:`stability_counts` within groups of the relaxed subset by number of elements of the sample."""
    groups = per_sample.reindex(columns=["id", "nelements"]).merge(stab[["id"]], on="id", how="right")
    key = groups["nelements"].astype(float).map(element_count_group)
    return {g: stability_counts(per_sample, stab[stab["id"].isin(groups.loc[key == g, "id"])])
            for g in sorted(set(key))}  # fmt: skip


def collect(kind: str, args: argparse.Namespace, m: int | None) -> dict[str, Any]:
    """Metrics, per-sample table and stability counts of one model from its run folder."""
    folder = args.work / kind
    report = json.loads((folder / "report" / "metrics.json").read_text())
    per_sample = pd.read_csv(folder / "report" / "per_sample.csv")
    out: dict[str, Any] = {"metrics": report["metrics"], "meta": report.get("meta", {}), "per_sample": per_sample}
    if m is not None:
        stab = pd.read_csv(folder / f"stability_m{m}.csv")
        out["stability"] = stability_counts(per_sample, stab)
        out["stability_table"] = stab
        out["stability_by_elements"] = stability_by_elements(per_sample, stab)
        finite = stab["e_hull"].to_numpy(float)
        finite = finite[np.isfinite(finite)]
        out["e_hull_median"] = float(np.median(finite)) if len(finite) else float("nan")
        screened = folder / "pgcgm_filters.csv"
        if screened.is_file():
            passing = pd.read_csv(screened)
            ids = set(passing.loc[passing["passes"].astype(bool), "id"])
            rec = load_stages(args.work).get(f"{kind}/pgcgm_filters", {})
            out["pgcgm_filtered"] = {**rec, "passing": len(ids), "n": len(passing),
                                     **stability_counts(per_sample, stab[stab["id"].isin(ids)])}  # fmt: skip
    return out


def paired_comparison(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The paired model-vs-PyXtal statistics (bootstrap over pairs) and issue 21's target figures."""
    model = args.paired_model
    base_summary = pd.read_csv(args.work / PAIRED / "generated" / "summary.csv", dtype={"source_id": str})
    pairs = paired_table(results[model]["per_sample"], results[model]["stability_table"],
                         results[PAIRED]["per_sample"], results[PAIRED]["stability_table"], base_summary)  # fmt: skip
    stats: dict[str, Any] = {"resamples": args.bootstrap}
    for key in ("sun", "metastable", "stable", "sun_stable", "ssun"):
        stats[key] = R.paired_bootstrap(pairs[f"model_{key}"], pairs[f"base_{key}"], args.bootstrap, args.seed)
    c = results[model]["stability"]
    b = results.get(BASELINE, {}).get("stability", {"sun": 0, "m": 0})  # not yet relaxed: no ratio (NaN)
    versus = R.ratio_bootstrap(c["sun"], c["m"], b["sun"], b["m"], args.bootstrap, args.seed)
    targets = {"valid": results[model]["metrics"].get("validity.structural", float("nan")),
               "sun": c["sun"] / c["m"] if c["m"] else float("nan"),
               "metastable": c["metastable"] / c["m"] if c["m"] else float("nan"),
               "top_share": R.top_spacegroup(results[model]["per_sample"])["top_share"],
               "n_sgs": results[model]["metrics"].get("symmetry.n_spacegroups", float("nan")),
               "ratio_baseline_lo": versus["ratio_ci"][0], "ratio_paired_lo": stats["sun"]["ratio_ci"][0]}  # fmt: skip
    conditions = load_stages(args.work).get(f"{PAIRED}/conditions", {"n": len(base_summary), "submitted": "?"})
    return {"model": model, "pairs": pairs, "stats": stats, "targets": targets, "conditions": conditions}


def copy_plots(kinds: Sequence[str], args: argparse.Namespace) -> dict[str, list[str]]:
    """Copy each model's distribution (and E_hull) plot next to the fragment; returns relative links."""
    target = args.out.parent / args.out.stem
    links: dict[str, list[str]] = {}
    for kind in kinds:
        for name in ("distributions", "e_hull"):
            png = args.work / kind / "report" / "plots" / f"{name}.png"
            if png.is_file():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(png, target / f"{kind}_{name}.png")
                links.setdefault(kind, []).append(f"[{name}]({args.out.stem}/{kind}_{name}.png)")
    return links


def property_results(kinds: Sequence[str], ms: dict[str, int] | None, args: argparse.Namespace
                     ) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Per model with a finished relaxed subset: its property-distribution metrics and a violin plot of its
    properties beside the relaxed training reference (written next to the fragment); {} without them."""
    ref_csv = next(iter(sorted(args.work.glob("*/properties_reference.csv"))), None)
    if ms is None or ref_csv is None:
        return {}
    from xtalgen.evaluation.property_plots import plot_property_violins

    reference = pd.read_csv(ref_csv)
    target = args.out.parent / args.out.stem
    out: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        stem = args.work / kind / f"stability_m{ms[kind]}_properties"
        if not (stem.with_suffix(".json").is_file() and stem.with_suffix(".csv").is_file()):
            continue
        metrics = json.loads(stem.with_suffix(".json").read_text())
        generated = pd.read_csv(stem.with_suffix(".csv"), dtype={"id": str})
        energies = pd.read_csv(args.work / kind / f"stability_m{ms[kind]}.csv", dtype={"id": str})
        relaxed = set(energies.loc[np.isfinite(energies["energy_per_atom"]), "id"])
        generated = generated[generated["id"].isin(relaxed)]  # the metric's own rule: relaxed samples only
        png = plot_property_violins(generated, reference, target / f"{kind}_properties.png", metrics)
        out[kind] = {"metrics": metrics, "plot": f"{args.out.stem}/{png.name}"}
    return out


def _generate_stage(kind: str, sources: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    """Generate one model's set (the paired baseline: its conditions first), checking n and seed on a rerun."""
    gen = args.work / kind / "generated"
    if kind == PAIRED:
        run_stage(args.work, f"{kind}/conditions", paired_conditions, args.work / args.paired_model / "generated",
                  args.work / kind / "conditions.csv", args)  # fmt: skip
    rec = run_stage(args.work, f"{kind}/generate", generate, kind, gen, sources.get(kind), args)
    if rec is not None and ((rec["n"] != args.n and kind != PAIRED) or rec["seed"] != args.seed):
        raise ValueError(f"{args.work}: {kind} was generated with n={rec['n']}, seed={rec['seed']}; "
                         f"use another --work for n={args.n}, seed={args.seed}")  # fmt: skip


def _warm_evaluation() -> None:
    """Import the evaluation libraries once in the parent (after generation), so each forked evaluation
    stage inherits them instead of spending several CPU seconds importing them again."""
    import pymatgen.analysis.structure_matcher  # noqa: F401
    import pymatgen.symmetry.analyzer  # noqa: F401
    import smact.screening  # noqa: F401

    import xtalgen.evaluation.fingerprints  # noqa: F401
    import xtalgen.evaluation.report  # noqa: F401  (matplotlib, gallery)


def main(argv: Sequence[str] | None = None) -> Path:
    global REPORT_ONLY
    args = parse_args(argv)
    REPORT_ONLY = args.report_only
    args.work.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()[0]
    sources, missing = model_sources(args)
    kinds = [*sources, BASELINE]
    kinds = sorted(kinds, key=lambda k: (PRIORITY.index(k) if k in PRIORITY else len(PRIORITY), kinds.index(k)))
    if args.paired_model:  # the paired baseline right after the model it copies
        if args.paired_model not in kinds:
            raise ValueError(f"--paired-model {args.paired_model}: not among the models run ({kinds})")
        kinds.insert(kinds.index(args.paired_model) + 1, PAIRED)
    ms = None
    if args.stability:
        ms = {kind: subset_size(args.stability_n, args.n) for kind in kinds}
        if args.baseline_stability_n is not None:
            ms[BASELINE] = subset_size(args.baseline_stability_n, args.n)
        for kind, m in _pairs(args.stability_m, "--stability-m", [*kinds]):
            ms[kind] = subset_size(int(m), args.n)
    # the paired comparison (its model and the paired baseline) is generated, evaluated and relaxed first, so
    # its headline is there early in a long run; then the other models. Within a group, generation first: the
    # parent stays small, so forked children measure their own peak RSS (the second group's generation runs
    # after the evaluation libraries were imported, so its peak RSS includes them).
    first = [args.paired_model, PAIRED] if args.paired_model else []
    for group in (first, [k for k in kinds if k not in first]):
        for kind in group:
            _generate_stage(kind, sources, args)
        if group:
            _warm_evaluation()
        for kind in group:  # each model evaluated, then its subset relaxed
            run_stage(args.work, f"{kind}/evaluate", evaluate_set, args.work / kind / "generated",
                      args.work / kind / "report", f"{kind}: {args.n} samples", args)  # fmt: skip
            if ms is not None:
                m = ms[kind]
                run_stage(args.work, f"{kind}/stability_m{m}", stability_set, args.work / kind / "generated",
                          args.work / kind / f"stability_m{m}.csv", m, args)  # fmt: skip
    if ms is not None and "pgcgm" in kinds:  # sensitivity: the baseline through PGCGM's own generation filters
        run_stage(args.work, f"{BASELINE}/pgcgm_filters", generator_filter_pass, args.work / BASELINE / "generated",
                  args.work / BASELINE / "pgcgm_filters.csv")  # fmt: skip
    stages = load_stages(args.work)
    done = [k for k in kinds if f"{k}/evaluate" in stages]  # all of them unless --report-only
    results = {k: collect(k, args, ms[k] if ms and f"{k}/stability_m{ms[k]}" in stages else None) for k in done}
    if not results:
        print(f"{args.work}: no model evaluated yet; nothing written", flush=True)
        return args.out
    if ms is not None and PAIRED in results and all("stability" in results[k] for k in (PAIRED, args.paired_model)):
        results[PAIRED]["paired"] = paired_comparison(args, results)
    text = R.render(args, sources, missing, results, load_stages(args.work), copy_plots(kinds, args), ms,
                    load_start, _usage()[1], properties=property_results(done, ms, args))  # fmt: skip
    from xtalgen.data.atomic import atomic_write

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out) as fh:
        fh.write(text)
    print(f"wrote {args.out}", flush=True)
    if args.assemble:
        import assemble_docs

        assemble_docs.main()
    return args.out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train", type=Path, default=DEFAULT_DATA, help="prepared dataset (or any source) to train on")
    p.add_argument("--test", type=Path, default=None, help="test structures (default: the --train file)")
    p.add_argument("--train-split", default="train")
    p.add_argument("--test-split", default="test")
    p.add_argument("--train-limit", type=int, default=None, help="first N training structures (default all)")
    p.add_argument("--test-limit", type=int, default=None, help="first N test structures (default all)")
    p.add_argument("--n", type=int, default=1000, help="structures generated per model")
    p.add_argument("--models", nargs="+", default=list(LEARNED), choices=list(LEARNED))
    p.add_argument(
        "--pretrained",
        action="append",
        default=[],
        metavar="KIND=NAME",
        help="pretrained model to use for KIND (default: the registry's default)",
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="KIND=PATH",
        help="training run / checkpoint to use for KIND instead of a pretrained model",
    )
    p.add_argument("--stability", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--stability-n", type=int, default=200, help="samples relaxed per model (0 = all)")
    p.add_argument("--baseline-stability-n", type=int, default=None,
                   help="samples relaxed for the PyXtal baseline (default: --stability-n; 0 = all)")
    p.add_argument("--stability-m", action="append", default=[], metavar="KIND=M",
                   help="samples relaxed for one model, e.g. pgcgm-general=300 (0 = all); overrides --stability-n")
    p.add_argument("--paired-model", default="pgcgm-general",
                   help="model whose structures the paired PyXtal baseline copies (space group, composition, "
                        "volume); '' = no paired baseline")
    p.add_argument("--report-only", action="store_true",
                   help="write the page from the stages finished so far (a run under way); run no stage")
    p.add_argument("--bootstrap", type=int, default=10000, help="bootstrap resamples of the paired S.U.N. ratio")
    p.add_argument("--pgcgm-count", choices=("accepted", "candidates"), default="accepted",
                   help="PGCGM: submit N accepted structures (default, as `xtalgen generate`) or N raw candidates")
    p.add_argument("--properties-n", type=int, default=100,
                   help="relaxed training structures the property distributions compare with (0 = no properties)")
    p.add_argument("--relax-steps", type=int, default=200, help="CHGNet FIRE steps per relaxation")
    p.add_argument("--fmax", type=float, default=0.1, help="force convergence (eV/Å)")
    p.add_argument(
        "--reference-energies",
        default="auto",
        help="hull references: 'auto' (shipped table for the model, else --train), 'train' or a table",
    )
    p.add_argument("--set", action="append", default=[], metavar="KIND:KEY=VALUE",
                   help="a family sampling option for one model, e.g. crystens-diffusion:conditions=drawn "
                        "(value read as YAML; as `xtalgen generate --set`), repeatable")
    p.add_argument("--sampling-steps", type=int, default=None, help="diffusion sampling steps (config default)")
    p.add_argument("--gallery", type=int, default=12, help="gallery images per model report")
    p.add_argument(
        "--plots",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="full per-model reports (plots, HTML, gallery); --no-plots writes the numbers only",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--work", type=Path, default=Path("/work/runs/head_to_head"))
    p.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks" / "head_to_head.md")
    p.add_argument(
        "--assemble",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="regenerate docs/benchmarks.md from the fragments afterwards",
    )
    args = p.parse_args(argv)
    args.test = args.test or args.train
    if args.n < 1 or args.workers < 1:
        raise ValueError(f"--n and --workers must be >= 1 (got {args.n}, {args.workers})")
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    _check_family_options(args)
    return args


if __name__ == "__main__":
    main()

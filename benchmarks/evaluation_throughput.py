"""Evaluation throughput and sanity on Materials Project data (writes a markdown fragment).

Measures, on this machine:
1. sanity: the MP test split scored as if generated against the train split (validity 100 %,
   compositional validity = SMACT's verdict, novelty/uniqueness ≈ 100 %), the train split against
   itself (novelty 0 %), and test vs test coverage (COV-R = COV-P = 100 %);
2. throughput of the non-stability metrics: PyXtal random samples (the baseline, compositions drawn
   from the full train split) against the full MP train split (~74,000) and a test slice; reference
   featurisation (cached once per dataset) is timed separately from the per-generated-sample work;
   a first evaluation (which reduces the training structures it needs and caches them per training
   set) is timed separately from a repeat with that cache warm; times are wall and CPU seconds
   (this process + its worker processes, via getrusage), and the per-sample CPU cost is extrapolated
   linearly to 10,000 samples;
3. CHGNet relaxation rate (FIRE, ≤ 200 steps, fmax 0.1 eV/Å) and static reference-energy rate.

``--dataset`` selects the reference data (default: the raw MP CSV; a prepared dataset such as
``xtalgen data prepare mp_structures.csv.gz --max-sites 20 -o mp_le20.parquet`` gives the MP ≤ 20
sites setting); ``--samples DIR`` reuses generated samples (a ``xtalgen generate`` folder).

Usage:  python benchmarks/evaluation_throughput.py [--generated 500] [--test 2000] [--relax 8]
        [--sanity-test 100] [--sanity-train 500] [--dataset PATH] [--samples DIR]
        [--markdown docs/benchmarks/evaluation.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
#: Default location of the raw MP table (the shared datasets beside the checkout); --dataset overrides it.
MP = REPO / ".." / "shared" / "datasets" / "mp" / "mp_structures.csv.gz"


def _sanity(n_test: int, n_train: int, workers: int, cache: Path, mp: Path = MP) -> dict[str, float]:
    from smact.screening import smact_validity

    from xtalgen.evaluation.runner import evaluate
    from xtalgen.evaluation.sources import load_generated

    t = time.perf_counter()
    r = evaluate(mp, mp, mp, generated_split="test", limit=n_test, train_limit=n_train, test_limit=n_test,
                 workers=workers, cache_dir=cache, progress=False)  # fmt: skip
    gen = load_generated(mp, split="test", limit=n_test)
    smact = np.mean([smact_validity(s.composition, oxidation_states_set="smact14") for s in gen.structures])
    own = evaluate(mp, mp, None, generated_split="train", limit=n_test, train_limit=n_train, workers=workers,
                   cache_dir=cache, progress=False)  # fmt: skip
    m = r.metrics
    return {
        "n_test": n_test,
        "n_train": n_train,
        "validity.structural": m["validity.structural"],
        "validity.compositional": m["validity.compositional"],
        "smact_direct": float(smact),
        "novelty(test vs train)": m["novelty"],
        "uniqueness(test)": m["uniqueness"],
        "novelty(train vs train)": own.metrics["novelty"],
        "coverage.recall(test vs test)": m["coverage.recall"],
        "coverage.precision(test vs test)": m["coverage.precision"],
        "seconds": time.perf_counter() - t,
    }


def _cpu() -> float:
    """CPU seconds of this process and its finished (reaped) children: pool workers count once the
    evaluation has shut its pool down."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed_evaluate(*args: object, **kwargs: object) -> tuple[object, float, float, dict[str, float]]:
    from xtalgen.evaluation.parallel import JOB_CPU_SECONDS
    from xtalgen.evaluation.runner import evaluate

    jobs0 = dict(JOB_CPU_SECONDS)
    t, c = time.perf_counter(), _cpu()
    r = evaluate(*args, **kwargs)
    jobs = {k: v - jobs0.get(k, 0.0) for k, v in JOB_CPU_SECONDS.items()}
    return r, time.perf_counter() - t, _cpu() - c, jobs


def _throughput(
    n_gen: int, n_test: int, workers: int, work: Path, data: Path = MP, samples: Path | None = None
) -> dict[str, float]:
    from xtalgen.evaluation.sources import load_reference
    from xtalgen.pipelines.pyxtal.sample import generate_pyxtal_random

    t = time.perf_counter()
    train = load_reference(data, split="train", name="train")
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    gen_dir = samples if samples is not None else work / f"pyxtal{n_gen}"
    reused = (gen_dir / "summary.csv").is_file()
    if not reused:
        generate_pyxtal_random(n_gen, gen_dir, train=data, seed=0, workers=workers, progress=False)
    t_pyxtal = float("nan") if reused else time.perf_counter() - t
    cache = work / "cache"

    def clear(pattern: str) -> None:
        for stale in cache.glob(pattern):
            stale.unlink()

    # a rerun with --work-dir reuses generated samples and caches: clear the per-sample ones and the
    # reduced training structures (so the first run below pays for them, as a first evaluation would)
    clear("generated/*.jsonl")
    clear("ref-*/reduced.jsonl")
    # 1) reference work on the test set (features + fingerprints), done once per dataset and cached
    _, t_ref, c_ref, _ = _timed_evaluate(gen_dir, train, data, limit=1, test_limit=n_test, workers=workers,
                                         cache_dir=cache, progress=False, metrics=_reference_metrics())  # fmt: skip
    clear("generated/*.jsonl")
    clear("ref-*/reduced.jsonl")
    kw = {"limit": n_gen, "test_limit": n_test, "workers": workers, "cache_dir": cache, "progress": False}
    # 2) first evaluation against this training set: reduces the training candidates it needs
    r1, t1, c1, jobs1 = _timed_evaluate(gen_dir, train, data, **kw)
    n_reduced = len(next(cache.glob("ref-*/reduced.jsonl")).read_text(encoding="utf-8").splitlines())
    clear("generated/*.jsonl")
    # 3) same samples again with the reduced training structures cached (every later evaluation)
    r, t_gen, c_gen, jobs = _timed_evaluate(gen_dir, train, data, **kw)
    n = r.meta["n_samples"]
    reduce_cpu = jobs1.get("train reduction", 0.0) / max(n_reduced, 1)
    out = {
        "dataset": str(data),
        "n_generated": n,
        "n_train": len(train),
        "n_test": n_test,
        "load_train_s": t_load,
        "pyxtal_generation_s": t_pyxtal,
        "pyxtal_structures_per_s": n / t_pyxtal,
        "reference_featurisation_s": t_ref,
        "reference_cpu_s_per_test_structure": c_ref / n_test,
        "first_run_wall_s": t1,
        "first_run_cpu_s": c1,
        "first_run_train_structures_reduced": n_reduced,
        "train_reduction_cpu_s_per_structure": reduce_cpu,
        "full_train_reduction_cpu_s (extrapolated)": reduce_cpu * len(train),
        "generated_evaluation_wall_s": t_gen,
        "generated_evaluation_cpu_s": c_gen,
        "generated_cpu_s_per_sample": c_gen / n,
        "extrapolated_10000_cpu_s": c_gen / n * 10_000,
        "extrapolated_10000_wall_s_on_2_free_cores": c_gen / n * 10_000 / 2,
    }
    out.update({f"cpu_s_per_sample.{k}": v / n for k, v in r.meta["cpu_s"].items()})
    out["cpu_s_per_sample.other (loading, keys, pool start)"] = (c_gen - sum(r.meta["cpu_s"].values())) / n
    out.update({f"wall.{k}": v for k, v in r.meta["timings_s"].items()})
    out.update({f"cpu.{k}": v for k, v in r.meta["cpu_s"].items()})
    out.update({f"cpu_first_run.{k}": v for k, v in r1.meta["cpu_s"].items()})
    out.update({f"job_cpu.{k}": v for k, v in jobs.items()})
    out.update({f"baseline.{k}": v for k, v in r.metrics.items()})
    return out


def _reference_metrics() -> list[object]:
    """The metrics whose reference work (test-set features and fingerprints) is cached per dataset."""
    from xtalgen.evaluation.coverage import Coverage
    from xtalgen.evaluation.distributions import Distributions

    return [Coverage(), Distributions()]


def _relax_rate(n: int, workers: int, work: Path, mp: Path = MP) -> dict[str, float]:
    from xtalgen.evaluation.sources import load_generated, load_reference
    from xtalgen.postprocess.relax import CHGNetEnergyModel

    gen = load_generated(next(work.glob("pyxtal*")), limit=n)
    items = [(i, s) for i, s in zip(gen.ids, gen.structures, strict=True) if s is not None]
    model = CHGNetEnergyModel(steps=200, fmax=0.1)
    t = time.perf_counter()
    done = model.relax(items, cache_path=None, workers=workers, progress=False)
    t_relax = time.perf_counter() - t
    ref = load_reference(mp, split="train", limit=4 * n, name="train")
    t = time.perf_counter()
    model.energies([(ref.ids[j], ref.payload(j)) for j in range(len(ref))], cache_path=None, workers=workers,
                   progress=False)  # fmt: skip
    t_static = time.perf_counter() - t
    steps = [r.get("steps", 0) for r in done.values() if "error" not in r]
    return {
        "relaxed": len(items),
        "mean_sites": float(np.mean([len(s) for _, s in items])),
        "mean_steps": float(np.mean(steps)) if steps else float("nan"),
        "converged_fraction": float(np.mean([bool(r.get("converged")) for r in done.values()])),
        "relax_s": t_relax,
        "relax_structures_per_min": 60 * len(items) / t_relax,
        "static_structures": len(ref),
        "static_structures_per_min": 60 * len(ref) / t_static,
    }


def _markdown(res: dict[str, dict[str, float]], machine: str) -> str:
    lines = ["## Evaluation throughput", "", f"Machine: {machine}.", ""]
    for section, values in res.items():
        lines += [f"### {section}", "", "| quantity | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generated", type=int, default=500)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--relax", type=int, default=8)
    ap.add_argument("--sanity-test", type=int, default=100)
    ap.add_argument("--sanity-train", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip", default="", help="comma list of sections to skip: sanity,throughput,relax")
    ap.add_argument("--markdown", type=Path, default=None)
    ap.add_argument("--work-dir", type=Path, default=None, help="keep caches/samples here (reused by reruns)")
    ap.add_argument("--dataset", type=Path, default=MP, help="reference data: MP CSV or a prepared dataset")
    ap.add_argument("--samples", type=Path, default=None, help="generated samples to reuse (xtalgen generate dir)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    skip = set(filter(None, args.skip.split(",")))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.1f} at start"
    res: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or Path(tmp)
        if "sanity" not in skip:
            res["Sanity on MP"] = _sanity(args.sanity_test, args.sanity_train, args.workers, work / "sanity",
                                           args.dataset)
            print(json.dumps(res["Sanity on MP"], indent=1), flush=True)
        if "throughput" not in skip:
            res["Non-stability metrics"] = _throughput(
                args.generated, args.test, args.workers, work, args.dataset, args.samples
            )
            print(json.dumps(res["Non-stability metrics"], indent=1), flush=True)
        if "relax" not in skip and "throughput" not in skip:
            res["CHGNet"] = _relax_rate(args.relax, args.workers, work, args.dataset)
            print(json.dumps(res["CHGNet"], indent=1), flush=True)
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = _markdown(res, f"{machine}, {load_end:.1f} at the end")
    print(text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()

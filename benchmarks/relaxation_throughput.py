"""Relaxation throughput: CHGNet's per-structure ASE relaxation, the batched engine and the batched engine with
early stopping of clearly unstable candidates, side by side (writes a fragment).

All engines relax the same structures (the first ``-n`` samples of a ``xtalgen generate`` folder with at
most ``--max-sites`` sites, as written) with the same settings (FIRE, cell free, ≤ ``--steps`` steps, fmax
``--fmax`` eV/Å) through the public energy model (:class:`xtalgen.postprocess.relax.CHGNetEnergyModel`,
``engine="ase"``, ``engine="batched"``, and ``"early"``: batched with an
:class:`xtalgen.postprocess.early_stop.EarlyStopRule` from the ``--early-*`` options, given each structure's
hull energy from the shipped CHGNet reference table), each on ``--workers`` processes. Reported per engine: wall and
CPU seconds (this process and its workers, via getrusage), relaxations per minute (wall, and CPU-bound:
``60 × cores / CPU-s per relaxation``, what that many free cores would do), failures; and their agreement:
final energies, steps, E_hull against the shipped CHGNet reference table, and the metastable verdict
(E_hull ≤ ``--metastable`` eV/atom; a structure stopped early is "not metastable"), each engine against the
first of ``--engines`` (the baseline). The batched baseline records each structure's energy per step; from
those the early-stop rule is replayed offline on a grid of its parameters (``--calibrate``): potential calls
saved against metastable structures wrongly stopped. The load average is recorded before and after each run.

Records go to ``--out`` (one JSON-lines file per engine, resumable); an engine whose run finished is not
run again (its timing is kept in ``timing-<engine>.json``).

Usage:  python benchmarks/relaxation_throughput.py SAMPLES_DIR [-n 200] [--max-sites 20] [--workers 2]
        [--engines batched,early] [--batch-size 8] [--early-batch-size 8] [--out DIR]
        [--markdown docs/benchmarks/relaxation_throughput.md]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ENGINES = ("ase", "batched", "early")


def _cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (user + system)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _samples(folder: Path, n: int, max_sites: int, skip: int = 0) -> list[tuple[str, Any]]:
    from xtalgen.evaluation.sources import load_generated

    gen = load_generated(folder)
    chosen = [(sid, s) for sid, s in zip(gen.ids, gen.structures, strict=True) if s is not None and len(s) <= max_sites]
    chosen = chosen[skip:]
    if len(chosen) < n:
        print(f"only {len(chosen)} samples with ≤ {max_sites} sites in {folder}; using them all", file=sys.stderr)
    return chosen[:n]


def _rule(args: argparse.Namespace) -> Any:
    from xtalgen.postprocess.early_stop import EarlyStopRule

    return EarlyStopRule(after=args.early_after, margin=args.early_margin, window=args.early_window,
                         max_drop=args.early_max_drop, limit=args.metastable)  # fmt: skip


def _model(engine: str, args: argparse.Namespace) -> Any:
    from xtalgen.postprocess.relax import CHGNetEnergyModel

    if engine == "early":
        return CHGNetEnergyModel(steps=args.steps, fmax=args.fmax, engine="batched", batch_size=args.early_batch_size,
                                 device=args.device, early_stop=_rule(args))  # fmt: skip
    return CHGNetEnergyModel(steps=args.steps, fmax=args.fmax, engine=engine, batch_size=args.batch_size,
                             device=args.device, trace=engine == "batched")  # fmt: skip


def _run(
    engine: str, items: list[tuple[str, Any]], args: argparse.Namespace, hull: dict[str, float]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(records by id, timing) of one engine; the timing of an earlier finished run is reused."""
    model = _model(engine, args)
    cache = args.out / f"relax-{engine}.jsonl"
    timing_path = args.out / f"timing-{engine}.json"
    ids = [sid for sid, _ in items]
    settings = {"settings": model.relax_settings, "batch_size": model.batch_size}
    if timing_path.is_file():
        timing = json.loads(timing_path.read_text())
        if timing.get("ids") == ids and timing.get("settings", settings) == settings:
            return model.relax(items, cache_path=cache, workers=args.workers, progress=False, hull=hull), timing
    cache.unlink(missing_ok=True)  # a timed run relaxes everything
    if args.workers <= 1:  # in this process: load the model before the clock starts, as workers load their own
        from xtalgen.postprocess.relax import chgnet_model

        chgnet_model(device=args.device)
    load0, wall, cpu = os.getloadavg()[0], time.perf_counter(), _cpu_seconds()
    records = model.relax(items, cache_path=cache, workers=args.workers, progress=not args.quiet, hull=hull)
    timing = {"ids": ids, "wall_s": time.perf_counter() - wall, "cpu_s": _cpu_seconds() - cpu,
              "load_before": load0, "load_after": os.getloadavg()[0], "workers": args.workers,
              "batch_size": model.batch_size if engine != "ase" else None, **settings}  # fmt: skip
    timing_path.write_text(json.dumps(timing))
    return records, timing


def _engine_row(items: list[tuple[str, Any]], records: dict[str, Any], timing: dict[str, Any]) -> dict[str, Any]:
    n = len(items)
    failed = sum(1 for sid, _ in items if records[sid].get("energy_per_atom") is None)
    cores = min(timing["workers"], os.cpu_count() or 1)
    steps = [records[sid]["steps"] for sid, _ in items if records[sid].get("steps") is not None]
    return {
        **{k: v for k, v in timing.items() if k not in ("ids", "settings")}, "failed": failed,
        "per_min_wall": 60.0 * n / timing["wall_s"], "cpu_s_per_relax": timing["cpu_s"] / n,
        "per_min_cpu_bound": 60.0 * cores * n / timing["cpu_s"], "cores": cores,
        "steps_mean": float(np.mean(steps)) if steps else float("nan"),
        "stopped_early": sum(1 for sid, _ in items if records[sid].get("stopped_early")),
    }  # fmt: skip


def agreement(old: dict, new: dict, hull: dict[str, float], ids: list[str], metastable: float, ase_old: bool) -> dict:
    """Verdicts, energies and steps of ``new`` against ``old`` (records by id) on ``ids``."""
    both = [sid for sid in ids if sid in hull and old[sid].get("energy_per_atom") is not None
            and new[sid].get("energy_per_atom") is not None]  # fmt: skip
    meta = {k: {sid: r[sid]["energy_per_atom"] - hull[sid] <= metastable for sid in both}
            for k, r in (("o", old), ("n", new))}  # fmt: skip
    same = [meta["o"][sid] == meta["n"][sid] for sid in both]
    ends = [sid for sid in both if not new[sid].get("stopped_early")]
    de = np.array([new[sid]["energy_per_atom"] - old[sid]["energy_per_atom"] for sid in ends])
    # ASE's record counts its trajectory frames (one more than FIRE steps)
    same_steps = [new[sid]["steps"] == old[sid]["steps"] - int(ase_old) for sid in ends]
    stopped = [sid for sid in both if new[sid].get("stopped_early")]
    return {
        "n_both": len(both), "metastable_agreement": float(np.mean(same)) if same else float("nan"),
        "n_disagree": int(len(same) - sum(same)), "n_metastable_old": int(sum(meta["o"].values())),
        "n_metastable_new": int(sum(meta["n"].values())), "n_stopped": len(stopped),
        "n_stopped_metastable_old": int(sum(meta["o"][sid] for sid in stopped)), "n_to_end": len(ends),
        "de_median": float(np.median(np.abs(de))) if len(de) else float("nan"),
        "de_p95": float(np.percentile(np.abs(de), 95)) if len(de) else float("nan"),
        "de_max": float(np.abs(de).max()) if len(de) else float("nan"),
        "frac_de_below_1mev": float(np.mean(np.abs(de) < 1e-3)) if len(de) else float("nan"),
        "same_steps": float(np.mean(same_steps)) if same_steps else float("nan"),
        "disagreeing": [(sid, old[sid]["energy_per_atom"] - hull[sid], new[sid]["energy_per_atom"] - hull[sid])
                        for sid, ok in zip(both, same, strict=True) if not ok],  # fmt: skip
    }  # fmt: skip


def calibrate(records: dict[str, Any], hull: dict[str, float], grid: list[Any], metastable: float) -> list[dict]:
    """Replay each early-stop rule of ``grid`` on the baseline's energy traces: potential calls saved and
    metastable structures (by the baseline's verdict) that the rule would have stopped."""
    traces = {sid: r["energies"] for sid, r in records.items() if r.get("energies") and sid in hull}
    calls = sum(len(t) for t in traces.values())
    out = []
    for rule in grid:
        saved, stopped, wrong = 0, 0, 0
        for sid, trace in traces.items():
            last = len(trace) - 1  # the rule is asked after calls 0 .. last-1 (the last call ends the run)
            at = next((t for t in range(rule.after, last) if rule.should_stop(hull[sid], trace[: t + 1])), None)
            if at is not None:
                saved, stopped = saved + last - at, stopped + 1
                wrong += int(records[sid]["energy_per_atom"] - hull[sid] <= metastable)
        out.append({**rule.settings(), "stopped": stopped, "wrong": wrong, "calls_saved": saved / max(calls, 1)})
    return out


def compare(items: list[tuple[str, Any]], runs: dict[str, tuple[dict, dict]], hull: dict[str, float],
            args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    """Throughput per engine, the agreement of each with the first (the baseline), and the rule calibration."""
    out: dict[str, Any] = {"n": len(items), "sites_mean": float(np.mean([len(s) for _, s in items])), "engines": {},
                           "agreement": {}}  # fmt: skip
    for engine, (records, timing) in runs.items():
        out["engines"][engine] = _engine_row(items, records, timing)
    base, *others = list(runs)
    ids = [sid for sid, _ in items]
    for engine in others:
        out["agreement"][engine] = agreement(runs[base][0], runs[engine][0], hull, ids, args.metastable, base == "ase")
    if base == "batched":
        from dataclasses import replace

        rule = _rule(args)
        grid = [replace(rule, after=a, margin=m, max_drop=d) for a in (20, 30, 50) for m in (0.2, 0.3, 0.5)
                for d in (0.0005, 0.001, 0.002, 0.005)]  # fmt: skip
        out["calibration"] = calibrate(runs[base][0], hull, grid, args.metastable)
    return out


def markdown(result: dict[str, Any], args: argparse.Namespace, command: str) -> str:
    e = result["engines"]
    base = next(iter(e))
    lines = [
        "# Relaxation throughput: batched FIRE with and without early stopping (CHGNet, CPU)",
        "",
        f"{result['n']} PGCGM samples with ≤ {args.max_sites} sites (mean {result['sites_mean']:.1f} sites) from "
        f"`{args.samples}`, CHGNet 0.3.0, FIRE with the cell free (Fréchet cell filter), ≤ {args.steps} steps, "
        f"fmax {args.fmax} eV/Å; {args.workers} worker processes, one thread each, `nice`. Engines: `ase` (CHGNet's "
        f"StructOptimizer per structure), `batched` ({args.batch_size} structures per CHGNet pass; today's default), "
        f"`early` (batched, {args.early_batch_size} per pass, early stop: from step {args.early_after} on, stop a "
        f"structure whose E − hull − {args.metastable} > {args.early_margin} eV/atom while its energy fell < "
        f"{args.early_max_drop} eV/atom per step over the last {args.early_window} steps; verdict \"not metastable\"). "
        "CPU-bound rate = 60 × cores / CPU-s per relaxation (what that many free cores would do; model loading "
        "included); the wall rate depends on the other jobs sharing the machine (load average before → after).",
        "",
        "| engine | wall s | CPU s | CPU s / relaxation | relaxations/min (wall) | relaxations/min (CPU-bound) | "
        "mean FIRE steps | stopped early | failed | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for engine, r in e.items():
        steps = r["steps_mean"] - 1 if engine == "ase" else r["steps_mean"]
        lines.append(
            f"| {engine} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | {r['cpu_s_per_relax']:.2f} | {r['per_min_wall']:.1f} "
            f"| {r['per_min_cpu_bound']:.1f} | {steps:.1f} | {r['stopped_early']} | {r['failed']} | "
            f"{r['load_before']:.1f} → {r['load_after']:.1f} |"
        )
    for engine, a in result["agreement"].items():
        speedup = e[base]["cpu_s_per_relax"] / e[engine]["cpu_s_per_relax"]
        lines += [
            "",
            f"**{engine} vs {base}**: speed-up (CPU-bound) **{speedup:.2f}×**; metastable verdict (E_hull ≤ "
            f"{args.metastable} eV/atom, shipped CHGNet reference table) the same for "
            f"**{100 * a['metastable_agreement']:.1f} %** of {a['n_both']} ({a['n_disagree']} differ; "
            f"{a['n_metastable_old']} metastable with {base}, {a['n_metastable_new']} with {engine}); "
            f"{a['n_stopped']} stopped early ({a['n_stopped_metastable_old']} of them metastable with {base}). "
            f"On the {a['n_to_end']} relaxed to the end: |ΔE| median {a['de_median']:.1e}, 95th percentile "
            f"{a['de_p95']:.1e}, max {a['de_max']:.1e} eV/atom ({100 * a['frac_de_below_1mev']:.0f} % below 1 "
            f"meV/atom); same number of FIRE steps for {100 * a['same_steps']:.0f} %.",
        ]
        for sid, h_old, h_new in a["disagreeing"]:
            lines.append(f"- `{sid}`: E_hull {h_old:.3f} ({base}) vs {h_new:.3f} ({engine}) eV/atom")
    if result.get("calibration"):
        lines += ["", f"Early-stop calibration: each rule replayed on the `{base}` run's energy traces (window "
                  f"{args.early_window} steps); calls saved = share of CHGNet calls not made; wrong = metastable "
                  f"structures (by `{base}`) the rule stops.", "",
                  "| after (steps) | margin (eV/atom) | max drop (eV/atom/step) | stopped | wrong | calls saved |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for c in result["calibration"]:
            lines.append(f"| {c['after']} | {c['margin']} | {c['max_drop']} | {c['stopped']} | {c['wrong']} | "
                         f"{100 * c['calls_saved']:.0f} % |")  # fmt: skip
    lines += ["", "Reproduce:", "", "```bash", command, "python benchmarks/assemble_docs.py", "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from xtalgen.postprocess.early_stop import AFTER, MARGIN, MAX_DROP, WINDOW

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("samples", type=Path, help="a `xtalgen generate` output folder")
    parser.add_argument("-n", type=int, default=200, help="structures (the first N with ≤ --max-sites sites)")
    parser.add_argument("--max-sites", type=int, default=20)
    parser.add_argument("--skip", type=int, default=0, help="leave out the first SKIP eligible samples (held-out sets)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--fmax", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--early-batch-size", type=int, default=8)
    parser.add_argument("--early-after", type=int, default=AFTER, help="early stop: first step checked")
    parser.add_argument("--early-margin", type=float, default=MARGIN, help="early stop: eV/atom above the limit")
    parser.add_argument("--early-window", type=int, default=WINDOW, help="early stop: steps of the drop")
    parser.add_argument("--early-max-drop", type=float, default=MAX_DROP, help="early stop: eV/atom per step")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--engines", default="batched,early",
                        help="comma-separated from ase, batched, early; the first is the baseline")  # fmt: skip
    parser.add_argument("--metastable", type=float, default=0.1, help="E_hull limit (eV/atom)")
    parser.add_argument("--out", type=Path, default=Path("relaxation_throughput"))
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or set(engines) - set(ENGINES):
        parser.error(f"--engines: choose from {', '.join(ENGINES)}, got {args.engines!r}")
    args.out.mkdir(parents=True, exist_ok=True)
    items = _samples(args.samples, args.n, args.max_sites, args.skip)
    from xtalgen.evaluation.stability import resolve_reference_table
    from xtalgen.postprocess.relax import CHGNetEnergyModel

    table = resolve_reference_table("auto", CHGNetEnergyModel())
    if table is None:
        parser.error("no shipped CHGNet reference table: E_hull cannot be computed")
    from xtalgen.evaluation.hull_points import hull_points

    hull = hull_points(items, table)
    runs = {engine: _run(engine, items, args, hull) for engine in engines}
    result = compare(items, runs, hull, args)
    (args.out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "calibration"}, indent=1))
    if args.markdown is not None:
        command = "python benchmarks/relaxation_throughput.py " + shlex.join(argv if argv is not None else sys.argv[1:])
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(result, args, command))
    return result


if __name__ == "__main__":
    main()

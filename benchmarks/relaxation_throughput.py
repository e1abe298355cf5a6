"""Relaxation throughput: CHGNet's per-structure ASE relaxation against the batched engine (writes a fragment).

Both engines relax the same structures (the first ``-n`` samples of a ``xtalgen generate`` folder with at
most ``--max-sites`` sites, as written) with the same settings (FIRE, cell free, ≤ ``--steps`` steps, fmax
``--fmax`` eV/Å) through the public energy model (:class:`xtalgen.postprocess.relax.CHGNetEnergyModel`,
``engine="ase"`` and ``engine="batched"``), each on ``--workers`` processes. Reported per engine: wall and
CPU seconds (this process and its workers, via getrusage), relaxations per minute (wall, and CPU-bound:
``60 × cores / CPU-s per relaxation``, what that many free cores would do), failures; and their agreement:
final energies, steps, E_hull against the shipped CHGNet reference table, and the metastable verdict
(E_hull ≤ ``--metastable`` eV/atom). The machine's load average is recorded before and after each run.

Records go to ``--out`` (one JSON-lines file per engine, resumable); an engine whose run finished is not
run again (its timing is kept in ``timing-<engine>.json``).

Usage:  python benchmarks/relaxation_throughput.py SAMPLES_DIR [-n 50] [--max-sites 20] [--workers 2]
        [--batch-size 8] [--out DIR] [--markdown docs/benchmarks/relaxation_throughput.md]
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
ENGINES = ("ase", "batched")


def _cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (user + system)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _samples(folder: Path, n: int, max_sites: int) -> list[tuple[str, Any]]:
    from xtalgen.evaluation.sources import load_generated

    gen = load_generated(folder)
    chosen = [(sid, s) for sid, s in zip(gen.ids, gen.structures, strict=True) if s is not None and len(s) <= max_sites]
    if len(chosen) < n:
        print(f"only {len(chosen)} samples with ≤ {max_sites} sites in {folder}; using them all", file=sys.stderr)
    return chosen[:n]


def _run(engine: str, items: list[tuple[str, Any]], args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """(records by id, timing) of one engine; the timing of an earlier finished run is reused."""
    from xtalgen.postprocess.relax import CHGNetEnergyModel

    model = CHGNetEnergyModel(steps=args.steps, fmax=args.fmax, engine=engine, batch_size=args.batch_size,
                              device=args.device, trace=engine == "batched")  # fmt: skip
    cache = args.out / f"relax-{engine}.jsonl"
    timing_path = args.out / f"timing-{engine}.json"
    ids = [sid for sid, _ in items]
    if timing_path.is_file():
        timing = json.loads(timing_path.read_text())
        if timing.get("ids") == ids:
            return model.relax(items, cache_path=cache, workers=args.workers, progress=False), timing
    cache.unlink(missing_ok=True)  # a timed run relaxes everything
    if args.workers <= 1:  # in this process: load the model before the clock starts, as workers load their own
        from xtalgen.postprocess.relax import chgnet_model

        chgnet_model(device=args.device)
    load0, wall, cpu = os.getloadavg()[0], time.perf_counter(), _cpu_seconds()
    records = model.relax(items, cache_path=cache, workers=args.workers, progress=not args.quiet)
    timing = {"ids": ids, "wall_s": time.perf_counter() - wall, "cpu_s": _cpu_seconds() - cpu,
              "load_before": load0, "load_after": os.getloadavg()[0], "workers": args.workers,
              "batch_size": args.batch_size if engine == "batched" else None}  # fmt: skip
    timing_path.write_text(json.dumps(timing))
    return records, timing


def _hulls(items: list[tuple[str, Any]], records: dict[str, Any], table: Any) -> dict[str, float]:
    from xtalgen.evaluation.stability import hull_energies, subsystems

    done = [(sid, s) for sid, s in items if records[sid].get("energy_per_atom") is not None]
    wanted = {sub for _, s in done for sub in subsystems(el.symbol for el in s.composition.elements)}
    pairs = [(s.composition, float(records[sid]["energy_per_atom"])) for sid, s in done]
    hulls = hull_energies(pairs, table.references(wanted)) if pairs else []
    return {sid: float(e) for (sid, _), (e, _) in zip(done, hulls, strict=True)}


def compare(items: list[tuple[str, Any]], runs: dict[str, tuple[dict, dict]], metastable: float) -> dict[str, Any]:
    """Throughput per engine and the agreement of the batched engine with the ASE one."""
    from xtalgen.evaluation.stability import resolve_reference_table
    from xtalgen.postprocess.relax import CHGNetEnergyModel

    table = resolve_reference_table("auto", CHGNetEnergyModel())
    n = len(items)
    out: dict[str, Any] = {"n": n, "sites_mean": float(np.mean([len(s) for _, s in items])), "engines": {}}
    hulls = {}
    for engine, (records, timing) in runs.items():
        failed = sum(1 for sid, _ in items if records[sid].get("energy_per_atom") is None)
        cores = min(timing["workers"], os.cpu_count() or 1)
        steps = [records[sid]["steps"] for sid, _ in items if records[sid].get("steps") is not None]
        out["engines"][engine] = {
            **{k: v for k, v in timing.items() if k != "ids"}, "failed": failed,
            "per_min_wall": 60.0 * n / timing["wall_s"], "cpu_s_per_relax": timing["cpu_s"] / n,
            "per_min_cpu_bound": 60.0 * cores * n / timing["cpu_s"], "cores": cores,
            "steps_mean": float(np.mean(steps)) if steps else float("nan"),
        }  # fmt: skip
        hulls[engine] = _hulls(items, records, table) if table is not None else {}
    if set(runs) == set(ENGINES):
        old, new = runs["ase"][0], runs["batched"][0]
        both = [sid for sid, _ in items if sid in hulls["ase"] and sid in hulls["batched"]]
        de = np.array([new[sid]["energy_per_atom"] - old[sid]["energy_per_atom"] for sid in both])
        same = [(hulls["ase"][sid] <= metastable) == (hulls["batched"][sid] <= metastable) for sid in both]
        # ASE's record counts its trajectory frames (one more than FIRE steps)
        same_steps = [new[sid]["steps"] == old[sid]["steps"] - 1 for sid in both]
        out["agreement"] = {
            "n_both": len(both), "metastable_agreement": float(np.mean(same)) if same else float("nan"),
            "n_disagree": int(len(same) - sum(same)),
            "n_metastable_ase": int(sum(hulls["ase"][s] <= metastable for s in both)),
            "n_metastable_batched": int(sum(hulls["batched"][s] <= metastable for s in both)),
            "de_median": float(np.median(np.abs(de))) if len(de) else float("nan"),
            "de_p95": float(np.percentile(np.abs(de), 95)) if len(de) else float("nan"),
            "de_max": float(np.abs(de).max()) if len(de) else float("nan"),
            "frac_de_below_1mev": float(np.mean(np.abs(de) < 1e-3)) if len(de) else float("nan"),
            "same_steps": float(np.mean(same_steps)) if same_steps else float("nan"),
            "disagreeing": [(sid, hulls["ase"][sid], hulls["batched"][sid]) for sid, ok in zip(both, same, strict=True)
                            if not ok],  # fmt: skip
        }  # fmt: skip
    return out


def markdown(result: dict[str, Any], args: argparse.Namespace, command: str) -> str:
    e = result["engines"]
    lines = [
        "# Relaxation throughput: per-structure ASE FIRE vs batched FIRE (CHGNet, CPU)",
        "",
        f"{result['n']} PGCGM samples with ≤ {args.max_sites} sites (mean {result['sites_mean']:.1f} sites) from "
        f"`{args.samples}`, CHGNet 0.3.0, FIRE with the cell free (Fréchet cell filter), ≤ {args.steps} steps, "
        f"fmax {args.fmax} eV/Å; {args.workers} worker processes, one thread each, `nice`; the batched engine steps "
        f"{args.batch_size} structures per CHGNet pass. CPU-bound rate = 60 × cores / CPU-s per relaxation (what "
        "that many free cores would do); the wall rate depends on the other jobs sharing the machine (load average "
        "before → after each run; the machine has 2 cores).",
        "",
        "| engine | wall s | CPU s | CPU s / relaxation | relaxations/min (wall) | relaxations/min (CPU-bound) | "
        "mean FIRE steps | failed | load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for engine, r in e.items():
        steps = r["steps_mean"] - 1 if engine == "ase" else r["steps_mean"]
        lines.append(
            f"| {engine} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | {r['cpu_s_per_relax']:.2f} | {r['per_min_wall']:.1f} "
            f"| {r['per_min_cpu_bound']:.1f} | {steps:.1f} | {r['failed']} | {r['load_before']:.1f} → "
            f"{r['load_after']:.1f} |"
        )
    if "ase" in e and "batched" in e:
        speedup = e["ase"]["cpu_s_per_relax"] / e["batched"]["cpu_s_per_relax"]
        lines += ["", f"Speed-up (CPU-bound): **{speedup:.2f}×**."]
    a = result.get("agreement")
    if a:
        lines += [
            "",
            f"Agreement on the {a['n_both']} structures both engines relaxed: metastable (E_hull ≤ {args.metastable} "
            "eV/atom, shipped CHGNet reference table) verdict the same for "
            f"**{100 * a['metastable_agreement']:.1f} %** "
            f"({a['n_disagree']} differ; {a['n_metastable_ase']} metastable with ASE, {a['n_metastable_batched']} "
            f"batched); |ΔE| final energy median {a['de_median']:.1e}, 95th percentile {a['de_p95']:.1e}, max "
            f"{a['de_max']:.1e} eV/atom ({100 * a['frac_de_below_1mev']:.0f} % below 1 meV/atom); same number of "
            f"FIRE steps for {100 * a['same_steps']:.0f} %.",
        ]
        for sid, h_old, h_new in a["disagreeing"]:
            lines.append(f"- `{sid}`: E_hull {h_old:.3f} (ASE) vs {h_new:.3f} (batched) eV/atom")
    lines += ["", "Reproduce:", "", "```bash", command, "python benchmarks/assemble_docs.py", "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("samples", type=Path, help="a `xtalgen generate` output folder")
    parser.add_argument("-n", type=int, default=50, help="structures (the first N with ≤ --max-sites sites)")
    parser.add_argument("--max-sites", type=int, default=20)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--fmax", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--engines", default=",".join(ENGINES), help="comma-separated: ase, batched")
    parser.add_argument("--metastable", type=float, default=0.1, help="E_hull limit (eV/atom)")
    parser.add_argument("--out", type=Path, default=Path("relaxation_throughput"))
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    items = _samples(args.samples, args.n, args.max_sites)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    runs = {engine: _run(engine, items, args) for engine in engines}
    result = compare(items, runs, args.metastable)
    (args.out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items()}, indent=1))
    if args.markdown is not None:
        command = "python benchmarks/relaxation_throughput.py " + shlex.join(argv if argv is not None else sys.argv[1:])
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(result, args, command))
    return result


if __name__ == "__main__":
    main()

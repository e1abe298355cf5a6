"""PGCGM generation speed, the full post-processing path beside the fast path, in one run.

Runs ``generate`` (model pgcgm, the shipped model, default settings: count accepted, snapping, volume
rescaling, distance factor 0.73, formula <= 10 atoms, primitive cell <= 20 sites, dedupe) twice with the
same seed: once with ``fast_postprocess=false`` (every drawn candidate goes through expand, merge, spglib
and all filters) and once with the default (certain distance failures rejected early, post-processing
stops once n are accepted, formulas too large rejected before spglib, CIFs written from the space-group
check's spglib dataset, one process pool). Reports accepted structures per second, candidates per second
(candidates in the output stream), wall time, CPU time (this process and its worker processes) per candidate
and per accepted structure, the acceptance rate, checks that both runs accepted the same structures (CIFs
equal up to the order of the symmetry-operation rows) and gave every candidate the same verdict (and how
many reasons differ), and writes docs/benchmarks/pgcgm_generation_speed.md.

Usage: python benchmarks/pgcgm_generation_speed.py [--n 1000] [--seed 0] [--workers 2] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import tempfile
import time
from pathlib import Path

from xtalgen.pipelines.families import GenerationRequest, get_family
from xtalgen.pipelines.generation import generate
from xtalgen.pretrained import pretrained_checkpoint

MODEL = "pgcgm-mp-ternary"
_OP_ROW = re.compile(r"^\s+\d+\s+'(.*)'$\n?", re.M)
OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "pgcgm_generation_speed.md"


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_once(n: int, seed: int, workers: int, fast: bool, folder: Path) -> dict:
    """One generate call; timings and what it produced."""
    request = GenerationRequest(n, seed, workers, checkpoint=pretrained_checkpoint(MODEL), progress=False)
    wall0, cpu0 = time.perf_counter(), _cpu()
    result = generate("pgcgm", request, folder, {"fast_postprocess": fast})
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    cifs = {p.name: _content(p.read_text()) for p in sorted((folder / "cifs").glob("*.cif"))}
    verdicts = [(c.id, c.accepted, c.reason) for c in result.candidates]
    n_acc, n_cand = len(result.accepted), len(result.candidates)
    return {"fast": fast, "accepted": n_acc, "candidates": n_cand, "wall_s": wall, "cpu_s": cpu,
            "accepted_per_s": n_acc / wall, "candidates_per_s": n_cand / wall,
            "cpu_ms_per_candidate": 1000 * cpu / n_cand, "cpu_ms_per_accepted": 1000 * cpu / max(n_acc, 1),
            "cifs": cifs, "verdicts": verdicts,
            "rejections": result.rejection_counts()}  # fmt: skip


def _content(text: str) -> str:
    """Digest of a CIF with its symmetry-operation rows sorted (the fast path lists them in database order)."""
    rows = _OP_ROW.findall(text)
    return hashlib.sha256((_OP_ROW.sub("", text) + "\n".join(sorted(rows))).encode()).hexdigest()


def report(rows: list[dict], n: int, seed: int, workers: int, load: tuple[float, float, float],
           load_after: tuple[float, float, float]) -> str:  # fmt: skip
    old, new = rows
    same_cifs = old["cifs"] == new["cifs"]
    same_accepted = [v[:2] for v in old["verdicts"]] == [v[:2] for v in new["verdicts"]]
    reasons = sum(a != b for a, b in zip(old["verdicts"], new["verdicts"], strict=False))
    lines = [
        "# PGCGM generation speed: full post-processing vs the fast path",
        "",
        f"`python benchmarks/pgcgm_generation_speed.py --n {n} --seed {seed} --workers {workers}`: "
        f"`generate --model pgcgm -n {n} --seed {seed} --workers {workers}` with the shipped model "
        f"({MODEL}) and the default acceptance criteria, once with `--set fast_postprocess=false` (old path) and "
        "once with the default (fast path), in one process, one after the other.",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; load average before the "
        f"runs {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}, after {load_after[0]:.1f} / {load_after[1]:.1f} / "
        f"{load_after[2]:.1f} (1 / 5 / 15 min; other jobs share the CPUs, so wall times are inflated — CPU time "
        "per candidate is the steadier figure; 2 cores give at most 2 CPU s per wall s).",
        "",
        "| path | accepted | candidates | acceptance | wall s | CPU s | accepted/s | candidates/s | "
        "CPU ms / candidate | CPU ms / accepted |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        name = "fast path (default)" if r["fast"] else "full path (fast_postprocess=false)"
        rates = f"{r['accepted_per_s']:.2f} | {r['candidates_per_s']:.1f} | {r['cpu_ms_per_candidate']:.1f}"
        counts = (f"{r['accepted']} | {r['candidates']} | {100 * r['accepted'] / r['candidates']:.1f} % | "
                  f"{r['wall_s']:.1f} | {r['cpu_s']:.1f}")  # fmt: skip
        lines.append(f"| {name} | {counts} | {rates} | {r['cpu_ms_per_accepted']:.1f} |")
    lines += [
        "",
        f"Speed-up: {new['accepted_per_s'] / old['accepted_per_s']:.2f}× in accepted/s (wall), "
        f"{old['cpu_s'] / new['cpu_s']:.2f}× in CPU time.",
        f"Same accepted structures (CIFs equal up to the order of the symmetry-operation rows): "
        f"{'yes' if same_cifs else 'NO'}; every candidate's verdict identical: {'yes' if same_accepted else 'NO'}; "
        f"rejection reasons that differ: {reasons}.",
        "",
        "Rejections (fast-path run): "
        + ", ".join(f"{reason}: {count}" for reason, count in new["rejections"]),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000, help="accepted structures per run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    get_family("pgcgm")  # import the family once, outside the timed runs
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for early in (False, True):
            rows.append(run_once(args.n, args.seed, args.workers, early, Path(tmp) / f"early_{early}"))
            r = rows[-1]
            print(f"fast={early}: {r['accepted']} accepted of {r['candidates']} in {r['wall_s']:.1f} s wall, "
                  f"{r['cpu_s']:.1f} s CPU")  # fmt: skip
    text = report(rows, args.n, args.seed, args.workers, load, os.getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

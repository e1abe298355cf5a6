"""PGCGM with and without the symmetric push-apart of too-close atoms (``--set push_apart=true``).

Three parts, each before (off) and after (on), resumable with ``--work``:

1. ``panel``: the chemistry panel (``benchmarks/pgcgm_chemistry_panel.py``'s systems), generation only:
   ``generate --elements SYSTEM -n 20`` in accepted mode with the default candidate limit (50 n).
2. ``quality``: accepted structures of the panel's "on" runs, split into repaired (the push-apart moved an atom)
   and unrepaired ones; a seeded sample of each is CHGNet-relaxed (batched FIRE), E_hull against the shipped
   CHGNet reference table (metastable: ≤ 0.1 eV/atom, Wilson 95 % intervals) and whether spglib (0.1 Å) still
   finds the stated space group after relaxation.
3. ``speed``: ``generate -n 300 --seed 0 --workers 1`` with the shipped ternary model, accepted/s and CPU ms per
   accepted structure.

Writes docs/benchmarks/pgcgm_push_apart.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from xtalgen.pipelines.families import GenerationRequest
from xtalgen.pipelines.generation import generate
from xtalgen.pretrained import pretrained_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parent))
from head_to_head_report import wilson_interval  # noqa: E402
from pgcgm_chemistry_panel import PANEL  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "pgcgm_push_apart.md"
MODES = {"off": {"push_apart": False}, "on": {"push_apart": True}}


def _cached(path: Path, key: str, compute) -> dict:
    """Row ``key`` of the JSON-lines file ``path``, computed and appended when absent."""
    rows = {}
    if path.is_file():
        rows = {r["key"]: r for r in map(json.loads, path.read_text().splitlines()) if r}
    if key not in rows:
        row = {"key": key, **compute()}
        with open(path, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps(row)[:300], flush=True)
        rows[key] = row
    return rows[key]


def panel(args: argparse.Namespace, checkpoint: Path) -> list[dict]:
    """Generation-only panel rows per (system, mode)."""
    rows = []
    for system, _, _ in PANEL:
        for mode, opts in MODES.items():
            def run(system=system, mode=mode, opts=opts) -> dict:
                request = GenerationRequest(20, seed=0, workers=args.workers, elements=(tuple(system.split("-")),),
                                            checkpoint=checkpoint, progress=False)  # fmt: skip
                start = time.perf_counter()
                result = generate("pgcgm", request, args.work / "panel" / mode / system, {"count": "accepted", **opts})
                return {"system": system, "mode": mode, "accepted": len(result.accepted),
                        "candidates": len(result.candidates), "seconds": round(time.perf_counter() - start, 1),
                        "rejections": result.rejection_counts()}  # fmt: skip

            rows.append(_cached(args.work / "panel.jsonl", f"{system}/{mode}", run))
    return rows


def quality(args: argparse.Namespace) -> dict:
    """Relax a seeded sample of repaired and of unrepaired accepted structures of the panel's "on" runs."""
    from pymatgen.core import Structure

    frames = []
    for system, _, _ in PANEL:
        summary = args.work / "panel" / "on" / system / "summary.csv"
        if summary.is_file():
            df = pd.read_csv(summary)
            df = df[df["accepted"].astype(bool)].assign(system=system, folder=str(summary.parent))
            frames.append(df)
    acc = pd.concat(frames, ignore_index=True)
    moved = acc["push_apart_max_move"].fillna(0.0)
    groups = {"repaired": acc[moved > 0], "unrepaired": acc[moved == 0]}
    rng = np.random.default_rng(args.seed)
    out = {"accepted": len(acc), "repaired_share": float((moved > 0).mean()),
           "median_move": float(moved[moved > 0].median()) if (moved > 0).any() else None}  # fmt: skip
    for name, df in groups.items():
        pick = df.iloc[np.sort(rng.choice(len(df), size=min(args.relax_n, len(df)), replace=False))]
        structures = [Structure.from_file(Path(f) / c) for f, c in zip(pick["folder"], pick["cif"], strict=True)]
        out[name] = _cached(args.work / "quality.jsonl", name, lambda s=structures, p=pick: _judge(s, p, args))
    return out


def _judge(structures: list, pick: pd.DataFrame, args: argparse.Namespace) -> dict:
    """Relax, E_hull (eV/atom), metastable share and space group kept after relaxation."""
    from pymatgen.core import Structure

    from xtalgen.data.symmetry import spacegroup_number
    from xtalgen.evaluation.stability import METASTABLE_EHULL, hull_energies, resolve_reference_table, subsystems
    from xtalgen.postprocess.relax import CHGNetEnergyModel, relax_many

    records = dict(relax_many(((str(i), s) for i, s in enumerate(structures)), steps=args.relax_steps))
    table = resolve_reference_table("auto", CHGNetEnergyModel(steps=args.relax_steps, engine="batched"))
    e_hull, kept = [], []
    for i, (system, sg) in enumerate(zip(pick["system"], pick["found_spacegroup"], strict=True)):
        rec = records.get(str(i), {"error": "missing"})
        if "error" in rec:
            continue
        relaxed = Structure.from_dict(rec["structure"])
        refs = table.references(subsystems(system.split("-"))) if table is not None else []
        (e, _), = hull_energies([(relaxed.composition, rec["energy_per_atom"])], refs)
        e_hull.append(e)
        kept.append(spacegroup_number(relaxed, 0.1) == int(sg))
    meta = sum(e <= METASTABLE_EHULL for e in e_hull if e == e)
    return {"n": len(structures), "relaxed": len(e_hull), "metastable": int(meta),
            "median_e_hull": float(np.nanmedian(e_hull)) if e_hull else None, "sg_kept": int(sum(kept))}


def speed(args: argparse.Namespace) -> list[dict]:
    """``generate -n 300 --seed 0 --workers 1`` with the shipped ternary model, off and on."""
    rows = []
    for rep, (mode, opts) in [(r, m) for r in range(args.repeats) for m in MODES.items()]:
        def run(mode=mode, opts=opts, rep=rep) -> dict:
            request = GenerationRequest(300, 0, 1, checkpoint=pretrained_checkpoint("pgcgm-mp-ternary"), progress=False)
            t = os.times()
            wall0, cpu0 = time.perf_counter(), t.user + t.system + t.children_user + t.children_system
            folder = args.work / "speed" / f"{mode}{rep}"
            result = generate("pgcgm", request, folder, dict(opts))
            t = os.times()
            wall, cpu = time.perf_counter() - wall0, t.user + t.system + t.children_user + t.children_system - cpu0
            n_acc = len(result.accepted)
            return {"mode": mode, "pass": rep + 1, "accepted": n_acc, "candidates": len(result.candidates),
                    "wall_s": round(wall, 1),
                    "accepted_per_s": round(n_acc / wall, 2),
                    "cpu_ms_per_accepted": round(1000 * cpu / max(n_acc, 1), 1),
                    "cpu_ms_per_candidate": round(1000 * cpu / len(result.candidates), 2)}  # fmt: skip

        rows.append(_cached(args.work / "speed.jsonl", f"{mode}/{rep}", run))
    return rows


def _pct(k: int, n: int) -> str:
    if n == 0:
        return "–"
    lo, hi = wilson_interval(k, n)
    return f"{k}/{n} = {100 * k / max(n, 1):.0f} % [{100 * lo:.0f}, {100 * hi:.0f}]"


def markdown(panel_rows: list[dict], qual: dict | None, speed_rows: list[dict] | None, args: argparse.Namespace) -> str:
    """The report (docs/benchmarks/pgcgm_push_apart.md)."""
    by = {(r["system"], r["mode"]): r for r in panel_rows}
    load = os.getloadavg()
    lines = ["# PGCGM push-apart of too-close atoms", "",
             f"Written by `benchmarks/pgcgm_push_apart.py` on {time.strftime('%Y-%m-%d %H:%M')}; {platform.machine()}, "
             f"2 CPU cores shared with other jobs (load average {load[0]:.1f} at the end), workers={args.workers}. "
             "Off: today's post-processing; on: `--set push_apart=true` (atoms closer than 0.73 × summed radii are "
             "moved apart by gradient steps on the base sites' orbits, each atom at most 0.5 Å, space group kept).",
             f"Reproduce / resume: `python benchmarks/pgcgm_push_apart.py {' '.join(args.argv)}`", "",
             "## 1. Chemistry panel, generation only", "",
             f"Model {args.pretrained}; `generate --elements SYSTEM -n 20`, accepted mode, default candidate limit "
             "(1000), seed 0. Issue 21 asks for ≥ 20 accepted in ≥ 90 % of the systems.", "",
             "| system | off: accepted / candidates | on: accepted / candidates | off: too close | on: too close |",
             "|---|---|---|---|---|"]  # fmt: skip
    tot = {m: [0, 0, 0] for m in MODES}
    for system, _, _ in PANEL:
        cells = []
        for m in MODES:
            r = by.get((system, m))
            if r is None:
                cells.append("-")
                continue
            tot[m][0] += r["accepted"]
            tot[m][1] += r["candidates"]
            tot[m][2] += r["accepted"] >= 20
            cells.append(f"{r['accepted']} / {r['candidates']}")
        close = [str(dict(by[(system, m)]["rejections"]).get("atoms too close", 0)) if (system, m) in by else "-"
                 for m in MODES]  # fmt: skip
        lines.append(f"| {system} | {cells[0]} | {cells[1]} | {close[0]} | {close[1]} |")
    for m, (a, c, ok) in tot.items():
        lines.append("")
        lines.append(f"{m}: {ok} of {len(PANEL)} systems reach 20 accepted ({100 * ok / len(PANEL):.0f} %); "
                     f"accepted / candidates over all systems {a} / {c} ({100 * a / max(c, 1):.1f} %).")
    if qual is not None:
        lines += ["", "## 2. Quality after CHGNet relaxation", "",
                  f"Accepted structures of the panel's \"on\" runs: {qual['accepted']}, of which "
                  f"{100 * qual['repaired_share']:.0f} % were repaired (median largest move "
                  f"{qual['median_move']:.3f} Å). Seeded sample (seed {args.seed}) of up to {args.relax_n} of each, "
                  f"CHGNet batched FIRE ≤ {args.relax_steps} steps, E_hull against the shipped CHGNet reference "
                  "table; metastable: E_hull ≤ 0.1 eV/atom (Wilson 95 % intervals); space group kept: spglib at 0.1 Å "
                  "finds the stated group after relaxation.", "",
                  "| group | relaxed | metastable | median E_hull (eV/atom) | space group kept |",
                  "|---|---|---|---|---|"]
        for name in ("repaired", "unrepaired"):
            q = qual[name]
            med = "-" if q["median_e_hull"] is None else f"{q['median_e_hull']:.3f}"
            lines.append(f"| {name} | {q['relaxed']} | {_pct(q['metastable'], q['relaxed'])} | {med} | "
                         f"{_pct(q['sg_kept'], q['relaxed'])} |")
    if speed_rows:
        lines += ["", "## 3. Generation speed", "",
                  "`generate -n 300 --seed 0 --workers 1` with pgcgm-mp-ternary (fast post-processing), "
                  "off and on alternating in one process (pass 1 includes loading the model and imports), "
                  "on the shared machine.", "",
                  "| push-apart | pass | accepted / candidates | wall (s) | accepted/s | CPU ms per accepted "
                  "| CPU ms per candidate |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in speed_rows:
            lines.append(f"| {r['mode']} | {r.get('pass', 1)} | {r['accepted']} / {r['candidates']} | {r['wall_s']} | "
                         f"{r['accepted_per_s']} | {r['cpu_ms_per_accepted']} | {r['cpu_ms_per_candidate']} |")
    lines += ["", "## Reading", "",
              "The repaired structures are not clearly worse after relaxation (the intervals overlap; the repaired "
              "sample leans to the systems that failed before, so it is not a like-for-like comparison). The step "
              "ships off by default: switching the default on changes the pinned generate outputs "
              "(tests/cli/test_generate_pinned.py), which has to be done together with new hashes."]
    return "\n".join(lines + [""])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pretrained", default="pgcgm-mp-general", help="shipped model for the panel")
    parser.add_argument("--work", type=Path, required=True, help="resumable work folder")
    parser.add_argument("--parts", default="panel,quality,speed")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--relax-n", type=int, default=40)
    parser.add_argument("--relax-steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2, help="speed passes, off and on alternating")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.argv = sys.argv[1:]
    args.work.mkdir(parents=True, exist_ok=True)
    parts = args.parts.split(",")
    rows = panel(args, pretrained_checkpoint(args.pretrained)) if "panel" in parts else []
    qual = quality(args) if "quality" in parts else None
    speed_rows = speed(args) if "speed" in parts else None
    text = markdown(rows, qual, speed_rows, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""`xtalgen screen` at scale: a calibrated pre-screen, PGCGM and PyXtal candidate sets screened end to end,
the shortlist judged by an independent relaxation, and S.U.N. structures per CPU-hour (writes a fragment).

One command, resumable (every step's outcome is kept in ``--work``/steps.json; a screen folder that exists
is continued with ``--resume``), all through the CLI (``xtalgen generate``, ``xtalgen screen``):

1. generate: the calibration set (PGCGM, seed ``--calib-seed``), the held-out set (PGCGM, another seed),
   the PGCGM set (``--n-pgcgm``, ``pgcgm-mp-general``, ``max_atoms=20``) and the PyXtal-random set
   (``--n-pyxtal``, compositions and space groups drawn from ``--train``), CPU of each command measured;
2. calibrate: screen the calibration set with ``--prescreen-max-ehull inf`` for each of ``--steps-options``
   (pre-screen FIRE steps; 0 = static energy; the relaxations are shared through ``--resume``), so each
   candidate's estimate and relaxed E_hull are both known; pick (steps, threshold) by the rule in
   :func:`choose_threshold`; then screen the held-out set (threshold inf, the chosen steps) and report the
   recall of the chosen threshold there;
3. screen the PGCGM and PyXtal sets with the chosen steps and threshold; re-relax (at most ``--verify-n``,
   a seeded random subset) of each shortlist's MetaSUN candidates independently — fresh from the generated
   candidate, ``--relax-engine ase``, tighter ``--verify-fmax`` and more ``--verify-steps`` — and count those
   that are MetaSUN again;
4. report per stage removed and CPU-s, and MetaSUN (and SUN) structures per CPU-hour end to end.

Usage:  python benchmarks/screen_scale.py [--work /work/runs/screen_scale] [--n-pgcgm 2000] [--n-pyxtal 2000]
        [--screen-first pgcgm=500] [--scheduler none|local] [--workers 2] [--verify-n 40]
        [--notes benchmarks/screen_scale_notes.md] [--markdown docs/benchmarks/screen_scale.md]

The page itself is written by benchmarks/screen_scale_report.py.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from xtalgen.cli.main import app; app()"]
KNOWN = "/work/shared/datasets/mp/mp_structures.csv.gz"
TRAIN = "/work/runs/hB/mp_le20.parquet"
#: Thresholds tried (eV/atom): 0.05 apart from -0.5 to 5, 0.25 apart to 15, and inf (relax everything).
GRID = [round(-0.5 + 0.05 * i, 2) for i in range(111)] + [5.25 + 0.25 * i for i in range(40)] + [math.inf]


# ----------------------------------------------------------------------------- pure bookkeeping


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson 95 % interval of a rate k / n (nan, nan for n = 0)."""
    if n == 0:
        return math.nan, math.nan
    p, d = k / n, 1 + z * z / n
    mid, half = (p + z * z / (2 * n)) / d, z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, mid - half), min(1.0, mid + half)


def relax_work(steps: Any, n_sites: Any) -> np.ndarray:
    """Force evaluations × sites of each relaxation ((steps + 1) × sites): the relaxation cost model (a batched
    CHGNet pass costs about the sites it holds; a structure stays in the batch until it converges)."""
    return (np.asarray(steps, dtype=float) + 1.0) * np.asarray(n_sites, dtype=float)


def recall(estimate: Any, positive: Any, threshold: float) -> tuple[int, int]:
    """(positives kept, positives): kept = pre-screen estimate ≤ threshold (a NaN estimate is dropped)."""
    est, pos = np.asarray(estimate, dtype=float), np.asarray(positive, dtype=bool)
    return int(((est <= threshold) & pos).sum()), int(pos.sum())


def option_table(rows: pd.DataFrame, prescreen_cpu: float, cpu_per_work: float, steps: int) -> pd.DataFrame:
    """Each threshold of :data:`GRID` for one pre-screen (``rows``: ``estimate``, ``positive``, ``work`` per
    candidate): kept, recall and the expected CPU-s per candidate (pre-screen + relaxation of those kept)."""
    out = []
    for t in GRID:
        kept = rows["estimate"].to_numpy(float) <= t
        k, n = recall(rows["estimate"], rows["positive"], t)
        relax = cpu_per_work * float(rows["work"].to_numpy(float)[kept].sum()) / max(len(rows), 1)
        out.append({"steps": steps, "threshold": t, "kept": int(kept.sum()), "n": len(rows), "recall_k": k,
                    "recall_n": n, "recall": k / n if n else math.nan, "cpu_per_candidate": prescreen_cpu + relax})
    return pd.DataFrame(out)


def choose_threshold(table: pd.DataFrame, target: float) -> dict[str, Any]:
    """The rule: among (steps, threshold) whose calibration recall is ≥ ``target``, the least expected CPU per
    candidate; a tie goes to the larger threshold (safer), then to fewer steps."""
    ok = table[table["recall"] >= target]
    if ok.empty:
        raise ValueError(f"no pre-screen reaches recall {target} on the calibration set")
    best = ok.assign(neg_t=-ok["threshold"]).sort_values(["cpu_per_candidate", "neg_t", "steps"]).iloc[0]
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in best.drop("neg_t").items()}


def per_hour(count: int, cpu_s: float) -> float:
    """Structures per CPU-hour."""
    return count / (cpu_s / 3600.0) if cpu_s > 0 else math.nan


def add_stage_cpu(rows: list[dict[str, Any]], extra: dict[str, float]) -> list[dict[str, Any]]:
    """Stage rows with ``extra`` CPU-s (by stage name) added: the cost of the stored results a screen reused."""
    return [{**r, "cpu_s": r["cpu_s"] + extra.get(r["stage"], 0.0)} for r in rows]


def stage_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per stage of a screen's report.json: name, in, removed, reused and CPU-s."""
    return [{"stage": s["name"], "in": s["n_in"], "removed": s["n_removed"], "reused": s["n_cached"],
             "cpu_s": s["cpu_s"]} for s in report["stages"]]  # fmt: skip


# ----------------------------------------------------------------------------- running the CLI


def _children_cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


class Steps:
    """Each step's outcome in ``work/steps.json``; a step whose outcome is there is not run again."""

    def __init__(self, work: Path) -> None:
        self.path = work / "steps.json"
        self.done: dict[str, Any] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def cli(self, key: str, args: Sequence[str]) -> dict[str, Any]:
        """Run ``xtalgen ARGS`` once (niced); its CPU-s (getrusage of the child) and wall-s are recorded."""
        if key in self.done:
            return self.done[key]
        cpu, wall = _children_cpu(), time.perf_counter()
        print("+ xtalgen", " ".join(args), flush=True)
        subprocess.run(["nice", "-n", str(max(0, 10 - os.nice(0))), *CLI, *args], check=True, env=_env())  # at nice 10
        self.done[key] = {"cpu_s": _children_cpu() - cpu, "wall_s": time.perf_counter() - wall}
        if self.path.exists():  # another run of the script on the same folder may have added steps
            self.done = {**json.loads(self.path.read_text()), **self.done}
        self.path.write_text(json.dumps(self.done, indent=1))
        return self.done[key]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}


def generate(steps: Steps, key: str, out: Path, n: int, seed: int, model: str, train: str) -> dict[str, Any]:
    """Generate ``n`` structures of ``model`` ("pgcgm" or "pyxtal") into ``out`` (one worker)."""
    meta = out / "generation.json"
    if key not in steps.done and meta.exists():  # made earlier by hand with the same n and seed: CPU unknown
        old = json.loads(meta.read_text())
        if old.get("n") == n and old.get("seed") == seed:
            steps.done[key] = {"cpu_s": None, "wall_s": None}
    if model == "pgcgm":
        args = ["generate", "--checkpoint", "pgcgm-mp-general", "--set", "max_atoms=20"]
    else:
        args = ["generate", "--model", "pyxtal-random", "--set", f"train={train}"]
    return steps.cli(key, [*args, "-n", str(n), "--seed", str(seed), "-o", str(out), "--workers", "1",
                           "--overwrite"])  # fmt: skip


def screen(steps: Steps, key: str, source: Path, out: Path, options: Sequence[str], known: str,
           where: Sequence[str] = ("--scheduler", "none")) -> dict[str, Any]:  # fmt: skip
    """``xtalgen screen`` in-process (one core), ``--resume`` when ``out`` exists; its report.json and
    shortlist.csv are kept as ``out/../<key>.report.json`` / ``.shortlist.csv`` (a later resume rewrites them)."""
    resume = ["--resume"] if out.exists() else []
    cost = steps.cli(key, ["screen", str(source), "-o", str(out), "--known", known, *where,
                           "--top", "10", *options, *resume])  # fmt: skip
    for name, suffix in (("report.json", "report.json"), ("shortlist.csv", "shortlist.csv")):
        kept = out.parent / f"{key.replace('/', '_')}.{suffix}"
        if not kept.exists():
            shutil.copy(out / name, kept)
    return cost


def kept_files(out: Path, key: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """The report and shortlist a screen step kept."""
    stem = out.parent / key.replace("/", "_")
    return json.loads(Path(f"{stem}.report.json").read_text()), pd.read_csv(f"{stem}.shortlist.csv")


def _prescreen_cpu(report: dict[str, Any]) -> float:
    [pre] = [s for s in report["stages"] if s["name"] == "prescreen"]
    return pre["cpu_s"] / max(pre["n_in"], 1)


def _relax_cpu_per_work(report: dict[str, Any], shortlist: pd.DataFrame) -> float:
    [rel] = [s for s in report["stages"] if s["name"] == "relax"]
    if rel["n_cached"]:
        raise ValueError("the calibration relaxations were reused: their CPU is not in this report")
    return rel["cpu_s"] / float(relax_work(shortlist["relax_steps"], shortlist["n_sites"]).sum())


def _rows(shortlist: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"estimate": shortlist["prescreen_e_hull"].astype(float),
                         "positive": shortlist["metasun"].astype(bool),
                         "work": relax_work(shortlist["relax_steps"], shortlist["n_sites"])})  # fmt: skip


# ----------------------------------------------------------------------------- the steps


def calibrate(steps: Steps, args: argparse.Namespace) -> dict[str, Any]:
    """Calibration set screened at threshold inf for each pre-screen; the rule's choice and the full table."""
    work = args.work / "calib"
    generate(steps, "calib/generate", work / "generated", args.calib_n, args.calib_seed, "pgcgm", args.train)
    kept = {}
    for s in args.steps_options:  # the first computes the relaxations, the others reuse them
        screen(steps, f"calib/screen_s{s}", work / "generated", work / "screen",
               ["--prescreen-steps", str(s), "--prescreen-max-ehull", "inf"], args.known)  # fmt: skip
        kept[s] = kept_files(work / "screen", f"calib/screen_s{s}")
    cpu_per_work = _relax_cpu_per_work(*kept[args.steps_options[0]])
    table = pd.concat([option_table(_rows(short), _prescreen_cpu(rep), cpu_per_work, s)
                       for s, (rep, short) in kept.items()], ignore_index=True)  # fmt: skip
    choice = choose_threshold(table, args.recall_target)
    short0 = kept[args.steps_options[0]][1]
    return {"table": table, "choice": choice, "cpu_per_work": cpu_per_work, "n_relaxed": len(short0),
            "n_positive": int(short0["metasun"].astype(bool).sum()),
            "relax_cpu_per_candidate": cpu_per_work * float(_rows(short0)["work"].mean())}  # fmt: skip


def held_out(steps: Steps, args: argparse.Namespace, choice: dict[str, Any]) -> dict[str, Any]:
    """Recall of the chosen pre-screen on another seed's candidates (screened at threshold inf)."""
    work = args.work / "heldout"
    generate(steps, "heldout/generate", work / "generated", args.heldout_n, args.heldout_seed, "pgcgm", args.train)
    screen(steps, "heldout/screen", work / "generated", work / "screen",
           ["--prescreen-steps", str(int(choice["steps"])), "--prescreen-max-ehull", "inf"], args.known)  # fmt: skip
    report, short = kept_files(work / "screen", "heldout/screen")
    rows, t = _rows(short), float(choice["threshold"])
    k, n = recall(rows["estimate"], rows["positive"], t)
    drop = ~(rows["estimate"].to_numpy(float) <= t)
    [rel] = [s for s in report["stages"] if s["name"] == "relax"]
    saved = rel["cpu_s"] * float(rows["work"][drop].sum() / rows["work"].sum())
    return {"recall_k": k, "recall_n": n, "recall_ci": wilson(k, n), "n": len(rows), "dropped": int(drop.sum()),
            "relax_cpu": rel["cpu_s"], "relax_cpu_saved": saved, "prescreen_cpu": _prescreen_cpu(report) * len(rows),
            "missed": short.loc[drop & rows["positive"].to_numpy(), ["id", "formula", "e_hull",
                                                                     "prescreen_e_hull"]].to_dict("records")}


def _stem(sid: Any) -> str:
    return str(sid)[:-4] if str(sid).endswith(".cif") else str(sid)


def verify(steps: Steps, args: argparse.Namespace, name: str, gen: Path, short: pd.DataFrame) -> dict[str, Any]:
    """Re-relax (ASE engine, tighter) a seeded random subset of the shortlist's S.U.N. candidates (``metasun``
    flag), from the generated candidate; how many are S.U.N. (and SUN) again."""
    flagged = short[short["metasun"].astype(bool)]
    pick = flagged.sample(n=min(args.verify_n, len(flagged)), random_state=args.seed)
    folder = args.work / name / "verify" / "candidates"
    if not folder.exists():
        summary = pd.read_csv(gen / "summary.csv").set_index("id")
        (tmp := folder.with_suffix(".tmp")).mkdir(parents=True, exist_ok=True)
        for sid in pick["id"].map(_stem):  # a CIF folder's ids are its file names
            shutil.copy(gen / summary.loc[sid, "cif"], tmp / f"{sid}.cif")
        tmp.rename(folder)
    cost = screen(steps, f"{name}/verify", folder, args.work / name / "verify" / "screen",
                  ["--relax-engine", "ase", "--fmax", str(args.verify_fmax), "--steps", str(args.verify_steps),
                   "--prescreen-steps", "0", "--prescreen-max-ehull", "inf"], args.known,
                  ["--scheduler", args.scheduler, "--workers", str(args.workers)])  # fmt: skip
    _, again = kept_files(args.work / name / "verify" / "screen", f"{name}/verify")
    again = again.set_index(again["id"].map(_stem))
    ok = [bool(again.loc[s, "metasun"]) if s in again.index else False for s in pick["id"].map(_stem)]
    sun_ids = pick.loc[pick["sun"].astype(bool), "id"].map(_stem)
    sun_ok = [bool(again.loc[s, "sun"]) if s in again.index else False for s in sun_ids]
    return {"n": len(pick), "n_flagged": len(flagged), "confirmed": int(sum(ok)), "ci": wilson(int(sum(ok)), len(pick)),
            "sun_n": len(sun_ids), "sun_confirmed": int(sum(sun_ok)), "cpu_s": cost["cpu_s"]}


def reuse_records(gen: Path, source: Path, target: Path, cpu_per_work: float) -> dict[str, Any]:
    """Copy the stored stage results of ``gen``'s structures from the screen folder ``source`` (an earlier screen
    of a larger set of the same seed) into ``target``, which ``--resume`` then reuses. Returns their CPU-s per
    stage: each record's stored ``cpu_s``; a relaxation stored without one (its batch was stopped) priced by the
    calibration's cost model (``cpu_per_work`` × force evaluations × sites), counted in ``estimated``."""
    from xtalgen.data.content_hash import structure_hash
    from xtalgen.evaluation.sources import load_generated

    hashes = {structure_hash(st) for st in load_generated(gen).structures if st is not None}
    out: dict[str, Any] = {"cpu": {}, "copied": 0, "estimated": 0, "source": str(source)}
    stages = (("cheap", "cheap filters"), ("known", "dedupe"), ("prescreen", "prescreen"), ("relax", "relax"))
    for stage, label in stages:
        for f in sorted((source / "stages" / stage).glob("*.json")):
            rec = json.loads(f.read_text())
            if f.name.split("-")[0] not in hashes or "error" in rec:
                continue
            (target / "stages" / stage).mkdir(parents=True, exist_ok=True)
            shutil.copy(f, target / "stages" / stage / f.name)
            cpu = rec.get("cpu_s")
            if cpu is None and stage == "relax":
                cpu = cpu_per_work * float(relax_work(rec["steps"], len(rec["structure"]["sites"])))
                out["estimated"] += 1
            out["cpu"][label] = out["cpu"].get(label, 0.0) + float(cpu or 0.0)
            out["copied"] += 1
    return out


def first_k(gen: Path, k: int, out: Path) -> Path:
    """A folder with the CIFs of the first ``k`` structures of the generation folder ``gen`` (summary order)."""
    if not out.exists():
        rows = pd.read_csv(gen / "summary.csv")
        rows = rows[rows["accepted"].astype(bool)].head(k)
        (tmp := out.with_suffix(".tmp")).mkdir(parents=True, exist_ok=True)
        for sid, cif in zip(rows["id"], rows["cif"], strict=True):
            shutil.copy(gen / cif, tmp / f"{sid}.cif")
        tmp.rename(out)
    return out


def screen_set(steps: Steps, args: argparse.Namespace, name: str, n: int, choice: dict[str, Any],
               cpu_per_work: float) -> dict[str, Any]:  # fmt: skip
    """Generate ``n`` candidates of ``name`` and screen them (the first ``--screen-first`` only, when given) with
    the chosen pre-screen; costs and counts. A subset's screen reuses what the full set's screen stored."""
    tag = f"{name}_n{n}"  # another size is another set (own folder, own steps)
    gen = args.work / tag / "generated"
    g = generate(steps, f"{tag}/generate", gen, n, args.seed, name, args.train)
    k = args.screen_first.get(name, n)
    sub = f"{tag}/first{k}" if k < n else tag
    source = first_k(gen, k, args.work / sub / "candidates") if k < n else gen
    if k < n and (args.work / tag / "screen").exists() and not (args.work / sub / "screen").exists():
        reused = reuse_records(source, args.work / tag / "screen", args.work / sub / "screen", cpu_per_work)
        (args.work / sub / "reused.json").write_text(json.dumps(reused, indent=1))
    s = screen(steps, f"{sub}/screen", source, args.work / sub / "screen",
               ["--prescreen-steps", str(int(choice["steps"])), "--prescreen-max-ehull",
                str(choice["threshold"])], args.known, ["--scheduler", args.scheduler, "--workers",
                                                        str(args.workers)])  # fmt: skip
    report, short = kept_files(args.work / sub / "screen", f"{sub}/screen")
    lent = args.work / sub / "reused.json"
    reused = json.loads(lent.read_text()) if lent.exists() else {"cpu": {}}
    total = (g["cpu_s"] or 0.0) + s["cpu_s"] + sum(reused["cpu"].values())
    sun, metasun = int(short["sun"].astype(bool).sum()), int(short["metasun"].astype(bool).sum())
    return {"n": n, "screened": k, "gen_cpu": g["cpu_s"], "screen_cpu": s["cpu_s"], "screen_wall": s["wall_s"],
            "reused": reused, "total_cpu": total, "stages": add_stage_cpu(stage_rows(report), reused["cpu"]),
            "sun": sun, "metasun": metasun, "shortlist": len(short), "median_sites": float(short["n_sites"].median()),
            "sun_per_h": per_hour(sun, total), "metasun_per_h": per_hour(metasun, total),
            "verify": verify(steps, args, sub, gen, short)}


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=Path("/work/runs/screen_scale"))
    p.add_argument("--n-pgcgm", type=int, default=2000)
    p.add_argument("--n-pyxtal", type=int, default=2000)
    p.add_argument("--seed", type=int, default=303, help="seed of the PGCGM and PyXtal sets (and the verify pick)")
    p.add_argument("--calib-seed", type=int, default=101)
    p.add_argument("--calib-n", type=int, default=200)
    p.add_argument("--heldout-seed", type=int, default=202)
    p.add_argument("--heldout-n", type=int, default=200)
    p.add_argument("--steps-options", type=int, nargs="+", default=[0, 10])
    p.add_argument("--recall-target", type=float, default=0.95)
    p.add_argument("--verify-n", type=int, default=40)
    p.add_argument("--verify-fmax", type=float, default=0.05)
    p.add_argument("--verify-steps", type=int, default=500)
    p.add_argument("--scheduler", default="none", help="--scheduler of the PGCGM and PyXtal screens")
    p.add_argument("--workers", type=int, default=2, help="--workers of those screens (a local Dask cluster)")
    p.add_argument("--screen-first", nargs="*", default=[], help="NAME=K: screen only the first K generated "
                   "structures of set NAME (e.g. pgcgm=500); generation CPU is still that of the whole set")
    p.add_argument("--known", default=KNOWN)
    p.add_argument("--train", default=TRAIN)
    p.add_argument("--sets", nargs="+", default=["pgcgm", "pyxtal"])
    p.add_argument("--notes", type=Path, default=None, help="markdown appended to the page (discussion)")
    p.add_argument("--markdown", type=Path, default=REPO / "docs" / "benchmarks" / "screen_scale.md")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.screen_first = {k: int(v) for k, v in (item.split("=") for item in args.screen_first)}
    args.work.mkdir(parents=True, exist_ok=True)
    load = [os.getloadavg()[0]]
    steps = Steps(args.work)
    cal = calibrate(steps, args)
    print("calibration choice:", cal["choice"], flush=True)
    held = held_out(steps, args, cal["choice"])
    print("held-out recall:", held["recall_k"], "/", held["recall_n"], flush=True)
    sizes = {"pgcgm": args.n_pgcgm, "pyxtal": args.n_pyxtal}
    sets = {name: screen_set(steps, args, name, sizes[name], cal["choice"], cal["cpu_per_work"])
            for name in args.sets if sizes[name]}  # fmt: skip
    load.append(os.getloadavg()[0])
    out = {"calibration": {**cal, "table": cal["table"].to_dict("records")}, "heldout": held, "sets": sets}
    (args.work / "results.json").write_text(json.dumps(out, indent=1, default=str))
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    from screen_scale_report import markdown

    args.markdown.write_text(markdown(args, cal, held, {"PGCGM" if k == "pgcgm" else "PyXtal-random": v
                                                        for k, v in sets.items()}, load))  # fmt: skip
    print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()

"""PGCGM end to end on the MP ternaries with 3 base sites: train (≤ 30 min CPU), generate, post-process.

Stages (each resumable; rerun the same command after an interruption):
  1. data       prepared dataset: ``--data`` if given, else MP ternaries with ≤ 20 sites prepared into WORK;
  2. calibrate  physics distance losses of the *real* training samples (checks the offsets);
  3. train      physics losses on, bundled config ``pgcgm_cpu`` (``xtalgen.configs``), stopped at ``--minutes``
                wall time (in chunks of ``checkpoint_every`` steps; the step count reached is recorded);
  4. ablation   the same config with every physics term off, trained for the same number of steps;
  5. generate   ``--n`` candidates from each model (conditions drawn from the training table),
                expanded, merged, filtered and deduplicated with ``--workers`` processes, timed;
  6. baseline   PyXtal random symmetric structures with the training conditions, same n (optional);
  7. report     ``docs/benchmarks/pgcgm.md``: survival after each post-processing step, timings.

Usage:
  nohup python benchmarks/pgcgm_run.py --work /work/runs/pgcgm_bench > /work/runs/pgcgm_bench.log 2>&1 &
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from xtalgen.configs import bundled_config
from xtalgen.data.atomic import atomic_write
from xtalgen.data.prepare import PrepareFilters, prepare_dataset
from xtalgen.models.pgcgm import distance_losses
from xtalgen.pipelines.pgcgm_generate import generate_pgcgm
from xtalgen.pipelines.pgcgm_task import PGCGMConfig
from xtalgen.pipelines.pgcgm_train import ARRAYS_FILE, train_pgcgm
from xtalgen.pipelines.training import find_checkpoint, load_config
from xtalgen.representations.basesites.batch import BaseSiteArrays

REPO = Path(__file__).resolve().parents[1]
MP = REPO.parent / "shared" / "datasets" / "mp" / "mp_structures.csv.gz"
CPU_CONFIG = bundled_config("pgcgm_cpu")
PHYSICS_OFF = ["physics.inter=false", "physics.intra=false", "physics.box=false"]
STEPS = [  # (label, column that must be True/condition on reason) for the survival table
    ("expanded (≤ 2000 atoms)", lambda f: ~f["reason"].isin(["expansion failed", "too many atoms"])),
    ("merged", lambda f: ~f["reason"].isin(["expansion failed", "too many atoms", "merge failed"])),
    ("min distance ≥ 0.5 (r_i + r_j)", lambda f: f["filter_min_distance"] == True),  # noqa: E712
    ("space group kept", lambda f: (f["filter_min_distance"] == True) & (f["filter_spacegroup"] == True)),  # noqa: E712
    ("unique (accepted)", lambda f: f["accepted"] == True),  # noqa: E712
]


def _timings(work: Path) -> dict:
    path = work / "timings.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _save_timing(work: Path, key: str, value) -> None:
    data = _timings(work)
    data[key] = value
    with atomic_write(work / "timings.json") as fh:
        json.dump(data, fh, indent=1)


def stage_data(work: Path, data: Path | None) -> Path:
    if data is not None:
        return data
    out = work / "mp_ternary_le20.parquet"
    if out.is_file():
        return out
    frame = pd.read_csv(MP)
    n_el = frame["elements"].map(lambda s: len(ast.literal_eval(s)))
    frame = frame[(n_el == 3) & (frame["nsites"] <= 20)]
    csv_path = work / "mp_ternary_le20.csv.gz"
    frame.to_csv(csv_path, index=False)
    t0 = time.perf_counter()
    filters = PrepareFilters(n_elements=frozenset({3}), n_base_sites=frozenset({3}))
    prepare_dataset(csv_path, out, filters=filters, workers=2)
    _save_timing(work, "prepare_s", time.perf_counter() - t0)
    return out


def stage_calibrate(arrays: BaseSiteArrays, cfg: PGCGMConfig, n: int = 4000) -> dict:
    idx = np.random.default_rng(0).choice(len(arrays), size=min(n, len(arrays)), replace=False)
    sub = arrays.subset(np.sort(idx))
    args = [torch.tensor(x) for x in (sub.coords, sub.lattice, sub.radii, sub.element_z, sub.site_mask)]
    kw = dict(offset_inter=cfg.physics.offset_inter, offset_intra=cfg.physics.offset_intra,
              coincidence_length=cfg.physics.coincidence_length)  # fmt: skip
    li, la = distance_losses(*args, **kw)
    li_img, la_img = distance_losses(*args, **kw, ops=torch.tensor(sub.ops), ops_mask=torch.tensor(sub.ops_mask))
    return {"samples": len(sub), "inter": float(li), "intra": float(la), "inter_images": float(li_img),
            "intra_images": float(la_img)}  # fmt: skip


def _steps_done(run: Path) -> int:
    ckpt = find_checkpoint(run) if run.exists() else None
    return int(ckpt.name.split("_")[-1]) if ckpt is not None else 0


def stage_train(work: Path, name: str, data: Path, overrides: list[str], *, minutes: float | None,
                max_steps: int, chunk: int) -> int:  # fmt: skip
    """Train in chunks of ``chunk`` steps until ``max_steps`` or ``minutes`` of (accumulated) wall time."""
    run = work / name
    spent = float(_timings(work).get(f"{name}_train_s", 0.0))
    while True:
        done = _steps_done(run)
        if done >= max_steps or (minutes is not None and spent >= 60 * minutes):
            return done
        target = min(max_steps, done + chunk)
        t0 = time.perf_counter()
        train_pgcgm(data, CPU_CONFIG, run, resume=True,
                    overrides=[f"max_steps={target}", f"checkpoint_every={chunk}", *overrides])  # fmt: skip
        spent += time.perf_counter() - t0
        _save_timing(work, f"{name}_train_s", spent)
        _save_timing(work, f"{name}_steps", target)


def stage_generate(work: Path, name: str, n: int, workers: int, run: Path | None = None) -> pd.DataFrame:
    out = work / f"{name}_generated"
    key = f"{name}_generate_s"
    if not (out / "summary.csv").is_file() or key not in _timings(work):
        t0 = time.perf_counter()
        generate_pgcgm(n, out, checkpoint=run or work / name, seed=0, workers=workers, progress=False)
        _save_timing(work, key, time.perf_counter() - t0)
    return pd.read_csv(out / "summary.csv")


def stage_baseline(work: Path, data: Path, n: int, workers: int) -> pd.DataFrame | None:
    from xtalgen.data.dataset import load_dataset
    from xtalgen.pipelines.baseline_pyxtal import generate_pyxtal_random

    out = work / "pyxtal_generated"
    if not (out / "summary.csv").is_file():
        ds = load_dataset(data).subset(split="train")
        t0 = time.perf_counter()
        generate_pyxtal_random(n, out, train=ds, seed=0, workers=workers, progress=False)
        _save_timing(work, "pyxtal_generate_s", time.perf_counter() - t0)
    return pd.read_csv(out / "summary.csv")


def baseline_filtered(work: Path, baseline: pd.DataFrame, workers: int) -> pd.DataFrame:
    """The PyXtal structures put through the same merge/filter/dedupe chain as PGCGM's candidates."""
    from pymatgen.core import Structure

    from xtalgen.postprocess.pipeline import postprocess_candidates

    out = work / "pyxtal_filtered.csv"
    if out.is_file():
        return pd.read_csv(out)
    rows = baseline[baseline["accepted"] & baseline["cif"].notna()]
    structures = [Structure.from_file(work / "pyxtal_generated" / c) for c in rows["cif"]]
    results = postprocess_candidates(structures, spacegroups=rows["target_spacegroup"].astype(int).tolist(),
                                     workers=workers, progress=False)  # fmt: skip
    frame = pd.DataFrame([{**r.info(), "accepted": r.accepted, "reason": r.reason or None} for r in results])
    # PyXtal draws it could not realise count as failures before expansion
    failed = len(baseline) - len(rows)
    if failed:
        frame = pd.concat([frame, pd.DataFrame([{"accepted": False, "reason": "expansion failed"}] * failed)])
    frame.to_csv(out, index=False)
    return frame


def survival_rows(frame: pd.DataFrame) -> list[str]:
    n = len(frame)
    cells = []
    for _, test in STEPS:
        kept = int(test(frame).sum())
        cells.append(f"{kept} ({100 * kept / n:.1f}%)")
    return cells


def report(work: Path, args, counts: dict, calib: dict, frames: dict[str, pd.DataFrame],
           baseline: pd.DataFrame | None) -> str:  # fmt: skip
    t = _timings(work)
    lines = [
        "# PGCGM benchmark: MP ternaries with 3 base sites",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"1 torch thread; load average at the end {os.getloadavg()[0]:.1f} (other jobs shared the cores).",
        f"Data: {counts['materials']} train-split materials ({counts['samples']} self-augmented samples, "
        f"{counts['spacegroups']} space groups). Config `pgcgm_cpu` (bundled).",
        f"Reproduce / resume: `python benchmarks/pgcgm_run.py --work {args.work}"
        + (f" --data {args.data}" if args.data else "")
        + "".join(f" --compare {c}" for c in args.compare)
        + f"` (minutes={args.minutes}, n={args.n}, workers={args.workers}).",
        "",
        "## Training",
        "",
        "physics_on: `pgcgm_cpu.yaml` as is; physics_off: the same with every physics term off, trained "
        "for the same number of steps (ablation); other rows: runs given with `--compare` (their label "
        "names what differs).",
        "",
        "| model | steps | wall time | samples/s |",
        "|---|---|---|---|",
    ]
    for name in frames:
        if f"{name}_train_s" not in t:
            continue
        steps, secs = t.get(f"{name}_steps", 0), t.get(f"{name}_train_s", float("nan"))
        lines.append(f"| {name} | {steps} | {secs / 60:.1f} min | {steps * 64 / secs:.0f} |")
    lines += [
        "",
        "Physics distance losses of the real training samples with the configured offsets "
        f"({calib['samples']} samples; 0 = no real pair penalised): L_inter {calib['inter']:.4f}, "
        f"L_intra {calib['intra']:.4f}; over all symmetry images: L_inter {calib['inter_images']:.4f}, "
        f"L_intra {calib['intra_images']:.4f}.",
        "",
        f"## Generation and post-processing ({args.n} candidates each, conditions drawn from the training table)",
        "",
        "Candidates surviving each post-processing step (cumulative):",
        "",
        "| model | " + " | ".join(label for label, _ in STEPS) + " | generate + post-process time |",
        "|---|" + "---|" * (len(STEPS) + 1),
    ]
    for name, frame in frames.items():
        secs = t.get(f"{name}_generate_s", t.get("pyxtal_generate_s") if name == "pyxtal_random" else None)
        secs = float("nan") if secs is None else secs
        lines.append(f"| {name} | " + " | ".join(survival_rows(frame)) + f" | {secs:.1f} s |")
    lines += ["", "Rejection reasons:", ""]
    for name, frame in frames.items():
        reasons = frame["reason"].fillna("accepted").value_counts().to_dict()
        before, after = frame["atoms_before_merge"].mean(), frame["atoms_after_merge"].mean()
        lines.append(f"- {name}: {reasons}; mean atoms before/after merging {before:.1f} / {after:.1f}")
    if baseline is not None:
        acc = int(baseline["accepted"].sum())
        lines.append("- pyxtal_random row of the table: PyXtal's structures put through the same merge, filters and "
                     "dedupe (PyXtal itself only rejects draws it cannot realise).")
        secs = t.get("pyxtal_generate_s", float("nan"))
        lines.append(f"- PyXtal random baseline (same training conditions): {acc} of {len(baseline)} accepted "
                     f"({100 * acc / len(baseline):.1f}%), {secs:.1f} s; reasons "
                     f"{baseline['reason'].fillna('accepted').value_counts().to_dict()}")  # fmt: skip
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/work/runs/pgcgm_bench"))
    parser.add_argument("--data", type=Path, default=None, help="prepared dataset (default: prepare MP ternaries)")
    parser.add_argument("--minutes", type=float, default=30.0, help="training wall-time budget (physics on)")
    parser.add_argument("--max-steps", type=int, default=None, help="default: the config's max_steps")
    parser.add_argument("--chunk", type=int, default=500, help="steps between time checks (= checkpoints)")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--compare", action="append", default=[], metavar="LABEL=RUN_DIR",
                        help="also generate from another trained run (e.g. a different config) and report it")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks" / "pgcgm.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)

    data = stage_data(args.work, args.data)
    print(f"[data] {data}", flush=True)
    max_steps = args.max_steps or load_config(PGCGMConfig, CPU_CONFIG).max_steps
    steps = stage_train(args.work, "physics_on", data, [], minutes=args.minutes, max_steps=max_steps,
                        chunk=args.chunk)  # fmt: skip
    print(f"[train] physics on: {steps} steps", flush=True)
    arrays_path = args.work / "physics_on" / ARRAYS_FILE
    arrays = BaseSiteArrays.load_npz(arrays_path)
    cfg = load_config(PGCGMConfig, CPU_CONFIG)
    calib = stage_calibrate(arrays, cfg)
    print(f"[calibrate] {calib}", flush=True)
    off = stage_train(args.work, "physics_off", arrays_path, PHYSICS_OFF, minutes=None, max_steps=steps,
                      chunk=args.chunk)  # fmt: skip
    print(f"[train] physics off: {off} steps", flush=True)
    frames = {name: stage_generate(args.work, name, args.n, args.workers) for name in ("physics_on", "physics_off")}
    for item in args.compare:
        label, _, run = item.partition("=")
        run_dir = Path(run)
        _save_timing(args.work, f"{label}_steps", _steps_done(run_dir))
        other = _timings(run_dir.parent).get(f"{run_dir.name}_train_s")
        if other is not None:
            _save_timing(args.work, f"{label}_train_s", other)
        frames[label] = stage_generate(args.work, label, args.n, args.workers, run=run_dir)
    baseline = None if args.no_baseline else stage_baseline(args.work, data, args.n, args.workers)
    if baseline is not None:
        frames["pyxtal_random"] = baseline_filtered(args.work, baseline, args.workers)
    first = np.unique(arrays.material_index)
    counts = {"materials": len(first), "samples": len(arrays), "spacegroups": len(np.unique(arrays.spacegroup))}
    text = report(args.work, args, counts, calib, frames, baseline)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out) as fh:
        fh.write(text)
    print(text, flush=True)


if __name__ == "__main__":
    main()

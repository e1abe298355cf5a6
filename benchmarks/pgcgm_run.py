"""PGCGM end to end on the MP ternaries with 3 base sites: train (≤ 30 min CPU), generate, post-process.

Stages (each resumable; rerun the same command after an interruption):
  1. data       prepared dataset: ``--data`` if given, else MP ternaries with ≤ 20 sites prepared into WORK;
  2. calibrate  physics distance losses of the *real* training samples (checks the offsets);
  3. train      physics losses on, bundled config ``pgcgm_cpu`` (``xtalgen.configs``), stopped at ``--minutes``
                wall time (in chunks of ``checkpoint_every`` steps; the step count reached is recorded);
  4. ablation   the same config with every physics term off, trained for the same number of steps;
  5. generate   ``--n`` candidates from each model (conditions drawn from the training table),
                snapped (and, for comparison, not snapped), expanded, merged, filtered and deduplicated
                with ``--workers`` processes, timed; ``--seeds`` generation seeds per model for the
                run-to-run spread of acceptance; older runs given with ``--compare``;
  6. baseline   PyXtal random symmetric structures with the training conditions, same n (optional);
  7. report     ``docs/benchmarks/pgcgm.md`` (tables in ``pgcgm_report.py``): survival after each
                post-processing step, spread over seeds, kinds of distance clash, timings, and a
                read-back check of the accepted CIFs (pymatgen reads each; spglib confirms its stated
                space group).

Usage:
  nohup python benchmarks/pgcgm_run.py --work /work/runs/pgcgm_bench > /work/runs/pgcgm_bench.log 2>&1 &
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from xtalgen.configs import bundled_config
from xtalgen.data.atomic import atomic_write
from xtalgen.data.prepare import PrepareFilters, prepare_dataset
from xtalgen.models.pgcgm import distance_losses
from xtalgen.pipelines.pgcgm.sample import generate_pgcgm
from xtalgen.pipelines.pgcgm.task import PGCGMConfig
from xtalgen.pipelines.pgcgm.train import ARRAYS_FILE, train_pgcgm
from xtalgen.pipelines.training import find_checkpoint, load_config
from xtalgen.representations.basesites.training_arrays import BaseSiteArrays

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pgcgm_report as R  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MP = REPO.parent / "shared" / "datasets" / "mp" / "mp_structures.csv.gz"
CPU_CONFIG = bundled_config("pgcgm_cpu")
PHYSICS_OFF = ["physics.inter=false", "physics.intra=false", "physics.box=false"]
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


def stage_generate(work: Path, tag: str, n: int, workers: int, run: Path, *, seed: int = 0,
                   snap: bool = True) -> pd.DataFrame:  # fmt: skip
    """``n`` candidates from ``run`` into ``WORK/<tag>_generated`` (cached), timed as ``<tag>_generate_s``."""
    out = work / f"{tag}_generated"
    key = f"{tag}_generate_s"
    if not (out / "summary.csv").is_file() or key not in _timings(work):
        t0, cpu0 = time.perf_counter(), _cpu_seconds()
        generate_pgcgm(n, out, checkpoint=run, seed=seed, workers=workers, snap=snap, progress=False,
                       count="candidates", rescale_volume=False,  # the paper's path: survival per candidate
                       fast_postprocess=False)  # every reject measured (the clash breakdown reads its ratios)
        _save_timing(work, f"{tag}_generate_cpu_s", _cpu_seconds() - cpu0)
        _save_timing(work, key, time.perf_counter() - t0)
        print(f"[generate] {tag}: {time.perf_counter() - t0:.1f} s wall, {_cpu_seconds() - cpu0:.1f} s CPU", flush=True)
    return pd.read_csv(out / "summary.csv")


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (the post-processing pool)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def variant_tag(name: str, snap: bool, seed: int) -> str:
    """Folder/timing tag of one generation: model name, snapping on/off, seed (seed 0 unsuffixed)."""
    return f"{name}_{'snap' if snap else 'nosnap'}" + (f"_seed{seed}" if seed else "")


def stage_baseline(work: Path, data: Path, n: int, workers: int) -> pd.DataFrame | None:
    from xtalgen.data.dataset import load_dataset
    from xtalgen.pipelines.pyxtal.sample import generate_pyxtal_random

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

    from xtalgen.postprocess.candidates import postprocess_candidates

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


def _verdict(a: tuple, b: tuple, noise: float) -> str:
    """Whether mean ``a`` exceeds mean ``b`` by more than twice the largest seed standard deviation."""
    diff = a[1] - b[1]
    if abs(diff) <= 2 * noise:
        return (f"the difference ({diff:+.1f} points) is within twice the largest seed-to-seed standard "
                f"deviation ({noise:.1f}): the physics terms do **not** raise acceptance here.")  # fmt: skip
    word = "raise" if diff > 0 else "lower"
    return (f"the difference ({diff:+.1f} points) exceeds twice the largest seed-to-seed standard deviation "
            f"({noise:.1f}): the physics terms **{word}** acceptance here.")


def _breakdown_text(b: dict | None) -> str:
    if not b:
        return "breakdown n/a"
    return (f"of {b['rejected']} rejected for distance: {b['same_only']} only same-element clashes, "
            f"{b['other_only']} only different-element clashes, {b['both']} both")  # fmt: skip


def _spread_text(values: list[float], mean: float, sd: float) -> str:
    return f"{mean:.1f}% ± {sd:.1f} (seeds: {', '.join(f'{v:.1f}' for v in values)})"


def report(work: Path, args, counts: dict, calib: dict, rows: dict[str, tuple[str, pd.DataFrame]],
           seeds: dict[tuple[str, bool], dict[int, pd.DataFrame]], cif_check: dict[str, dict],
           baseline: pd.DataFrame | None) -> str:  # fmt: skip
    """The markdown report. ``rows``: table label -> (timing tag, summary); ``seeds``: (model, snap) ->
    seed -> summary; ``cif_check``: label -> :func:`pgcgm_report.check_cifs` counts."""
    t = _timings(work)
    spread = {key: R.seed_spread(frames) for key, frames in seeds.items()}
    on, off = spread[("physics_on", True)], spread[("physics_off", True)]
    on_ns, off_ns = spread[("physics_on", False)], spread[("physics_off", False)]
    noise = max(on[2], off[2], on_ns[2], off_ns[2])
    final = rows["physics_on"][1]
    reasons = final["reason"].fillna("accepted").value_counts()
    top = reasons.drop("accepted", errors="ignore")
    plain = R.clash_breakdown(rows["physics_on, no snap"][1])
    gen_s = t.get(f"{rows['physics_on'][0]}_generate_s", float("nan"))
    gen_cpu = t.get(f"{rows['physics_on'][0]}_generate_cpu_s", float("nan"))
    lines = [
        "# PGCGM benchmark: MP ternaries with 3 base sites",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"1 torch thread; load average at the end {os.getloadavg()[0]:.1f} (other jobs shared the cores, "
        "so wall times are upper bounds; CPU seconds are given too).",
        f"Data: {counts['materials']} train-split materials ({counts['samples']} self-augmented samples, "
        f"{counts['spacegroups']} space groups). Config: bundled `pgcgm_cpu` (sigmoid coordinate head, "
        f"{t.get('physics_on_steps')} steps).",
        f"Reproduce / resume: `python benchmarks/pgcgm_run.py --work {args.work}"
        + (f" --data {args.data}" if args.data else "")
        + "".join(f" --compare {c}" for c in args.compare)
        + f"` (minutes={args.minutes}, n={args.n}, workers={args.workers}, seeds={args.seeds}).",
        "",
        "## Findings (final config)",
        "",
        f"- **Physics terms (ablation)**, {args.n} candidates per seed, {args.seeds} generation seeds from the "
        "same checkpoints (the seed changes the drawn conditions and the noise); ± is the standard deviation "
        f"over seeds. Current generation (snapping on): physics on {_spread_text(*on)}, off {_spread_text(*off)}; "
        + _verdict(on, off, noise) + " Sites as generated (no snapping, the generation before this "
        f"benchmark): on {_spread_text(*on_ns)}, off {_spread_text(*off_ns)}; " + _verdict(on_ns, off_ns, noise)
        + f" Snapping: physics on: {R.snap_stats(final)}; physics off: {R.snap_stats(rows['physics_off'][1])}.",
        f"- **Main rejection reason**: {top.index[0]} ({int(top.iloc[0])} of {len(final)} physics-on candidates "
        f"with snapping; {_breakdown_text(R.clash_breakdown(final))}). Without snapping: "
        f"{int((rows['physics_on, no snap'][1]['reason'] == top.index[0]).sum())} of {len(final)}; "
        f"{_breakdown_text(plain)}. Same-element clashes are between atoms of one base site here (one site "
        "per element); clashes between different elements are not a symmetry artefact and no generation-side "
        "step removes them without moving atoms against the model's output.",
        "- **Snapping** base sites onto the special position their own images point to "
        "(`xtalgen.representations.basesites.snap`: threshold = the merge threshold, one atomic radius; applied before "
        "expansion; a site moves only when the end point is an exact special position less than one radius "
        "away; real MP crystals are unchanged; the distance filter is unchanged and the space-group filter "
        f"runs after it) raises physics-on acceptance from {on_ns[1]:.1f}% to {on[1]:.1f}% and physics-off "
        f"from {off_ns[1]:.1f}% to {off[1]:.1f}% (means over seeds).",
        f"- **Throughput**: generation + post-processing of {len(final)} physics-on candidates (snapping on) "
        f"took {gen_s:.1f} s wall with {args.workers} worker processes on the shared machine and "
        f"{gen_cpu:.1f} CPU seconds in all, i.e. about {gen_cpu / 2:.0f} s on 2 idle cores (target < 60 s on "
        "2 cores: " + ("met on idle cores" if gen_cpu / 2 < 60 else "missed")
        + ("" if gen_s < 60 else "; not met in wall time under this load") + "). All runs: last column below.",
    ]
    for label, c in cif_check.items():
        lines.append(f"- **CIF check ({label})**: {c['cifs']} CIFs for {c['accepted_rows']} accepted candidates; "
                     f"{c['read']} read back by pymatgen; for {c['agree']} of them spglib (symprec 0.1 Å) finds "
                     f"the space group the CIF states.")  # fmt: skip
    lines += [
        "",
        "## Training",
        "",
        "physics_on: `pgcgm_cpu` as is; physics_off: the same with every physics term off, trained for the "
        "same number of steps (ablation). Older runs, kept for comparison (given with `--compare`; the label "
        "names what differs): periodic coordinate head with 6 critic harmonics (the previous config) and the "
        "sigmoid head trained 20,000 steps.",
        "",
        "| model | steps | wall time | samples/s |",
        "|---|---|---|---|",
    ]
    for name in ["physics_on", "physics_off", *[c.partition("=")[0] for c in args.compare]]:
        if f"{name}_train_s" in t:
            steps, secs = t.get(f"{name}_steps", 0), t[f"{name}_train_s"]
            lines.append(f"| {name} | {steps} | {secs / 60:.1f} min | {steps * 64 / secs:.0f} |")
    lines += [
        "",
        "Physics distance losses of the real training samples with the configured offsets "
        f"({calib['samples']} samples; 0 = no real pair penalised): L_inter {calib['inter']:.4f}, "
        f"L_intra {calib['intra']:.4f}; over all symmetry images: L_inter {calib['inter_images']:.4f}, "
        f"L_intra {calib['intra_images']:.4f}.",
        "",
        f"## Generation and post-processing ({args.n} candidates each, seed 0, conditions drawn from the "
        "training table)",
        "",
        "Candidates surviving each post-processing step (cumulative). Rows without \"no snap\" use the "
        "current generation (snapping on); \"no snap\" rows expand the generated sites as they are.",
        "",
        "| model | " + " | ".join(label for label, _ in R.STEPS) + " | generate + post-process time |",
        "|---|" + "---|" * (len(R.STEPS) + 1),
    ]
    for label, (tag, frame) in rows.items():
        secs, cpu = t.get(f"{tag}_generate_s", float("nan")), t.get(f"{tag}_generate_cpu_s")
        cpu_text = f" ({cpu:.0f} CPU s)" if cpu is not None else ""
        lines.append(f"| {label} | " + " | ".join(R.survival_cells(frame)) + f" | {secs:.1f} s{cpu_text} |")
    lines += ["", "## Run-to-run spread of acceptance", "",
              "| model | snapping | accepted per seed (%) | mean ± sd |", "|---|---|---|---|"]
    for (name, snap), (values, mean, sd) in spread.items():
        lines.append(f"| {name} | {'on' if snap else 'off'} | {', '.join(f'{v:.1f}' for v in values)} | "
                     f"{mean:.1f} ± {sd:.1f} |")  # fmt: skip
    lines += ["", "## Why candidates are rejected", "",
              "Distance rejections by the kind of pair closer than 0.5 (r_i + r_j) (summary columns "
              "`min_ratio_same_element`, `min_ratio_other_elements`; n/a for runs generated before they existed):",
              "", "| model | rejected for distance | same element only | different elements only | both |",
              "|---|---|---|---|---|"]  # fmt: skip
    for label, (_, frame) in rows.items():
        b = R.clash_breakdown(frame)
        lines.append(f"| {label} | " + (" | ".join(str(b[k]) for k in ("rejected", "same_only", "other_only", "both"))
                                        if b else "n/a | n/a | n/a | n/a") + " |")  # fmt: skip
    lines += ["", "Rejection reasons and atom counts:", ""]
    for label, (_, frame) in rows.items():
        counts_ = frame["reason"].fillna("accepted").value_counts().to_dict()
        before, after = frame["atoms_before_merge"].mean(), frame["atoms_after_merge"].mean()
        lines.append(f"- {label}: {counts_}; mean atoms before/after merging {before:.1f} / {after:.1f}"
                     + (f"; {R.snap_stats(frame)}" if "sites_snapped" in frame.columns else ""))  # fmt: skip
    if baseline is not None:
        acc = int(baseline["accepted"].sum())
        lines.append("- pyxtal_random row: PyXtal's structures put through the same merge, filters and dedupe "
                     "(PyXtal itself only rejects draws it cannot realise).")
        secs = t.get("pyxtal_generate_s", float("nan"))
        lines.append(f"- PyXtal random baseline (same training conditions): {acc} of {len(baseline)} realised "
                     f"({100 * acc / len(baseline):.1f}%) in {secs:.1f} s.")  # fmt: skip
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
    parser.add_argument("--seeds", type=int, default=3, help="generation seeds per model (run-to-run spread)")
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
    rows: dict[str, tuple[str, pd.DataFrame]] = {}
    seeds: dict[tuple[str, bool], dict[int, pd.DataFrame]] = {}
    for snap in (True, False):  # the current generation (snapping), then the sites as generated
        for name in ("physics_on", "physics_off"):
            for seed in range(args.seeds):
                tag = variant_tag(name, snap, seed)
                frame = stage_generate(args.work, tag, args.n, args.workers, args.work / name, seed=seed, snap=snap)
                seeds.setdefault((name, snap), {})[seed] = frame
                if seed == 0:
                    rows[name if snap else f"{name}, no snap"] = (tag, frame)
    for item in args.compare:  # older runs, generated as before snapping existed (labelled "no snap")
        label, _, run = item.partition("=")
        run_dir = Path(run)
        _save_timing(args.work, f"{label}_steps", _steps_done(run_dir))
        other = _timings(run_dir.parent).get(f"{run_dir.name}_train_s")
        if other is not None:
            _save_timing(args.work, f"{label}_train_s", other)
        rows[f"{label}, no snap"] = (label, stage_generate(args.work, label, args.n, args.workers, run_dir, snap=False))
    baseline = None if args.no_baseline else stage_baseline(args.work, data, args.n, args.workers)
    if baseline is not None:
        rows["pyxtal_random"] = ("pyxtal", baseline_filtered(args.work, baseline, args.workers))
    cif_check = {name: R.check_cifs(args.work / f"{variant_tag(name, True, 0)}_generated")
                 for name in ("physics_on", "physics_off")}  # fmt: skip
    print(f"[cif check] {cif_check}", flush=True)
    first = np.unique(arrays.material_index)
    counts = {"materials": len(first), "samples": len(arrays), "spacegroups": len(np.unique(arrays.spacegroup))}
    text = report(args.work, args, counts, calib, rows, seeds, cif_check, baseline)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out) as fh:
        fh.write(text)
    print(text, flush=True)


if __name__ == "__main__":
    main()

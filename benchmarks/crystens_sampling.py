"""CrysTens diffusion sampling diagnostics: self-consistency of raw samples per run, sampler and occupancy lock.

For each trained diffusion run (``--run NAME=PATH``), sampler setting (``--sampling ddim:25 ddpm:250``)
and occupancy-lock setting (``--locks none 0 0.5``: off, final sample only, from half the schedule on),
draw ``--n`` samples (seed 0) and report means and medians of the paper's Table 1/2 quantities on the raw
output, plus diagnostics of where inconsistency comes from:

* atoms per sample (mean) next to the training set's, and slots the lock emptied per sample;
* split share: samples with a slot that is an atom by its header row and empty by its mirrored column (or
  the reverse), and the mean row-vs-column gap of the lattice angles over real slots (deg);
* difference layers vs header coordinates: slope and correlation of the generated ``d[i, j]`` against
  ``x_i - x_j`` from the (averaged) header coordinates, over all present pairs (1 and 1 for real tensors).

Results are cached per row under ``--out`` (keyed by checkpoint step, sampler and lock), so reruns only
render. Usage (from the repository root)::

    python benchmarks/crystens_sampling.py --run mp20=/work/runs/crystens_models/mp20/diffusion_context \\
        --train mp20=/work/runs/crystens_models/mp20/train.npy --locks none 0 0.5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
KEYS = ("var_length", "var_angle", "var_spacegroup", "var_frac_coord", "coord_agreement", "pairwise_diff_per_atom")


def diagnostics(x: np.ndarray, ct: Any) -> dict[str, float]:
    """Split share, row/column angle gap (deg), difference-layer slope/correlation for raw tensors (n, 4, N, N)."""
    from xtalgen.representations.crystens.config import FIRST_ATOM
    from xtalgen.representations.crystens.reconstruct import average, denormalise_header, header_repeats, present_slots

    split, gaps, d_all, p_all = [], [], [], []
    for t in np.asarray(x, dtype=np.float64):
        slots = present_slots(t, ct)
        if len(slots) == 0:
            split.append(False)
            continue
        ph = denormalise_header(header_repeats(t, slots), ct)  # (11, 8, A): repeats 0-3 rows, 4-7 columns
        by_row, by_col = ph[0, :4].mean(axis=0), ph[0, 4:].mean(axis=0)
        bad = np.minimum(by_row, by_col) < 0.5  # physical Z below 1/2 on one side: empty there
        split.append(bool(bad.any()))
        if (~bad).any():
            gaps.append(float(np.abs(ph[7:10, :4, ~bad].mean(axis=1) - ph[7:10, 4:, ~bad].mean(axis=1)).mean()))
        if len(slots) > 1:
            a = average(t, ct, slots).absolute.T  # (3, A)
            cols = FIRST_ATOM + slots
            d = ct.difference.denormalise(t[1:][:, cols][:, :, cols])
            off = ~np.eye(len(slots), dtype=bool)
            d_all.append(d[:, off].ravel())
            p_all.append((a[:, :, None] - a[:, None, :])[:, off].ravel())
    out = {"split_share": float(np.mean(split)), "rowcol_angle_gap": float(np.mean(gaps)) if gaps else float("nan")}
    if d_all:
        d, p = np.concatenate(d_all), np.concatenate(p_all)
        out["diff_slope"] = float(np.polyfit(p, d, 1)[0])
        out["diff_corr"] = float(np.corrcoef(d, p)[0, 1])
    return out


def measure(run: Path, n: int, sampler: str, steps: int, lock: float | None, seed: int) -> dict[str, Any]:
    import torch

    from xtalgen.models.crystens import OccupancyLock
    from xtalgen.pipelines.crystens.load import load_crystens_model
    from xtalgen.pipelines.crystens.sample import sample_tensors
    from xtalgen.representations.crystens import consistency_metrics

    kind, module, cfg, ct = load_crystens_model(run)
    if kind != "diffusion":
        raise ValueError(f"{run}: a crystens-diffusion run is needed, got crystens-{kind}")
    hook = OccupancyLock(ct, lock, cfg.model.num_train_timesteps) if lock is not None else None
    t0, c0 = time.perf_counter(), time.process_time()
    x = sample_tensors(kind, module, n, seed=seed, sampling_steps=steps, sampler=sampler, progress=False, impute=hook)
    out: dict[str, Any] = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}
    rows = [consistency_metrics(t, ct).as_dict() for t in x]
    for key in (*KEYS, "n_atoms"):
        v = np.array([r[key] for r in rows], dtype=float)
        out[key], out[key + "_median"] = float(np.nanmean(v)), float(np.nanmedian(v))
    if hook is not None:
        out["slots_locked"] = float(np.mean(hook.locked_counts))
    out.update(diagnostics(x, ct))
    out["threads"] = torch.get_num_threads()
    return out


def denoising_probe(run: Path, npy: Path, timesteps: list[int], n: int = 64, seed: int = 0) -> list[dict[str, float]]:
    """Noise the first ``n`` tensors of ``npy`` to each timestep, denoise once (with self-conditioning: twice,
    as sampling does), and compare the clean estimate with the truth over present atoms: mean |error| of the
    header coordinates and of each pair-block layer, next to the input's own error (normalised units)."""
    import torch

    from xtalgen.pipelines.crystens.load import load_crystens_model
    from xtalgen.representations.crystens import load_encoded
    from xtalgen.representations.crystens.config import FIRST_ATOM

    _, model, _, ct = load_crystens_model(run)
    x0 = torch.from_numpy(np.array(load_encoded(npy).tensors[:n], dtype=np.float32))
    present = x0[:, 0, 0, FIRST_ATOM:].numpy() > ct.presence_threshold
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for step in timesteps:
        t = torch.full((len(x0),), step)
        xt = model.scheduler.add_noise(x0, torch.randn(x0.shape, generator=gen), t)
        with torch.no_grad():
            est = model.clean_estimate(model.predict(xt, t), xt, t)
            if model.config.self_condition:
                est = model.clean_estimate(model.predict(xt, t, x0_estimate=est), xt, t)
        row: dict[str, float] = {"t": step}
        for name, field in (("estimate", est), ("input", xt)):
            hdr, pair = [], [[] for _ in range(4)]
            for i in range(len(x0)):
                cols = FIRST_ATOM + np.nonzero(present[i])[0]
                hdr.append(np.abs(field[i, 0, 1:4][:, cols] - x0[i, 0, 1:4][:, cols]).numpy().ravel())
                for layer in range(4):
                    diff = field[i, layer][cols][:, cols] - x0[i, layer][cols][:, cols]
                    pair[layer].append(np.abs(diff.numpy()).ravel())
            row[f"{name}_header_coords"] = float(np.concatenate(hdr).mean())
            for layer in range(4):
                row[f"{name}_layer{layer}"] = float(np.concatenate(pair[layer]).mean())
        rows.append(row)
    return rows


def training_atoms(npy: Path) -> float:
    """Mean number of atoms per tensor of an encoded set."""
    from xtalgen.representations.crystens import load_encoded
    from xtalgen.representations.crystens.config import FIRST_ATOM

    enc = load_encoded(npy)
    z = np.asarray(enc.tensors[:, 0, 0, FIRST_ATOM:])
    return float((z > enc.config.presence_threshold).sum(axis=1).mean())


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    v = float(v)
    if v == 0:
        return "0"
    return f"{v:.2e}" if abs(v) < 1e-2 else f"{v:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", nargs="+", required=True, help="NAME=PATH of crystens-diffusion run folders")
    parser.add_argument("--train", nargs="*", default=[], help="NAME=PATH of encoded training sets (atoms/sample)")
    parser.add_argument("--sampling", nargs="+", default=["ddim:25"], help="SAMPLER:STEPS settings")
    parser.add_argument("--locks", nargs="+", default=["none"], help="occupancy-lock starts; 'none' = off")
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("/work/runs/crystens_sampling"))
    parser.add_argument("--report", type=Path, default=REPO / "docs" / "benchmarks" / "crystens_sampling.md")
    parser.add_argument("--title", default="CrysTens diffusion sampling diagnostics")
    parser.add_argument("--probe", nargs="*", type=int, default=[],
                        help="also run the denoising probe at these timesteps (runs with a --train set)")
    args = parser.parse_args()

    import torch

    from xtalgen.data.atomic import atomic_write
    from xtalgen.pipelines.training import find_checkpoint

    torch.set_num_threads(args.threads)
    runs = dict(item.split("=", 1) for item in args.run)
    trains = dict(item.split("=", 1) for item in args.train)
    locks = [None if v == "none" else float(v) for v in args.locks]
    settings = [(s.split(":")[0], int(s.split(":")[1])) for s in args.sampling]
    args.out.mkdir(parents=True, exist_ok=True)
    results: list[tuple[str, str, int, float | None, dict[str, Any], int]] = []
    for name, path in runs.items():
        ckpt = find_checkpoint(Path(path))
        if ckpt is None:
            raise SystemExit(f"{name}: no checkpoint in {path}")
        step = int(json.loads((ckpt / "state.json").read_text())["step"])
        for sampler, steps in settings:
            for lock in locks:
                lock_tag = "none" if lock is None else f"{lock:g}"
                key = f"{name}_step{step}_{sampler}{steps}_n{args.n}_seed{args.seed}_lock{lock_tag}"
                cache = args.out / f"{key}.json"
                if cache.is_file():
                    row = json.loads(cache.read_text())
                else:
                    print(f"{key} ...", flush=True)
                    row = {"run": str(path), **measure(Path(path), args.n, sampler, steps, lock, args.seed)}
                    with atomic_write(cache) as fh:
                        fh.write(json.dumps(row, indent=1))
                results.append((name, sampler, steps, lock, row, step))
    lines = [
        f"# {args.title}",
        "",
        f"Written by `benchmarks/crystens_sampling.py` on {time.strftime('%Y-%m-%d %H:%M')}; {args.n} samples per "
        f"row, seed {args.seed}, torch {torch.__version__}, {args.threads} thread(s). Means (medians in brackets) "
        "over the raw samples (before mirrored entries are averaged): σ² of the repeated lattice lengths (Å²), "
        "angles (deg²) and space group; Δ coordinate / atom and Σ pairwise / atom (the paper's Table 2). "
        "Lock: occupancy lock start (`xtalgen generate --occupancy-lock`; – = off, 0 = final sample only). "
        "Split: share of samples with a slot that is an atom by its row and empty by its mirrored column. "
        "Gap: mean row-vs-column difference of the angles of real slots (deg). Diff. slope / corr.: the "
        "generated difference layers regressed on the differences of the header coordinates (1 / 1 = consistent).",
        "",
        "| run | step | sampler | lock | σ² lengths | σ² angles | σ² space group | σ² coords | Δ coord / atom "
        "| Σ pairwise / atom | atoms (train) | locked / sample | split | gap | diff. slope / corr. | CPU s / sample |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    train_atoms = {name: training_atoms(Path(path)) for name, path in trains.items()}  # once per set, not per row
    for name, sampler, steps, lock, r, step in results:
        train = f" ({train_atoms[name]:.2f})" if name in train_atoms else ""
        lock_s = "–" if lock is None else f"{lock:g}"
        lines.append(
            f"| {name} | {step} | {sampler} {steps} | {lock_s} | "
            + " | ".join(f"{_fmt(r[k])} ({_fmt(r[k + '_median'])})" for k in KEYS[:3])
            + f" | {_fmt(r['var_frac_coord'])} | {_fmt(r['coord_agreement'])} | {_fmt(r['pairwise_diff_per_atom'])} | "
            f"{r['n_atoms']:.2f}{train} | {_fmt(r.get('slots_locked'))} | {r['split_share']:.3f} | "
            f"{_fmt(r['rowcol_angle_gap'])} | {_fmt(r.get('diff_slope'))} / {_fmt(r.get('diff_corr'))} | "
            f"{r['cpu_seconds'] / args.n:.2f} |"
        )
    if args.probe:
        lines += ["", "## Denoising probe", "",
                  "The first 64 training tensors noised to timestep t and denoised once (self-conditioned models: "
                  "twice, the second pass reading the first estimate, as in sampling). Mean |clean estimate − "
                  "truth| over the present atoms, normalised units: header coordinates, and each pair-block layer "
                  "(0: distances, 1–3: coordinate differences); 'input' = the same for x_t itself.", "",
                  "| run | t | header coords | layer 0 | layer 1 | layer 2 | layer 3 | input: header "
                  "| input: layer 1 |",
                  "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for name, path in runs.items():
            if name not in trains:
                continue
            cache = args.out / f"{name}_probe_{'-'.join(map(str, args.probe))}.json"
            if cache.is_file():
                probe = json.loads(cache.read_text())
            else:
                probe = denoising_probe(Path(path), Path(trains[name]), args.probe, seed=args.seed)
                with atomic_write(cache) as fh:
                    fh.write(json.dumps(probe, indent=1))
            for r in probe:
                cells = [r["estimate_header_coords"], *(r[f"estimate_layer{k}"] for k in range(4)),
                         r["input_header_coords"], r["input_layer1"]]  # fmt: skip
                lines.append(f"| {name} | {r['t']} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    lines += ["", "Runs: " + "; ".join(f"{k} = `{v}`" for k, v in runs.items()) + "."]
    args.report.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.report) as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"report: {args.report}")


if __name__ == "__main__":
    main()

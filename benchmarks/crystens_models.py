"""CrysTens generative models benchmark: GAN, WGAN-GP and diffusion on MP (<= 20 sites) and Perov-5.

For each dataset: encode the training structures as N = 32 CrysTens (MP: train split, <= 20 sites;
Perov-5: the ``val`` file, as the train split is not shipped), train each model with its
``configs/crystens_<kind>_cpu.yaml`` budget (overridable with ``--set``), generate ``--n`` samples,
and report the CrysTens paper's Table 1 (variances of repeated values), Table 2 (coordinate agreement,
pairwise-distance difference) on the raw outputs, the K-S statistics of a, b, c, alpha, beta, gamma,
space group and atomic numbers (generated structures vs the encoded training cells), and times. Two
reference rows run in the same job: the encoded training tensors themselves decoded by the same path
(the representation's ceiling) and PyXtal random symmetric structures (the project baseline).

Everything is resumable: encoded sets, training runs (``resume=True``), generations and evaluations
are kept under ``--out`` and skipped when present. Usage (from the repository root)::

    nohup nice -n 10 python benchmarks/crystens_models.py --out /work/runs/crystens_models \\
        > /work/runs/crystens_models.log 2>&1 &

The report in docs/benchmarks was written with ``--n 1000 --sampling-steps 25 --workers 1 --conditional
--set checkpoint_every=100 tensorboard=false --kind-set gan:max_steps=1000 wgan:max_steps=1000
diffusion:max_steps=900 diffusion_cond:max_steps=3000 diffusion_weighted:max_steps=2000``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
REPO = Path(__file__).resolve().parents[1]
KINDS = ("gan", "wgan", "diffusion")
#: extra diffusion rows (own run folder ``<dataset>/<name>``): the bundled diffusion config plus these overrides;
#: trained when the name is in --variants. "diffusion" itself is pinned to plain MSE without context channels; rows
#: measured before the bundled config switched on model.pair_skip pin it off so they stay what was measured.
DIFFUSION_VARIANTS: dict[str, tuple[str, ...]] = {
    "diffusion": ("model.loss_weights=uniform", "model.min_snr_gamma=0", "model.axis_context=false",
                  "model.pair_skip=false"),
    "diffusion_weighted": ("model.loss_weights=inverse_frequency", "model.min_snr_gamma=0", "model.axis_context=false",
                           "model.pair_skip=false"),
    # the UNet also reads each entry's mirror and its row's / column's consensus (models/crystens/axis_context.py)
    "diffusion_context": ("model.loss_weights=inverse_frequency", "model.min_snr_gamma=0", "model.axis_context=true",
                          "model.pair_skip=false"),
    # ... and reads its previous clean estimate (+ that estimate's header context): self-conditioning
    "diffusion_selfcond": ("model.loss_weights=inverse_frequency", "model.min_snr_gamma=0", "model.axis_context=true",
                           "model.self_condition=true", "model.pair_skip=false"),
    # context model whose pair block is the differences / distances of its own header coordinates plus the UNet's
    # residual (models/crystens/pair_skip.py)
    "diffusion_pairskip": ("model.loss_weights=inverse_frequency", "model.min_snr_gamma=0", "model.axis_context=true",
                           "model.pair_skip=true"),
    # ... trained with plain MSE (the pair block, most of the entries, then weighs most in the loss)
    "diffusion_pairskip_uniform": ("model.loss_weights=uniform", "model.min_snr_gamma=0", "model.axis_context=true",
                                   "model.pair_skip=true"),
}
TABLE1 = ("var_length", "var_angle", "var_spacegroup", "var_frac_coord")
TABLE2 = ("coord_agreement", "pairwise_diff_per_atom")
KS = ("a", "b", "c", "alpha", "beta", "gamma", "spacegroup", "atomic_numbers")
KS_EXTRA = ("nsites",)  # atoms per cell: shown when the evaluations have it (reports with occupancy-lock rows)
PAPER = {  # Alverson et al. 2024, Tables 1 and 2 (PCD, N = 64, their own models and budgets)
    "gan": (582.23, 1338.11, 6322.1, 5.57e-2, 9.62e-2, 3.84),
    "wgan": (31.18, 695.03, 3024.27, 5.9e-2, 1.37e-2, 2.49),
    "diffusion": (3.5e-1, 8.46e-1, 4.56, 4.36e-4, 5.51e-4, 4.73e-1),
}
console = Console()


# ----------------------------------------------------------------------------- data


def _items(dataset: str, max_train: int, seed: int):
    from pymatgen.core import Structure

    if dataset == "mp20":
        cols = ["material_id", "nsites", "split", "cif"]
        frame = pd.read_csv(DATA / "mp" / "mp_structures.csv.gz", usecols=cols)
        frame = frame[(frame["nsites"] <= 20) & (frame["split"] == "train")]
    elif dataset == "perov5":
        frame = pd.read_csv(DATA / "perov_5" / "val.csv.gz", usecols=["material_id", "cif"])
    else:
        raise ValueError(f"unknown dataset {dataset!r}")
    if max_train and len(frame) > max_train:
        frame = frame.sample(n=max_train, random_state=seed).sort_index()
    for row in frame.itertuples(index=False):
        yield str(row.material_id), Structure.from_str(row.cif, fmt="cif")


def section_name(dataset: str, gap: float) -> str:
    """Run folder and report section of a dataset encoded with an empty gap (0: the default scales)."""
    return dataset if gap == 0 else f"{dataset}_gap{gap:g}"


def encoded_set(dataset: str, root: Path, max_train: int, seed: int, workers: int, gap: float = 0.0) -> Path:
    """``root/<section>/train.npy`` (N = 32 CrysTens, empty gap ``gap``), encoded once."""
    from xtalgen.representations.crystens import CrysTensConfig, encode_dataset
    from xtalgen.representations.crystens.encoded_set import sidecar_paths

    section = section_name(dataset, gap)
    out = root / section / "train.npy"
    if not sidecar_paths(out)["config"].is_file():
        t0 = time.perf_counter()
        console.print(f"[bold]{section}[/]: encoding training structures (N = 32)")
        config = CrysTensConfig(size=32).with_empty_gap(gap) if gap else CrysTensConfig(size=32)
        report = encode_dataset(_items(dataset, max_train, seed), out, config, workers=workers)
        _save_json(root / section / "encode.json", {
            "encoded": report.encoded, "skipped": report.counts_by_reason(), "seconds": time.perf_counter() - t0,
        })  # fmt: skip
    return out


def header_frame(tensors: np.ndarray, ct: Any, chunk: int = 4096) -> pd.DataFrame:
    """a, b, c, alpha, beta, gamma, space group and atomic numbers read from encoded tensors (layer 0)."""
    from xtalgen.representations.crystens.config import FIRST_ATOM

    rows: list[dict[str, Any]] = []
    lo, out_lo, slope = ct.header_affine()
    for start in range(0, len(tensors), chunk):
        block = np.asarray(tensors[start : start + chunk, 0, :11, FIRST_ATOM:], dtype=np.float64)
        phys = lo[None, :, None] + (block - out_lo[None, :, None]) / slope[None, :, None]
        present = block[:, 0] > ct.presence_threshold
        for k in range(len(block)):
            cols = np.nonzero(present[k])[0]
            if len(cols) == 0:
                continue
            h = phys[k][:, cols].mean(axis=1)
            rows.append({
                "a": h[4], "b": h[5], "c": h[6], "alpha": h[7], "beta": h[8], "gamma": h[9],
                "spacegroup": int(round(h[10])), "atomic_numbers": np.rint(phys[k][0, cols]).astype(int).tolist(),
                "nsites": len(cols),
            })  # fmt: skip
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- evaluation


def generated_frame(gen_dir: Path) -> pd.DataFrame:
    """Properties of the accepted generated structures (read back from their CIFs)."""
    from pymatgen.core import Structure

    from xtalgen.evaluation.properties import structure_properties

    summary = pd.read_csv(gen_dir / "summary.csv")
    rows = []
    for cif in summary.loc[summary["accepted"].astype(bool), "cif"].dropna():
        try:
            with warnings.catch_warnings():  # noisy outputs give overlapping sites; pymatgen warns per CIF
                warnings.simplefilter("ignore")
                rows.append(structure_properties(Structure.from_file(gen_dir / cif)))
        except Exception:  # unreadable CIF counts as not generated
            continue
    return pd.DataFrame(rows)


def evaluate(gen_dir: Path, reference: pd.DataFrame, plot: Path | None = None) -> dict[str, float]:
    """Table 1/2 means, decoded share, K-S statistics; the distribution plot to ``plot`` (default: the run's)."""
    from xtalgen.evaluation.distributions import distribution_distances

    summary = pd.read_csv(gen_dir / "summary.csv")
    out: dict[str, float] = {"n": float(len(summary)), "decoded": float(summary["accepted"].astype(bool).mean())}
    if "slots_locked" in summary:
        out["slots_locked"] = float(summary["slots_locked"].mean())
    for col in TABLE1 + TABLE2 + ("asymmetry",):
        if col in summary:
            v = pd.to_numeric(summary[col], errors="coerce").to_numpy(float)
            v = v[np.isfinite(v)]
            out[col] = float(v.mean()) if len(v) else float("nan")
    frame = generated_frame(gen_dir)
    dists = distribution_distances(frame, reference)
    if len(frame):  # the paper's Figs. 4-6: generated vs training distributions
        from xtalgen.evaluation.plots import plot_distributions

        plot_distributions(frame, reference, plot or gen_dir.parent / "distributions.png", dists)
    out.update({k.removeprefix("ks."): v for k, v in dists.items() if k.startswith("ks.") and k[3:] in KS + KS_EXTRA})
    return out


# ----------------------------------------------------------------------------- runs


def _save_json(path: Path, data: dict[str, Any]) -> None:
    from xtalgen.data.atomic import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as fh:
        json.dump(data, fh, indent=2)


def config_file(kind: str, args: argparse.Namespace) -> Path:
    """The CPU config of ``kind``: from ``--config-dir`` if given, else the project's bundled one."""
    if args.config_dir is not None:
        return args.config_dir / f"crystens_{kind}_cpu.yaml"
    try:
        from xtalgen.configs import bundled_config

        return bundled_config(f"crystens_{kind}_cpu")
    except ImportError:
        return REPO / "configs" / f"crystens_{kind}_cpu.yaml"


def run_model(
    kind: str, npy: Path, root: Path, args: argparse.Namespace, name: str | None = None, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Train (resumably), generate and time one model; returns timing/throughput facts."""
    from xtalgen.pipelines.crystens.sample import generate_crystens
    from xtalgen.pipelines.crystens.train import load_crystens_config, train_crystens
    from xtalgen.pipelines.training import find_checkpoint

    label = name or kind
    run, facts_path = root / label, root / label / "bench.json"
    facts = json.loads(facts_path.read_text()) if facts_path.is_file() else {}
    cfg_file = config_file(kind, args)
    per_kind = [kv.split(":", 1)[1] for kv in args.kind_set if kv.split(":", 1)[0] == label]
    overrides = [*args.set, *per_kind, *extra, "progress=false", f"data.workers={args.workers}"]
    cfg = load_crystens_config(kind, cfg_file, overrides)
    done = find_checkpoint(run)
    if done is None or json.loads((done / "state.json").read_text())["step"] < cfg.max_steps:
        console.print(f"training {label} in {run} ({cfg.max_steps} steps, batch {cfg.batch_size})")
        t0, c0 = time.perf_counter(), time.process_time()
        train_crystens(kind, npy, cfg_file, run, resume=True, overrides=overrides)
        facts["train_seconds"] = facts.get("train_seconds", 0.0) + time.perf_counter() - t0
        facts["train_cpu_seconds"] = facts.get("train_cpu_seconds", 0.0) + time.process_time() - c0
        facts.update(max_steps=cfg.max_steps, batch_size=cfg.batch_size, overrides=overrides)
        _save_json(facts_path, facts)
    gen = run / "generated"
    if not (gen / "summary.csv").is_file():
        console.print(f"generating {args.n} samples with {label}")
        t0, c0 = time.perf_counter(), time.process_time()
        generate_crystens(args.n, gen, checkpoint=run, seed=args.seed, workers=args.workers, progress=False,
                          sampling_steps=args.sampling_steps)  # fmt: skip
        facts["generate_seconds"] = time.perf_counter() - t0
        facts["generate_cpu_seconds"] = time.process_time() - c0
        _save_json(facts_path, facts)
    return facts


def lock_generation(kind: str, run: Path, args: argparse.Namespace, start: float) -> Path | None:
    """Generate ``--n`` samples from ``run`` with the occupancy lock from ``start`` on (resumable); the folder.

    None for a GAN and ``start`` > 0 (one-step samplers: only the final-sample rule applies).
    """
    if kind != "diffusion" and start != 0:
        return None
    gen = run / f"generated_lock{start:g}"
    facts_path = gen / "bench.json"
    if (gen / "summary.csv").is_file() and facts_path.is_file():
        return gen
    console.print(f"generating {args.n} samples with {run.name}, occupancy lock from {start:g}")
    wall, cpu = timed_generation(args.n, gen, checkpoint=run, seed=args.seed, workers=args.workers,
                                 sampling_steps=args.sampling_steps, occupancy_lock=start)  # fmt: skip
    _save_json(facts_path, {"generate_seconds": wall, "generate_cpu_seconds": cpu})
    return gen


def timed_generation(n: int, gen: Path, **kwargs: Any) -> tuple[float, float]:
    """``generate_crystens(n, gen, progress=False, **kwargs)``; (wall, CPU incl. decoding workers) seconds."""
    import resource

    from xtalgen.pipelines.crystens.sample import generate_crystens

    t0, c0 = time.perf_counter(), time.process_time()
    ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    generate_crystens(n, gen, progress=False, **kwargs)
    ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = (ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime)
    return time.perf_counter() - t0, time.process_time() - c0 + children


def request_matches(summary: pd.DataFrame, formula: str, spacegroup: int) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per row of a generation ``summary.csv``: decoded, decoded with the requested reduced ``formula``, decoded
    with the requested ``spacegroup`` as found by spglib on the decoded structure (the summary's column)."""
    from pymatgen.core import Composition

    ok = summary["accepted"].astype(bool)
    target = Composition(formula).reduced_formula
    reduced = summary["formula"].fillna("").map(lambda f: Composition(f).reduced_formula if f else "")
    same_sg = ok & (pd.to_numeric(summary["spacegroup"], errors="coerce") == spacegroup)
    return ok, ok & (reduced == target), same_sg


def conditional_share(gen_dir: Path, formula: str, spacegroup: int) -> dict[str, float]:
    """Shares of all samples in ``gen_dir``: decoded, ``formula`` (reduced), ``spacegroup`` stated by the
    tensor, found by spglib (symprec 0.1) on the decoded structure, and formula + found group (``both``)."""
    summary = pd.read_csv(gen_dir / "summary.csv")
    ok, same_formula, same_sg = request_matches(summary, formula, spacegroup)
    stated = pd.to_numeric(summary.get("spacegroup_stated"), errors="coerce") == spacegroup
    n = float(len(summary))
    return {"n": n, "decoded": float(ok.sum()) / n, "formula": float(same_formula.sum()) / n,
            "stated": float(stated.sum()) / n, "spacegroup": float(same_sg.sum()) / n,
            "both": float((same_formula & same_sg).sum()) / n}  # fmt: skip


#: rows of the conditional table: (label, run, imputation); run None = the unconditional model's own samples
CONDITIONAL_ROWS = (
    ("unconditional", "diffusion", None),
    ("unconditional + imputation", "diffusion", True),
    ("conditional, guidance only (learned)", "diffusion_cond", False),
    ("conditional, guidance + imputation", "diffusion_cond", True),
)


def _run_step(run: Path) -> int:
    from xtalgen.pipelines.training import find_checkpoint

    return int(json.loads((find_checkpoint(run) / "state.json").read_text())["step"])


def _timed_generation(gen: Path, run: Path, args: argparse.Namespace, **kwargs: Any) -> dict[str, Any]:
    """Generate into ``gen`` unless a generation by the same checkpoint step is there; (wall, CPU) seconds."""
    facts_path, step = gen / "bench.json", _run_step(run)
    facts = json.loads(facts_path.read_text()) if facts_path.is_file() else {}
    if (gen / "summary.csv").is_file() and facts.get("model_step") == step:
        return facts
    wall, cpu = timed_generation(args.n_conditional, gen, checkpoint=run, seed=args.seed, workers=args.workers,
                                 sampling_steps=args.sampling_steps, **kwargs)  # fmt: skip
    facts = {"model_step": step, "wall_seconds": wall, "cpu_seconds": cpu, **kwargs}
    _save_json(facts_path, facts)
    return facts


def run_conditional(npy: Path, root: Path, args: argparse.Namespace, unconditional: Path) -> dict[str, Any]:
    """Train the conditional diffusion model and measure the requested shares for each row of CONDITIONAL_ROWS.

    Guidance only (``impute=False``) shows what the network learned; imputation enforces the space-group and
    atomic-number entries of the request (``xtalgen.models.crystens.imputation``), so its formula share
    measures decoding, and its found-space-group share what the generated geometry supports.
    """
    extra = ("conditioning.enabled=true", *DIFFUSION_VARIANTS["diffusion"])  # trained with plain MSE
    facts = run_model("diffusion", npy, root, args, name="diffusion_cond", extra=extra)
    shares: dict[str, Any] = {}
    for target in args.targets:
        formula, sg = target.split("@")
        shares[target] = {}
        for label, name, impute in CONDITIONAL_ROWS:
            run = root / name
            if impute is None:
                r = conditional_share(unconditional, formula, int(sg))
                r.update(steps=_run_step(run), cost=None)
            else:
                gen = run / f"target_{formula}_{sg}{'_impute' if impute else ''}"
                conditions = {"formula": formula, "spacegroup": int(sg), "impute": impute}
                if name == "diffusion_cond":
                    conditions["guidance_scale"] = args.guidance
                cost = _timed_generation(gen, run, args, **conditions)
                r = conditional_share(gen, formula, int(sg))
                r.update(steps=_run_step(run), cost=cost)
            shares[target][label] = r
    return {**facts, "shares": shares}


def run_references(npy: Path, root: Path, args: argparse.Namespace, items: list) -> None:
    """The encoded training tensors decoded by the same path, and PyXtal random structures."""
    from xtalgen.pipelines.crystens.decode import decode_to_generation
    from xtalgen.pipelines.pyxtal.sample import generate_pyxtal_random
    from xtalgen.representations.crystens import load_encoded

    enc = load_encoded(npy)
    real = root / "encoded_train" / "generated"
    if not (real / "summary.csv").is_file():
        rows = np.sort(np.random.default_rng(args.seed).choice(len(enc.tensors), min(args.n, len(enc.tensors)), False))
        decode_to_generation(np.asarray(enc.tensors[rows]), enc.config, real, label="encoded-train",
                             workers=args.workers, progress=False)  # fmt: skip
    pyx = root / "pyxtal_random" / "generated"
    if not (pyx / "summary.csv").is_file():
        t0 = time.perf_counter()
        generate_pyxtal_random(args.n, pyx, train=items, seed=args.seed, workers=args.workers, progress=False)
        _save_json(root / "pyxtal_random" / "bench.json", {"generate_seconds": time.perf_counter() - t0})


def _fmt(v: Any) -> str:
    if isinstance(v, str):
        return v
    if v is None or not np.isfinite(v):
        return "–"
    return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"


def report(results: dict[str, dict[str, dict[str, Any]]], args: argparse.Namespace, path: Path) -> None:
    load1, _, _ = os.getloadavg()
    # read once per run: the report is rewritten after each dataset, and the first (perov5-only) write drops it
    kept = _KEPT_BLOCKS.setdefault(str(path), _kept_block(path))
    import torch

    lines = [
        f"# {args.title}",
        "",
        f"Written by `benchmarks/crystens_models.py` on {time.strftime('%Y-%m-%d %H:%M')}; machine: "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores (shared; load average "
        f"{load1:.1f} at the end), torch {torch.__version__}, {torch.get_num_threads()} threads. Budgets: "
        f"`configs/crystens_<kind>_cpu.yaml`{' with ' + ' '.join(args.set) if args.set else ''}"
        f"{'; per model: ' + ' '.join(args.kind_set) if args.kind_set else ''}; "
        f"{args.n} samples per model, seed {args.seed}. N = 32 CrysTens (<= 20 atoms).",
        "",
        "Tables 1 and 2 are means over the generated tensors of the raw model output (before mirrored entries "
        "are averaged), in physical units (Å², deg², fractional). 'encoded train' decodes real encoded tensors "
        "through the same path (the representation's ceiling). The paper's values (PCD, N = 64, their models and "
        "budgets) are shown for orientation only. K–S: generated structures vs the encoded training cells; "
        "'decoded' = fraction of samples that gave a structure. Diffusion rows: `diffusion` and `diffusion_cond` "
        "are trained with plain MSE; `diffusion_weighted` with per-entry loss weights "
        f"({', '.join(f'`{o}`' for o in DIFFUSION_VARIANTS['diffusion_weighted'])}: every entry type — Z, "
        "coordinates, lengths, angles, space group, pair block, always-empty — gets the same total weight; "
        "docs/models/crystens.md); `diffusion_context` adds context input channels "
        f"({', '.join(f'`{o}`' for o in DIFFUSION_VARIANTS['diffusion_context'])}: each entry's mirror and its row's "
        "and column's consensus over the atom slots, `models/crystens/axis_context.py`); `diffusion_selfcond` "
        "also reads its own previous clean-tensor estimate and, at every (i, j), that estimate's header entries of "
        "row i and column j (self-conditioning, Chen et al. ICLR 2023; `model.self_condition=true`); "
        "`diffusion_pairskip` is the context model whose x0 estimate's pair block is the differences and fractional "
        "distances of its own header coordinates plus the UNet's residual (`model.pair_skip=true`, "
        "`models/crystens/pair_skip.py`) — an architectural tie, so its Table 2 measures the residual the network "
        "learned rather than arithmetic it learned; `diffusion_pairskip_uniform` is the same model trained with plain "
        "MSE (`model.loss_weights=uniform`). Steps per row: see Cost.",
    ]
    if args.occupancy_lock:
        lines += ["", "Rows '<model> + lock <start>': the same trained model sampled with the occupancy lock "
                  "(`xtalgen generate --occupancy-lock <start>`, `models/crystens/occupancy_lock.py`): slots whose Z "
                  "entries are above the presence threshold but whose header is nearer an empty slot than an atom "
                  "(lattice and space-group copies at the fill value) are set empty, from that fraction of the noise "
                  "schedule on (diffusion) or in the final sample only (start 0; the one option for the one-step "
                  "GANs). The rows without a lock are the raw models. 'slots locked / sample': slots emptied per "
                  "sample; nsites: K–S of atoms per cell."]
    if not args.models:
        lines += ["", "Only diffusion variants were run for this report; the GAN, WGAN-GP and plain-MSE diffusion rows "
                  "on the same data and budgets are in the CrysTens generative models benchmark "
                  "(`docs/benchmarks/crystens_models.md`), those with the occupancy lock in "
                  "`docs/benchmarks/crystens_occupancy_lock.md`."]
    for dataset, rows in results.items():
        lines += ["", f"## {dataset}"]
        if "_gap" in dataset:
            gap = dataset.split("_gap", 1)[1]
            lines += ["", f"The same training structures encoded with `CrysTensConfig.with_empty_gap({gap})` "
                      f"(`xtalgen crystens encode --empty-gap {gap}`): every quantity is mapped onto "
                      f"[−1 + {gap}, 1], so a filled entry is never within {gap} of the empty value −1 (with the "
                      "default scales, coordinates 0, zero differences and self-distances sit on it and 5 Å "
                      "lengths at −0.83). Same models, configs and budgets; the reference rows (encoded train, "
                      "PyXtal) do not depend on the encoding and are in the section above."]
        locked = any("slots_locked" in r for r in rows.values())
        lines += ["", "### Table 1: variance of repeated values", ""]
        lines += ["| model | σ² a,b,c (Å²) | σ² angles (deg²) | σ² space group | σ² frac. coords | decoded |"
                  + (" slots locked / sample |" if locked else ""),
                  "|---|---|---|---|---|---|" + ("---|" if locked else "")]  # fmt: skip
        for name, r in rows.items():
            lines.append(
                f"| {name} | "
                + " | ".join(_fmt(r.get(c, float("nan"))) for c in TABLE1)
                + f" | {_fmt(r.get('decoded'))} |"
                + (f" {_fmt(r.get('slots_locked', float('nan')))} |" if locked else "")
            )
        for kind in KINDS:
            p = PAPER[kind]
            tail = " | – |" + (" – |" if locked else "")
            lines.append(f"| paper {kind} | " + " | ".join(_fmt(x) for x in p[:4]) + tail)
        lines += ["", "### Table 2: coordinate agreement and pairwise-distance difference", "",
                  "| model | Δ coordinate / atom | Σ pairwise / atom | asymmetry |", "|---|---|---|---|"]  # fmt: skip
        for name, r in rows.items():
            lines.append(
                f"| {name} | " + " | ".join(_fmt(r.get(c, float("nan"))) for c in (*TABLE2, "asymmetry")) + " |"
            )
        for kind in KINDS:
            lines.append(f"| paper {kind} | {_fmt(PAPER[kind][4])} | {_fmt(PAPER[kind][5])} | – |")
        ks = KS + tuple(k for k in KS_EXTRA if any(k in r for r in rows.values()))
        lines += ["", "### K–S statistic vs training cells (lower is closer)", "",
                  "| model | " + " | ".join(ks) + " |", "|---" * (len(ks) + 1) + "|"]  # fmt: skip
        for name, r in rows.items():
            lines.append(f"| {name} | " + " | ".join(_fmt(r.get(k, float("nan"))) for k in ks) + " |")
        cond = rows.get("diffusion_cond", {}).get("shares")
        if cond:
            lines += _conditional_lines(cond, args)
        if dataset == "mp20":
            lines += kept
        lines += [
            "",
            "Plots (generated vs training cells, the paper's Figs. 4–6): "
            + ", ".join(f"[{n}]({path.stem}/{dataset}_{_plot_name(n)}.png)" for n in rows),
        ]
        lines += ["", "### Cost", "", "Wall time under shared load; CPU time of the process (where recorded).", "",
                  "| model | steps × batch | train wall (min) | train CPU (min) | generate wall (s) "
                  "| generate CPU (s) |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for name, r in rows.items():
            steps = f"{r['max_steps']} × {r['batch_size']}" if "max_steps" in r else "–"
            train = r["train_seconds"] / 60 if "train_seconds" in r else float("nan")
            train_cpu = r["train_cpu_seconds"] / 60 if "train_cpu_seconds" in r else float("nan")
            lines.append(f"| {name} | {steps} | {_fmt(train)} | {_fmt(train_cpu)} | "
                         f"{_fmt(r.get('generate_seconds', float('nan')))} | "
                         f"{_fmt(r.get('generate_cpu_seconds', float('nan')))} |")  # fmt: skip
    from xtalgen.data.atomic import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as fh:
        fh.write("\n".join(lines) + "\n")


_KEPT_BLOCKS: dict[str, list[str]] = {}


def _kept_block(path: Path) -> list[str]:
    """The symmetry-projection table that ``benchmarks/crystens_symmetry_projection.py`` wrote into the report
    (between its markers), kept when this script rewrites the file."""
    start, end = "<!-- symmetry-projection:start -->", "<!-- symmetry-projection:end -->"
    text = path.read_text() if path.is_file() else ""
    if start not in text or end not in text:
        return []
    block = start + text.split(start, 1)[1].split(end, 1)[0] + end
    return ["", *block.split("\n")]


def _conditional_lines(cond: dict[str, Any], args: argparse.Namespace) -> list[str]:
    lines = ["", "### Conditional generation: share of samples with the requested formula and space group", "",
             f"{args.n_conditional} samples per request and row (seed {args.seed}, {args.sampling_steps or 'config'} "
             f"DDIM steps), except 'unconditional': the {args.n} unconditional samples above, whatever the request. "
             f"`diffusion_cond` is the diffusion config with `conditioning.enabled=true` (space-group embedding + "
             f"composition MLP added to the time embedding), sampled with classifier-free guidance {args.guidance}. "
             "**Guidance only** is what the network learned. **Imputation** (`xtalgen generate --impute`, "
             "`xtalgen.models.crystens.imputation`) overwrites the entries the request fixes — the space-group and "
             "atomic-number entries of the cell's atoms (NaCl and GaAs: 4 formula units, SrTiO3: 1; smallest "
             "Wyckoff-compatible cell) and the empty slots — in every step's x0 estimate: it *enforces* the stated "
             "space group and the atoms, so its formula share measures only whether the sample decodes; the space "
             "group *found* by spglib still depends on the generated lattice and coordinates. Shares are over all "
             "samples (undecodable ones count as misses): decoded; reduced formula equal to the request; space "
             "group stated by the tensor; space group found by spglib (symprec 0.1) on the decoded structure; "
             "formula and found group both. Steps = training steps of the model; cost = sampling + decoding of the "
             "row's samples (wall under shared load, and CPU incl. decoding workers).", "",
             "| request | model | training steps | decoded | formula | group stated | group found | both | "
             "wall (s) | CPU (s) |", "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for target, by_row in cond.items():
        for label, r in by_row.items():
            if "stated" not in r:  # an older cache without the new columns
                continue
            cost = r.get("cost") or {}
            lines.append(f"| {target.replace('@', ' in ')} | {label} | {r['steps']} | {r['decoded']:.1%} | "
                         f"{r['formula']:.1%} | {r['stated']:.1%} | {r['spacegroup']:.1%} | {r['both']:.1%} | "
                         f"{_fmt(cost.get('wall_seconds'))} | {_fmt(cost.get('cpu_seconds'))} |")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/work/runs/crystens_models"))
    parser.add_argument("--report", type=Path, default=REPO / "docs" / "benchmarks" / "crystens_models.md")
    parser.add_argument("--title", default="CrysTens generative models benchmark", help="the report's heading")
    parser.add_argument("--datasets", nargs="+", default=["perov5", "mp20"], choices=["perov5", "mp20"])
    parser.add_argument("--empty-gaps", nargs="+", type=float, default=[0.0],
                        help="also encode each dataset with these empty gaps (own section each; 0 = default scales)")
    parser.add_argument("--models", nargs="*", default=list(KINDS), choices=list(KINDS),
                        help="base models (none: only the --variants rows)")
    parser.add_argument("--n", type=int, default=1000, help="samples generated per model")
    parser.add_argument("--max-train", type=int, default=0, help="cap on training structures (0 = all)")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides for every model, key=value")
    parser.add_argument("--kind-set", nargs="*", default=[], help="per-model overrides, e.g. diffusion:max_steps=900")
    parser.add_argument("--config-dir", type=Path, default=None, help="folder with crystens_<kind>_cpu.yaml")
    parser.add_argument("--sampling-steps", type=int, default=None, help="diffusion sampling steps (config default)")
    parser.add_argument("--variants", nargs="*", default=[v for v in DIFFUSION_VARIANTS if v != "diffusion"],
                        choices=[v for v in DIFFUSION_VARIANTS if v != "diffusion"],
                        help="extra diffusion rows (loss weighting, context channels), each in its own run folder")
    parser.add_argument("--occupancy-lock", nargs="*", type=float, default=[],
                        help="also generate every model with the occupancy lock from these fractions of the schedule "
                        "on (GANs: 0 only, the final-sample rule); rows '<model> + lock <start>'")
    parser.add_argument("--conditional", action="store_true", help="also train/measure conditional diffusion (mp20)")
    parser.add_argument("--targets", nargs="*", default=["SrTiO3@221", "NaCl@225", "GaAs@216"])
    parser.add_argument("--n-conditional", type=int, default=200)
    parser.add_argument("--guidance", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()

    import torch

    from xtalgen.representations.crystens import load_encoded

    torch.set_num_threads(args.threads)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for dataset, gap in [(d, g) for d in args.datasets for g in args.empty_gaps]:
        section = section_name(dataset, gap)
        root = args.out / section
        npy = encoded_set(dataset, args.out, args.max_train, args.seed, args.workers, gap)
        enc = load_encoded(npy)
        reference = header_frame(enc.tensors, enc.config)
        rows: dict[str, dict[str, Any]] = {}
        if gap == 0:  # the reference rows do not depend on the encoding: once per dataset
            cap = min(args.max_train or 5000, 5000)  # PyXtal draws compositions/space groups from these
            items = list(_items(dataset, cap, args.seed))
            run_references(npy, root, args, items)
            for name in ("encoded_train", "pyxtal_random"):
                facts_file = root / name / "bench.json"
                facts = json.loads(facts_file.read_text()) if facts_file.is_file() else {}
                rows[name.replace("_", " ")] = {**facts, **_cached_eval(root / name, reference)}
        models = [(kind, kind, DIFFUSION_VARIANTS.get(kind, ())) for kind in args.models]
        models += [("diffusion", name, DIFFUSION_VARIANTS[name]) for name in args.variants]
        for kind, name, extra in models:
            facts = run_model(kind, npy, root, args, name=name, extra=extra)
            rows[name] = {**facts, **_cached_eval(root / name, reference)}
            for start in args.occupancy_lock:
                gen = lock_generation(kind, root / name, args, start)
                if gen is not None:
                    lock_facts = json.loads((gen / "bench.json").read_text())
                    rows[f"{name} + lock {start:g}"] = {**lock_facts, **_cached_eval(root / name, reference, gen.name)}
        if args.conditional and section == "mp20" and "diffusion" in args.models:
            facts = run_conditional(npy, root, args, root / "diffusion" / "generated")
            rows["diffusion_cond"] = {**facts, **_cached_eval(root / "diffusion_cond", reference)}
        _copy_plots(root, section, rows, args.report)
        results[section] = rows
        report(results, args, args.report)
        console.print(f"[green]{section} done[/]; report: {args.report}")


def _plot_name(name: str) -> str:
    """File-name form of a report row: 'diffusion + lock 0.5' -> 'diffusion_lock0.5'."""
    return name.replace(" + lock ", "_lock").replace(" ", "_")


def _run_and_generation(name: str) -> tuple[str, str]:
    """(run folder, generation folder) of a report row."""
    run, _, start = name.partition(" + lock ")
    return run.replace(" ", "_"), f"generated_lock{start}" if start else "generated"


def _copy_plots(root: Path, dataset: str, rows: dict[str, Any], report: Path) -> None:
    import shutil

    target = report.parent / report.stem  # plots next to their report, in a folder of its name
    target.mkdir(parents=True, exist_ok=True)
    for name in rows:
        run, gen = _run_and_generation(name)
        png = root / run / ("distributions.png" if gen == "generated" else f"distributions_{gen}.png")
        if png.is_file():
            shutil.copyfile(png, target / f"{dataset}_{_plot_name(name)}.png")


def _cached_eval(run: Path, reference: pd.DataFrame, gen: str = "generated") -> dict[str, float]:
    """Evaluation of ``run/gen`` (kept in ``eval.json`` / ``eval_<gen>.json``, redone when the samples are newer)."""
    path = run / ("eval.json" if gen == "generated" else f"eval_{gen}.json")
    if path.is_file() and path.stat().st_mtime >= (run / gen / "summary.csv").stat().st_mtime:
        return json.loads(path.read_text())
    plot = None if gen == "generated" else run / f"distributions_{gen}.png"
    result = evaluate(run / gen, reference, plot)
    _save_json(path, result)
    return result


if __name__ == "__main__":
    main()

"""CrysTens diffusion: share of samples with a requested formula AND space group, with and without the
symmetry-constrained sampler (``xtalgen.models.crystens.symmetry_projection``).

Rows per request (formula@group): the unconditional MP-20 diffusion model sampled plainly (one shared set
of samples: its share is the baseline the request is compared with), unconditional + imputation +
projection, the conditional model (shipped ``crystens-diffusion-mp20``) with guidance only, + imputation,
+ imputation + projection. Columns: shares of all samples with the requested reduced formula, with the
requested space group found by spglib (symprec 0.1 Å) on the decoded structure, with both, with both and
no contact shorter than 0.5 (r_i + r_j) (``xtalgen.postprocess.filters.check_min_distance``); median
last-step projection displacement (Å); median volume per atom of the samples with the formula vs the MP-20 value of
that compound in that group (``/work/runs/mp_le20.parquet``), and wall / CPU seconds per row.

Resumable: every generation lives in ``--out/<row>/<request>/`` and is skipped when its ``bench.json``
exists. The table replaces the block between the markers in ``docs/benchmarks/crystens_models.md``
(``benchmarks/crystens_models.py`` keeps that block when it rewrites the file). Usage::

    OMP_NUM_THREADS=1 nohup nice -n 10 python benchmarks/crystens_symmetry_projection.py \\
        > /work/runs/crystens_symmetry.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
START = "<!-- symmetry-projection:start -->"
END = "<!-- symmetry-projection:end -->"
TARGETS = ("SrTiO3@221", "NaCl@225", "GaAs@216", "TiO2@136", "ZnO@186")
#: (row label, model: "uncond"/"cond", conditions (None: unconditional samples shared by all requests))
ROWS: tuple[tuple[str, str, dict[str, Any] | None], ...] = (
    ("unconditional", "uncond", None),
    ("unconditional + imputation + projection", "uncond", {"impute": True, "project_symmetry": True}),
    ("conditional, guidance only", "cond", {"impute": False}),
    ("conditional + imputation", "cond", {"impute": True, "project_symmetry": False}),
    ("conditional + imputation + projection", "cond", {"impute": True, "project_symmetry": True}),
)


def _slug(label: str) -> str:
    return label.replace(" + ", "_").replace(", ", "_").replace(" ", "_")


def generate(gen: Path, checkpoint: Path, args: argparse.Namespace, **kwargs: Any) -> dict[str, Any]:
    """Generate into ``gen`` unless done; {wall_seconds, cpu_seconds (incl. decoding workers)}."""
    from crystens_models import timed_generation

    facts_path = gen / "bench.json"
    if facts_path.is_file() and (gen / "summary.csv").is_file():
        return json.loads(facts_path.read_text())
    wall, cpu = timed_generation(args.n, gen, checkpoint=checkpoint, seed=args.seed, sampling_steps=args.steps,
                                 guidance_scale=args.guidance, workers=args.workers, **kwargs)  # fmt: skip
    facts = {"wall_seconds": wall, "cpu_seconds": cpu, "checkpoint": str(checkpoint), **kwargs}
    gen.mkdir(parents=True, exist_ok=True)
    facts_path.write_text(json.dumps(facts, indent=2) + "\n")
    return facts


def shares(gen: Path, formula: str, spacegroup: int) -> dict[str, float]:
    """Shares of all samples in ``gen`` (undecodable ones count as misses) and medians (see module doc)."""
    from crystens_models import request_matches
    from pymatgen.core import Structure

    from xtalgen.postprocess.filters import check_min_distance

    summary = pd.read_csv(gen / "summary.csv")
    ok, same_formula, same_sg = request_matches(summary, formula, spacegroup)
    both = same_formula & same_sg
    clear, vpa = [], []
    for row, is_both in zip(summary[same_formula].itertuples(), both[same_formula], strict=True):
        try:
            s = Structure.from_file(gen / str(row.cif))
        except ValueError:  # a degenerate generated cell that pymatgen's CIF parser rejects
            if is_both:
                clear.append(False)
            continue
        vpa.append(s.volume / len(s))
        if is_both:
            clear.append(check_min_distance(s, 0.5).passed)
    n = float(len(summary))
    choices = summary["wyckoff"].value_counts() if "wyckoff" in summary else pd.Series(dtype=int)
    top = f"{choices.index[0]} ({choices.iloc[0] / n:.0%})" if len(choices) else "–"
    nan = pd.Series([np.nan] * len(summary))
    rms = pd.to_numeric(summary.get("projection_rms_displacement", nan), errors="coerce")
    mx = pd.to_numeric(summary.get("projection_max_displacement", nan), errors="coerce")
    return {"n": n, "decoded": float(ok.sum()) / n, "formula": float(same_formula.sum()) / n,
            "spacegroup": float(same_sg.sum()) / n, "both": float(both.sum()) / n,
            "both_clear": float(sum(clear)) / n,
            "rms_displacement": float(rms.median()) if rms.notna().any() else float("nan"),
            "max_displacement": float(mx.median()) if mx.notna().any() else float("nan"),
            "volume_per_atom": float(np.median(vpa)) if vpa else float("nan"), "wyckoff": top}  # fmt: skip


def mp_volume_per_atom(path: Path, formula: str, spacegroup: int) -> float:
    """Median volume per atom (Å³) of the MP-20 entries with that reduced formula and space group (nan if none)."""
    from pymatgen.core import Composition

    if not path.is_file():
        return float("nan")
    frame = pd.read_parquet(path, columns=["formula", "spacegroup", "volume", "nsites"])
    target = Composition(formula).reduced_formula
    hit = frame[(frame["formula"] == target) & (frame["spacegroup"] == spacegroup)]
    return float((hit["volume"] / hit["nsites"]).median()) if len(hit) else float("nan")


def _pct(v: float) -> str:
    return f"{v:.1%}"


def _num(v: Any, fmt: str = "{:.3g}") -> str:
    return "–" if v is None or not np.isfinite(v) else fmt.format(v)


def table(results: dict[str, dict[str, dict[str, Any]]], args: argparse.Namespace) -> list[str]:
    lines = [
        START,
        "### Symmetry-constrained sampling: requested formula and space group",
        "",
        f"Written by `benchmarks/crystens_symmetry_projection.py` on {time.strftime('%Y-%m-%d %H:%M')}. "
        f"{args.n} samples per request and row (seed {args.seed}, {args.steps} DDIM steps, guidance "
        f"{args.guidance} for the conditional model); 'unconditional' is one set of {args.n} unconditional "
        f"samples scored against every request. Models: unconditional = `{args.uncond}`, conditional = "
        f"`{args.cond}`. **Projection** (`xtalgen generate --project-symmetry`, "
        "`xtalgen.models.crystens.symmetry_projection`) projects every step's x0 estimate onto the requested "
        "group: lattice onto its crystal system, each element's atoms onto the orbits of a Wyckoff assignment of "
        "the cell (best of PyXtal's compatible assignments per sample and step), written back with the "
        "encoder. **The space group of the projected rows comes from this constraint, not from the learned "
        "conditioning**; the model contributes the lattice size, the free Wyckoff parameters and which "
        "assignment is nearest. Shares are over all samples (undecodable ones count as misses): formula = "
        "reduced formula equals the request; group = spglib (symprec 0.1 Å) finds the requested group in the "
        "decoded structure; both; both + no contact < 0.5 (r_i + r_j) (`check_min_distance`). Displacement: "
        "median over samples of the RMS / max distance (Å) the last step's projection moved the model's "
        "atoms. V/atom: median volume per atom (Å³) of the samples with the requested formula, next to the "
        "MP-20 value of that compound in that group (median over entries; – if none). Wyckoff: the most "
        "frequent assignment of the last step (Z:site per element) and its share. Wall time under shared "
        "load; CPU includes the decoding workers.",
        "",
        "| request | row | formula | group | both | both + distances | displacement RMS / max (Å) | "
        "V/atom (Å³) gen / MP | Wyckoff | wall (s) | CPU (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for target, rows in results.items():
        for label, r in rows.items():
            cost = r.get("cost") or {}
            lines.append(
                f"| {target.replace('@', ' in ')} | {label} | {_pct(r['formula'])} | {_pct(r['spacegroup'])} | "
                f"{_pct(r['both'])} | {_pct(r['both_clear'])} | {_num(r['rms_displacement'])} / "
                f"{_num(r['max_displacement'])} | {_num(r['volume_per_atom'])} / {_num(r['mp_volume_per_atom'])} | "
                f"{r.get('wyckoff', '–')} | "
                f"{_num(cost.get('wall_seconds'))} | {_num(cost.get('cpu_seconds'))} |"
            )
    return [*lines, END]


def write_block(report: Path, lines: list[str]) -> None:
    """Replace the marked block of ``report`` (or append it) with ``lines``."""
    from xtalgen.data.atomic import atomic_write

    text = report.read_text() if report.is_file() else ""
    block = "\n".join(lines)
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with atomic_write(report) as fh:
        fh.write(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/work/runs/crystens_symmetry"))
    parser.add_argument("--report", type=Path, default=REPO / "docs" / "benchmarks" / "crystens_models.md")
    parser.add_argument("--uncond", type=Path, default=Path("/work/runs/crystens_models/mp20/diffusion"))
    parser.add_argument("--cond", default="crystens-diffusion-mp20", help="run folder or shipped model name")
    parser.add_argument("--mp", type=Path, default=Path("/work/runs/mp_le20.parquet"))
    parser.add_argument("--targets", nargs="*", default=list(TARGETS))
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--guidance", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    cond = Path(args.cond)
    if not cond.exists():
        from xtalgen.pretrained import pretrained_checkpoint

        cond = pretrained_checkpoint(args.cond)
    models = {"uncond": args.uncond, "cond": cond}
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for target in args.targets:
        formula, sg = target.split("@")
        results[target] = {}
        for label, model, conditions in ROWS:
            if conditions is None:
                gen = args.out / _slug(label)
                cost = generate(gen, models[model], args)
            else:
                gen = args.out / _slug(label) / f"{formula}_{sg}"
                cost = generate(gen, models[model], args, spacegroup=int(sg), formula=formula, **conditions)
            r = shares(gen, formula, int(sg))
            r["mp_volume_per_atom"] = mp_volume_per_atom(args.mp, formula, int(sg))
            r["cost"] = cost if conditions is not None or target == args.targets[0] else None
            results[target][label] = r
            print(f"{target} | {label}: formula {r['formula']:.1%}, group {r['spacegroup']:.1%}, "
                  f"both {r['both']:.1%}, clear {r['both_clear']:.1%}", flush=True)  # fmt: skip
        write_block(args.report, table(results, args))
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()

"""Calibrate the post-processing thresholds on real Materials Project structures.

For a random sample of MP structures (shared dataset), report the distribution of
  * the smallest d_ij / (r_i + r_j) over all atom pairs (the distance filter's ratio, filters.py),
  * the smallest same-element distance divided by the atomic radius r (the merge threshold, merge.py),
so that the filter factor f and the merge factor can be chosen so that real crystals pass.

Usage: python benchmarks/pgcgm_postprocess_calibration.py [--n 5000] [--seed 0] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Structure
from rich.progress import track

from xtalgen.data.radii import atomic_radius
from xtalgen.postprocess.filters import min_distance_ratio, shortest_lattice_vector

MP = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "mp" / "mp_structures.csv.gz"


def same_element_ratio(s: Structure) -> float:
    """min over same-element pairs (incl. self-images) of d / r."""
    symbols = np.array([site.specie.symbol for site in s])
    best = np.inf
    lvec = shortest_lattice_vector(s.lattice)
    frac = np.asarray(s.frac_coords)
    for sym in set(symbols):
        r = atomic_radius(sym)
        best = min(best, lvec / r)
        idx = np.flatnonzero(symbols == sym)
        if len(idx) > 1:
            d = np.asarray(s.lattice.get_all_distances(frac[idx], frac[idx]))
            np.fill_diagonal(d, np.inf)
            best = min(best, d.min() / r)
    return float(best)


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    df = pd.read_csv(MP, usecols=["material_id", "pretty_formula", "cif"])
    df = df.sample(n=min(args.n, len(df)), random_state=args.seed)
    t0 = time.perf_counter()
    rows = []
    for r in track(df.itertuples(), total=len(df), description="structures"):
        s = Structure.from_str(r.cif, fmt="cif")
        ratio, where = min_distance_ratio(s)
        rows.append((r.material_id, r.pretty_formula, ratio, where, same_element_ratio(s)))
    res = pd.DataFrame(rows, columns=["id", "formula", "pair_ratio", "where", "same_ratio"])
    qs = [0.0, 0.001, 0.005, 0.01, 0.05, 0.5]
    lines = [
        f"Sample: {len(res)} random MP structures (seed {args.seed}); {time.perf_counter() - t0:.0f} s.",
        "",
        "| quantile | min d_ij/(r_i+r_j) | min same-element d/r |",
        "|---|---|---|",
    ]
    for q in qs:
        lines.append(f"| {q:g} | {res.pair_ratio.quantile(q):.3f} | {res.same_ratio.quantile(q):.3f} |")
    for f in (0.4, 0.5, 0.6, 0.7):
        lines.append(f"\nFraction passing d_ij ≥ {f}·(r_i+r_j): {(res.pair_ratio >= f).mean():.4f}")
    worst = res.nsmallest(8, "pair_ratio")
    lines.append("\nLowest pair ratios: " + "; ".join(
        f"{w.id} {w.formula} {w.pair_ratio:.3f} ({w.where})" for w in worst.itertuples()))
    worst = res.nsmallest(8, "same_ratio")
    lines.append("\nLowest same-element d/r: " + "; ".join(
        f"{w.id} {w.formula} {w.same_ratio:.3f}" for w in worst.itertuples()))
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

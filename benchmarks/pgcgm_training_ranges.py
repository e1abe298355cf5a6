"""Ranges of the PGCGM training materials behind the generation filters' defaults.

Usage: python benchmarks/pgcgm_training_ranges.py --data /work/runs/mp_ternary_le20.parquet
Writes docs/benchmarks/pgcgm_training_ranges.md: per training material (the split the shipped model used),
the atoms per reduced formula, the smallest contact d_ij / (r_i + r_j) (xtalgen's radii, the quantity the
distance filter tests) and the number of sites of the spglib primitive cell (symprec 0.1 Å), with the
percentiles the defaults of ``generate_pgcgm`` are read from (formula ≤ 99th percentile, contact ≥ 1st
percentile, primitive cell ≤ maximum).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Lattice, Structure

from xtalgen.postprocess.candidates import primitive_from_dataset
from xtalgen.postprocess.filters import check_min_distance, symmetry_dataset

REPO = Path(__file__).resolve().parents[1]
QUANTILES = (0.001, 0.01, 0.05, 0.5, 0.95, 0.99, 1.0)


def material_ranges(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per material: formula_atoms, min_contact_ratio, primitive_sites."""
    rows = []
    for row in frame.itertuples():
        s = Structure(Lattice(np.reshape(row.lattice, (3, 3))), [int(z) for z in row.numbers],
                      np.reshape(row.frac_coords, (-1, 3)))  # fmt: skip
        values = check_min_distance(s).values
        ds = symmetry_dataset(s, 0.1)
        prim = len(primitive_from_dataset(s, ds)) if ds is not None else np.nan
        rows.append({"id": row.id, "formula_atoms": s.composition.reduced_composition.num_atoms,
                     "min_contact_ratio": min(values["min_ratio_same_element"], values["min_ratio_other_elements"]),
                     "primitive_sites": prim})  # fmt: skip
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="prepared MP-ternary parquet (with a split column)")
    ap.add_argument("--split", default="train")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks" / "pgcgm_training_ranges.md")
    args = ap.parse_args()
    frame = pd.read_parquet(args.data)
    frame = frame[frame["split"] == args.split]
    wall, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    table = material_ranges(frame)
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
    wall = time.perf_counter() - wall
    lines = [
        "# PGCGM training ranges behind the generation defaults",
        "",
        f"Written by `benchmarks/pgcgm_training_ranges.py --data {args.data.name}` on {time.strftime('%Y-%m-%d')}: "
        f"{len(table):,} materials of the `{args.split}` split ({cpu_s:.0f} CPU-s, {wall:.0f} s wall).",
        "",
        "| quantity | " + " | ".join(f"q{q:g}" for q in QUANTILES) + " |",
        "|---|" + "---|" * len(QUANTILES),
    ]
    for col in ("formula_atoms", "min_contact_ratio", "primitive_sites"):
        qs = table[col].quantile(list(QUANTILES)).to_numpy()
        lines.append(f"| {col} | " + " | ".join(f"{q:.3g}" for q in qs) + " |")
    lines += [
        "",
        "Defaults of `generate_pgcgm` / `xtalgen generate` read from this table: `--max-formula-atoms 10` (99th "
        "percentile of atoms per reduced formula), `--distance-factor 0.73` (1st percentile of the smallest "
        "contact ratio, measured after volume rescaling on the generated cells), `--max-primitive-sites 20` "
        "(largest primitive cell). What they do to stability is measured in "
        "[PGCGM generation defaults](pgcgm_generation_defaults.md).",
    ]
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

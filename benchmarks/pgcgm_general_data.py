"""Encode the MP <= 20-site training split as base sites: measure K_max and write the general PGCGM's data.

Reads ``../shared/datasets/mp/mp_structures.csv.gz``, keeps one split (default train) with at most
``--max-sites`` sites, encodes every structure as base sites (spglib, symprec 0.1, standard setting), and

* prints and writes (``--report``) how many base sites (K) and distinct elements the structures have:
  the cumulative share covered by K <= k for every k, and the smallest K_max covering >= 95 %;
* writes the materials with K <= K_max, 1..5 elements and elements the model has features/radii for, as a
  base-site table (``xtalgen.representations.basesites.table``) that ``xtalgen train pgcgm`` reads directly.

Usage: python benchmarks/pgcgm_general_data.py [--out /work/main/.gpu/pgcgm_general_train.parquet]
       [--limit N] [--workers 2] [--coverage 0.95]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pandas as pd

from xtalgen.data.elements import element_features
from xtalgen.data.fast_cif import parse_p1_cif
from xtalgen.data.radii import atomic_radius
from xtalgen.representations.basesites.encode import BaseSites, encode_structure
from xtalgen.representations.basesites.table import write_base_site_table

REPO = Path(__file__).resolve().parents[1]
MP = REPO.parent / "shared" / "datasets" / "mp" / "mp_structures.csv.gz"


def _encode(item: tuple[str, str]) -> BaseSites | str:
    material_id, cif = item
    structure = parse_p1_cif(cif)
    if structure is None:
        from pymatgen.core import Structure

        structure = Structure.from_str(cif, fmt="cif")
    try:
        return encode_structure(structure, symprec=0.1, id=material_id)
    except ValueError as exc:
        return f"{material_id}: {exc}"


def _supported(base: BaseSites) -> bool:
    try:
        for sp in set(base.species):
            element_features(sp)
            atomic_radius(sp)
    except ValueError:
        return False
    return True


def coverage_lines(k_counts: Counter, n: int, target: float) -> tuple[list[str], int]:
    """Markdown rows of the cumulative K coverage and the smallest K reaching ``target``."""
    lines = ["| K (base sites) | materials | cumulative share |", "|---|---|---|"]
    cum, k_max = 0, max(k_counts)
    chosen = None
    for k in range(1, max(k_counts) + 1):
        cum += k_counts.get(k, 0)
        share = cum / n
        if chosen is None and share >= target:
            chosen = k
        if k <= 24:
            lines.append(f"| {k} | {k_counts.get(k, 0)} | {100 * share:.2f} % |")
    return lines, chosen or k_max


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("/work/main/.gpu/pgcgm_general_train.parquet"))
    parser.add_argument("--report", type=Path, default=REPO / "docs" / "benchmarks" / "pgcgm_general_kmax.md")
    parser.add_argument("--split", default="train")
    parser.add_argument("--max-sites", type=int, default=20)
    parser.add_argument("--coverage", type=float, default=0.95)
    parser.add_argument("--max-elements", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="first N materials only (smoke runs)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    frame = pd.read_csv(MP, usecols=["material_id", "nsites", "split", "cif"])
    frame = frame[(frame["nsites"] <= args.max_sites) & (frame["split"] == args.split)]
    if args.limit:
        frame = frame.head(args.limit)
    start = time.perf_counter()
    with Pool(args.workers) as pool:
        encoded = pool.map(_encode, zip(frame["material_id"], frame["cif"], strict=True), chunksize=64)
    elapsed = time.perf_counter() - start
    bases = [b for b in encoded if isinstance(b, BaseSites)]
    failed = len(encoded) - len(bases)
    k_counts = Counter(b.n_sites for b in bases)
    e_counts = Counter(len(set(b.species)) for b in bases)
    rows, k_max = coverage_lines(k_counts, len(bases), args.coverage)
    kept = [b for b in bases if b.n_sites <= k_max and len(set(b.species)) <= args.max_elements and _supported(b)]
    write_base_site_table(kept, args.out, {"source": "mp_structures.csv.gz", "split": args.split,
                                           "max_sites": args.max_sites, "k_max": k_max, "symprec": 0.1,
                                           "max_elements": args.max_elements})  # fmt: skip
    elems = ", ".join(f"{k}: {e_counts[k]}" for k in sorted(e_counts))
    multi = sum(1 for b in bases if len(set(b.species)) < b.n_sites)
    report = [
        "## General PGCGM: how many base sites (K_max)",
        "",
        f"MP structures with <= {args.max_sites} sites, `{args.split}` split: {len(frame)} read, {len(bases)} "
        f"encoded as base sites (spglib symprec 0.1, standard setting), {failed} failed; encoding took "
        f"{elapsed / 60:.1f} min wall on {args.workers} workers.",
        "",
        *rows,
        "",
        f"**K_max = {k_max}** is the smallest K covering >= {100 * args.coverage:.0f} % of them. "
        f"Distinct elements per material: {elems}. {multi} materials ({100 * multi / max(1, len(bases)):.1f} %) "
        "have the same element on several base sites.",
        "",
        f"Training table: {len(kept)} materials (K <= {k_max}, <= {args.max_elements} elements, elements with "
        f"features and radii) -> `{args.out.name}` ({args.out.stat().st_size / 1e6:.1f} MB).",
        "Reproduce: `python benchmarks/pgcgm_general_data.py`.",
        "",
    ]
    if not args.limit:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text("\n".join(report))
    print("\n".join(report))
    print("multiplicity per K:", {k: int(np.mean([b.n_atoms for b in bases if b.n_sites == k]))
                                   for k in sorted(k_counts)[:10]})  # fmt: skip


if __name__ == "__main__":
    main()

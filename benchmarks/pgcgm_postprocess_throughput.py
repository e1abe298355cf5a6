"""Throughput of PGCGM post-processing (expand → merge → filters → dedupe) on 2 worker processes.

Candidates imitate generator output: base sites of real MP ternaries (3 base sites; several space
groups incl. Fm-3m/Fd-3m with 192 ops), a random orbit member per site, Gaussian noise on the
fractional coords (σ = 0.01) and lattice (2 %), and a fraction with a large random displacement.

Usage: python benchmarks/pgcgm_postprocess_throughput.py [--n 1000] [--workers 2] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Structure

from xtalgen.postprocess.candidates import postprocess_candidates, rejection_counts
from xtalgen.representations.basesites.augment import augment_sets
from xtalgen.representations.basesites.encode import encode_structure
from xtalgen.representations.basesites.expand import RawBaseSites, expand_raw, expand_raw_arrays

MP = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "mp" / "mp_structures.csv.gz"


def make_candidates(n: int, seed: int, n_rows: int = 3000, only_sg: int | None = None) -> list[RawBaseSites]:
    df = pd.read_csv(MP, nrows=n_rows)
    df = df[df.elements.str.count(",") == 2]
    bases = []
    for r in df.itertuples():
        try:
            b = encode_structure(Structure.from_str(r.cif, fmt="cif"), id=r.material_id)
        except ValueError:
            continue
        if b.n_sites == 3 and (only_sg is None or b.spacegroup == only_sg):
            bases.append(b)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        b = bases[i % len(bases)]
        coords = augment_sets(b, 1, 1, rng)[0, 0]
        sigma = 0.2 if rng.random() < 0.1 else 0.01
        coords = (coords + rng.normal(0, sigma, coords.shape)) % 1.0
        lattice = b.lattice.copy()
        lattice[:3] *= 1 + rng.normal(0, 0.02)
        out.append(RawBaseSites(b.species, coords, lattice, b.spacegroup))
    sgs = pd.Series([b.spacegroup for b in bases]).value_counts()
    print(f"{len(bases)} template materials; space groups (top): {sgs.head(10).to_dict()}")
    return out


def stage_cpu(cands: list[RawBaseSites], n: int = 200) -> dict[str, float]:
    """CPU milliseconds per candidate of each stage, serial in this process (load-independent)."""
    from pymatgen.core import Lattice

    from xtalgen.postprocess.dedupe import primitive_from_dataset
    from xtalgen.postprocess.filters import check_charge_neutral, check_min_distance, symmetry_dataset
    from xtalgen.postprocess.merge import merge_arrays

    check_charge_neutral(expand_raw(cands[0]))  # load SMACT's tables once
    cpu = dict.fromkeys(["expand", "merge", "spglib", "primitive", "min_distance", "smact"], 0.0)
    for raw in cands[:n]:
        c = time.process_time()
        matrix, symbols, frac = expand_raw_arrays(raw)
        cpu["expand"] += time.process_time() - c
        c = time.process_time()
        symbols, frac = merge_arrays(matrix, symbols, frac)
        s = Structure(Lattice(matrix), symbols, frac)
        cpu["merge"] += time.process_time() - c
        c = time.process_time()
        ds = symmetry_dataset(s, 0.1)
        cpu["spglib"] += time.process_time() - c
        c = time.process_time()
        if ds is not None:
            primitive_from_dataset(s, ds)
        cpu["primitive"] += time.process_time() - c
        c = time.process_time()
        check_min_distance(s)
        cpu["min_distance"] += time.process_time() - c
        c = time.process_time()
        check_charge_neutral(s)
        cpu["smact"] += time.process_time() - c
    return {k: 1000 * v / min(n, len(cands)) for k, v in cpu.items()}


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--all-fd3m", action="store_true", help="worst case: only Fd-3m templates (192 ops)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    cands = make_candidates(args.n, args.seed, only_sg=227 if args.all_fd3m else None)
    t0, c0 = time.perf_counter(), time.process_time()
    k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = postprocess_candidates(cands, expand=expand_raw_arrays, workers=args.workers, charge_neutrality=True)
    wall = time.perf_counter() - t0
    k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (k1.ru_utime + k1.ru_stime) - (k0.ru_utime + k0.ru_stime)
    total_cpu = child_cpu + time.process_time() - c0
    before = np.array([r.n_atoms_before for r in res])
    after = np.array([r.n_atoms_after for r in res])
    load = os.getloadavg()
    lines = [
        f"- {'only Fd-3m (worst case)' if args.all_fd3m else 'mixed space groups'}: "
        f"{args.n} candidates, {args.workers} workers: **{wall:.1f} s wall** "
        f"({args.n / wall:.0f} candidates/s); total CPU (workers + parent, incl. dedupe) {total_cpu:.1f} s "
        f"→ ≈ {total_cpu / args.workers:.0f} s wall on {args.workers} idle cores",
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average during run {load[0]:.1f} (shared machine)",
        f"- atoms before merge: mean {before.mean():.0f}, max {before.max()}; after: mean {after.mean():.0f}",
        f"- outcomes: {rejection_counts(res)}",
    ]
    stages = stage_cpu(cands)
    total = sum(stages.values())
    lines.append(
        f"- CPU per candidate (serial, {min(200, len(cands))} candidates, excl. dedupe): {total:.0f} ms = "
        + ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
        + f" → {args.n} candidates ≈ {args.n * total / 1000 / args.workers:.0f} s on {args.workers} idle cores"
    )
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

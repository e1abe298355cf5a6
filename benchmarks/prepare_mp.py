"""Time `prepare_dataset` on the whole MP file and the load of the result; write docs/benchmarks/data_prepare.md.

Usage: python benchmarks/prepare_mp.py [--max-sites 20] [--out /work/runs/mp_le20.parquet]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from xtalgen.data.dataset import load_dataset
from xtalgen.data.prepare import PrepareFilters, prepare_dataset

REPO = Path(__file__).resolve().parents[1]
MP = REPO.parent / "shared" / "datasets" / "mp" / "mp_structures.csv.gz"


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (the worker pool)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-sites", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("/work/runs/mp_le20.parquet"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    load1 = os.getloadavg()[0]
    cpu0 = _cpu_seconds()
    start = time.perf_counter()
    result = prepare_dataset(MP, args.out, filters=PrepareFilters(max_sites=args.max_sites), workers=args.workers)
    elapsed = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu0
    t0 = time.perf_counter()
    ds = load_dataset(args.out)
    load_s = time.perf_counter() - t0
    total = result.report.total
    lines = [
        "## Dataset preparation (MP file)",
        "",
        f"`prepare_dataset(mp_structures.csv.gz, max_sites={args.max_sites}, workers={args.workers})`, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load1:.1f} at the start and {os.getloadavg()[0]:.1f} at the end "
        "(anything above 2 means other jobs shared the two cores).",
        "",
        "| entries | kept | rejected (by reason) | wall time | CPU time (all processes) | CPU time / 2 cores "
        "| load of the cached file |",
        "|---|---|---|---|---|---|---|",
        f"| {total} | {result.kept} | {result.report.counts_by_reason()} | {elapsed / 60:.1f} min | "
        f"{cpu / 60:.1f} min | {cpu / 120:.1f} min | {load_s:.2f} s ({len(ds)} rows) |",
        "",
        "Wall time depends on what else runs on the machine; CPU time / 2 is the wall time the job needs "
        "with both cores to itself.",
        "",
        f"Counts add up: kept + rejected = {result.kept + result.report.rejected} = {total} entries read.",
        "Reproduce: `python benchmarks/prepare_mp.py --max-sites 20`.",
        "",
    ]
    out = REPO / "docs" / "benchmarks" / "data_prepare.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

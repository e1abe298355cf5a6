"""Fit the shipped per-element volume table and measure how well it predicts held-out cell volumes.

Fits :func:`xtalgen.postprocess.volume.fit_element_volumes` to the training split of a prepared dataset,
writes ``src/xtalgen/resources/element_volumes/mp_le20_train.json`` and
``docs/benchmarks/element_volumes.md`` (error on the test split). Usage (repository root)::

    python benchmarks/fit_element_volumes.py /work/runs/mp_le20.parquet
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np
from pymatgen.core import Element

from xtalgen.data.atomic import atomic_write
from xtalgen.data.dataset import load_dataset
from xtalgen.postprocess.volume import DEFAULT_TABLE, ElementVolumes, fit_element_volumes, shipped_dir

REPO = Path(__file__).resolve().parents[1]


def compositions(ds) -> tuple[list[list[str]], np.ndarray]:
    symbols = {z: Element.from_Z(z).symbol for z in range(1, 119)}
    comps = [[symbols[int(z)] for z in ds.arrays(i)[2]] for i in range(len(ds))]
    return comps, ds.frame["volume"].to_numpy(dtype=np.float64)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path, help="prepared dataset with train/test splits")
    p.add_argument("--out", type=Path, default=shipped_dir() / DEFAULT_TABLE)
    p.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks" / "element_volumes.md")
    args = p.parse_args()
    ds = load_dataset(args.data)
    train, test = ds.subset("train"), ds.subset("test")
    comps, vols = compositions(train)
    t0 = time.process_time()
    table, stats = fit_element_volumes(comps, vols)
    cpu = time.process_time() - t0
    table = ElementVolumes(table.volumes, {
        "source": args.data.name, "split": "train", "structures": len(vols), "fitted": dt.date.today().isoformat(),
        "fit": stats, "method": "log-space soft-L1 least squares of V_cell = sum of per-atom increments"})  # fmt: skip
    table.to_json(args.out)
    t_comps, t_vols = compositions(test)
    pred = np.array([table.predict(c) or np.nan for c in t_comps])
    ok = np.isfinite(pred)
    ratio = pred[ok] / t_vols[ok]
    q = np.quantile(ratio, [0.05, 0.25, 0.5, 0.75, 0.95])
    mal = float(np.median(np.abs(np.log(ratio))))
    text = f"""# Per-element volume table (cell volume from composition)

Written by `benchmarks/fit_element_volumes.py` on {dt.date.today().isoformat()}. Increments v(Z) (Å³ per atom)
fitted to the {len(vols):,} training structures of `{args.data.name}` (MP ≤ 20 sites) in log space with a
soft-L1 loss ({cpu:.1f} CPU-s); {len(table.volumes)} elements; shipped as
`src/xtalgen/resources/element_volumes/{args.out.name}` and used by PGCGM generation to rescale cells
(docs/models/pgcgm.md). Reproduce: `python benchmarks/fit_element_volumes.py {args.data}`.

Held-out test split ({int(ok.sum()):,} of {len(t_vols):,} structures with every element in the table):
predicted / true cell volume quantiles 5 % {q[0]:.2f}, 25 % {q[1]:.2f}, median {q[2]:.3f}, 75 % {q[3]:.2f},
95 % {q[4]:.2f}; median |log ratio| {mal:.3f} (i.e. a typical error of {100 * (np.exp(mal) - 1):.1f} %).
On the training data: median |log ratio| {stats['median_abs_log_ratio']:.3f}.
"""
    with atomic_write(args.doc) as fh:
        fh.write(text)
    print(text)


if __name__ == "__main__":
    main()

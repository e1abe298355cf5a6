"""A small prepared dataset of real MP ternaries with 3 base sites, shared by the PGCGM pipeline tests."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from xtalgen.data.prepare import PrepareFilters, prepare_dataset

_CACHE: dict[str, Path] = {}


def ternary_dataset(shared_datasets: Path, folder: Path) -> Path:
    """Prepared parquet of the first 150 MP ternaries with ≤ 12 sites, kept if they have 3 base sites.

    Built once per test session (about 76 train materials, mostly cubic/tetragonal/trigonal groups).
    """
    key = str(shared_datasets)
    if key not in _CACHE:
        frame = pd.read_csv(shared_datasets / "mp" / "mp_structures.csv.gz", nrows=4000)
        n_el = frame["elements"].map(lambda s: len(ast.literal_eval(s)))
        frame = frame[(frame["nsites"] <= 12) & (n_el == 3)].head(150)
        folder.mkdir(parents=True, exist_ok=True)
        csv_path = folder / "ternaries.csv.gz"
        frame.to_csv(csv_path, index=False)
        filters = PrepareFilters(n_elements=frozenset({3}), n_base_sites=frozenset({3}))
        result = prepare_dataset(csv_path, folder / "ternaries.parquet", filters=filters, workers=1)
        _CACHE[key] = result.path
    return _CACHE[key]

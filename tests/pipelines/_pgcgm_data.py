"""Small PGCGM training data shared by the pipeline tests: a prepared dataset of real MP ternaries with 3 base
sites, and base-site tables of chosen MP rows."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from xtalgen.data.fast_cif import parse_p1_cif
from xtalgen.data.prepare import PrepareFilters, prepare_dataset
from xtalgen.representations.basesites.encode import encode_structure
from xtalgen.representations.basesites.table import write_base_site_table


def ternary_dataset(shared_datasets: Path, folder: Path) -> Path:
    """Prepared parquet of the first 150 MP ternaries with ≤ 12 sites, kept if they have 3 base sites.

    About 76 train materials, mostly cubic/tetragonal/trigonal groups; built once per test session by the
    ``pgcgm_ternary_data`` fixture (tests/pipelines/conftest.py).
    """
    frame = pd.read_csv(shared_datasets / "mp" / "mp_structures.csv.gz", nrows=4000)
    n_el = frame["elements"].map(lambda s: len(ast.literal_eval(s)))
    frame = frame[(frame["nsites"] <= 12) & (n_el == 3)].head(150)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / "ternaries.csv.gz"
    frame.to_csv(csv_path, index=False)
    filters = PrepareFilters(n_elements=frozenset({3}), n_base_sites=frozenset({3}))
    return prepare_dataset(csv_path, folder / "ternaries.parquet", filters=filters, workers=1).path


def base_site_table(rows: pd.DataFrame, path: Path) -> Path:
    """Base-site table of the MP ``rows`` (``material_id``, ``cif``); rows the encoder refuses are skipped."""
    bases = []
    for mid, cif in zip(rows["material_id"], rows["cif"], strict=True):
        try:
            bases.append(encode_structure(parse_p1_cif(cif), id=mid))
        except ValueError:
            continue
    return write_base_site_table(bases, path)

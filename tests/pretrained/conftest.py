"""Tiny trained runs (PGCGM and conditional CrysTens diffusion on Perov-5 rows) to package in the tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from pymatgen.core import Structure

from xtalgen.configs import bundled_config


@pytest.fixture(scope="session")
def perov_rows(shared_datasets: Path) -> pd.DataFrame:
    return pd.read_csv(shared_datasets / "perov_5" / "val.csv.gz", nrows=40)


@pytest.fixture(scope="session")
def pgcgm_run(shared_datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PGCGM (tiny config) trained 4 steps on Perov-5 ternaries with 3 base sites (about 20)."""
    from pymatgen.core import Composition

    from xtalgen.data.prepare import PrepareFilters, prepare_dataset
    from xtalgen.pipelines.pgcgm.train import train_pgcgm

    folder = tmp_path_factory.mktemp("pgcgm_pretrained")
    rows = pd.read_csv(shared_datasets / "perov_5" / "val.csv.gz", nrows=300)
    ternary = rows["formula"].map(lambda f: len(Composition(f).elements) == 3)
    rows[ternary].head(45).drop(columns=["Unnamed: 0"]).to_csv(folder / "perov.csv", index=False)
    filters = PrepareFilters(n_elements=frozenset({3}), n_base_sites=frozenset({3}))
    data = prepare_dataset(folder / "perov.csv", folder / "perov.parquet", filters=filters, workers=1).path
    torch.set_num_threads(1)
    train_pgcgm(data, bundled_config("pgcgm_tiny"), folder / "run",
                overrides=["max_steps=4", "checkpoint_every=2", "log_every=1"])  # fmt: skip
    return folder / "run"


@pytest.fixture(scope="session")
def diffusion_run(perov_rows: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Conditional CrysTens diffusion (tiny config, N = 32) trained 2 steps on 8 Perov-5 structures."""
    from xtalgen.pipelines.crystens.train import train_crystens
    from xtalgen.representations.crystens import CrysTensConfig, encode_dataset

    folder = tmp_path_factory.mktemp("diffusion_pretrained")
    items = [(str(r.material_id), Structure.from_str(r.cif, fmt="cif")) for r in perov_rows.head(8).itertuples()]
    encode_dataset(items, folder / "perov.npy", CrysTensConfig(size=32), workers=1, progress=False)
    torch.set_num_threads(1)
    train_crystens("diffusion", folder / "perov.npy", bundled_config("crystens_diffusion_tiny"), folder / "run",
                   overrides=["conditioning.enabled=true", "max_steps=2"])  # fmt: skip
    return folder / "run"

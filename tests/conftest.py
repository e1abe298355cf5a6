"""Shared test fixtures: paths to the shared datasets and small real structures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# One torch thread per test process: the suite runs worker pools and DDP subprocesses on 2 cores, and
# oversubscribed BLAS threads make it several times slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = (REPO / ".." / "shared" / "datasets").resolve()


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Torch at one intra-op thread during each test (restored after), for tests that use torch."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The read-only shared datasets folder (MP, Perov-5, Carbon-24, messy CIFs)."""
    if not SHARED_DATASETS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI run without the shared datasets at {SHARED_DATASETS}")
        pytest.skip(f"shared datasets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def mp_frame(shared_datasets: Path):
    """The whole MP table (pandas), read once per test session (~5 s)."""
    import pandas as pd

    return pd.read_csv(shared_datasets / "mp" / "mp_structures.csv.gz")


@pytest.fixture(scope="session")
def mp_slice_csv(mp_frame, tmp_path_factory) -> Path:
    """A 300-row slice of the MP table (first rows, ≤ 20 sites) plus a few well-known materials, as CSV."""
    import pandas as pd

    known = ["mp-149", "mp-22862", "mp-2534", "mp-5229", "mp-1143", "mp-390"]
    head = mp_frame[mp_frame["nsites"] <= 20].head(300)
    extra = mp_frame[mp_frame["material_id"].isin(known)]
    path = tmp_path_factory.mktemp("mp") / "mp_slice.csv.gz"
    pd.concat([head, extra]).drop_duplicates("material_id").to_csv(path, index=False)
    return path

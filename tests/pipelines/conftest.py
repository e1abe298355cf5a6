"""Fixtures shared by the pipeline tests: a tiny trained PGCGM (trained once per session)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pgcgm_data import ternary_dataset  # noqa: E402

from xtalgen.configs import bundled_config  # noqa: E402
from xtalgen.pipelines.pgcgm.train import train_pgcgm  # noqa: E402

#: 120 steps are enough for the physics terms to separate atoms.
TINY_RUN_OVERRIDES = ["max_steps=120", "checkpoint_every=120", "n_critic=1", "generator_optimizer.lr=2e-3"]


@pytest.fixture(scope="session")
def pgcgm_ternary_data(shared_datasets, tmp_path_factory) -> Path:
    """Prepared parquet of ~76 MP ternaries with 3 base sites."""
    return ternary_dataset(shared_datasets, tmp_path_factory.mktemp("pgcgm_data"))


@pytest.fixture(scope="session")
def pgcgm_tiny_run(pgcgm_ternary_data, tmp_path_factory) -> Path:
    """A tiny PGCGM trained for 120 steps (its checkpoint holds generator and critic). Read-only for tests."""
    out = tmp_path_factory.mktemp("pgcgm_tiny_run")
    torch.set_num_threads(1)
    train_pgcgm(pgcgm_ternary_data, bundled_config("pgcgm_tiny"), out, overrides=TINY_RUN_OVERRIDES)
    return out

"""A tiny trained PGCGM shared by the PGCGM pipeline tests of this folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _pgcgm_data import ternary_dataset  # noqa: E402

from xtalgen.configs import bundled_config  # noqa: E402
from xtalgen.pipelines.pgcgm.train import train_pgcgm  # noqa: E402

OVERRIDES = ["max_steps=120", "checkpoint_every=120", "n_critic=1", "generator_optimizer.lr=2e-3"]


@pytest.fixture(scope="session")
def tiny_data(shared_datasets, tmp_path_factory) -> Path:
    """Prepared parquet of ~76 MP ternaries with 3 base sites."""
    return ternary_dataset(shared_datasets, tmp_path_factory.mktemp("critic_data"))


@pytest.fixture(scope="session")
def run(tiny_data, tmp_path_factory) -> Path:
    """A tiny PGCGM trained for 120 steps (its checkpoint holds generator and critic)."""
    out = tmp_path_factory.mktemp("critic_run")
    torch.set_num_threads(1)
    train_pgcgm(tiny_data, bundled_config("pgcgm_tiny"), out, overrides=OVERRIDES)
    return out

"""The PGCGM pipeline tests of this folder use the session's tiny trained PGCGM (tests/pipelines/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_data(pgcgm_ternary_data) -> Path:
    """Prepared parquet of ~76 MP ternaries with 3 base sites."""
    return pgcgm_ternary_data


@pytest.fixture(scope="session")
def run(pgcgm_tiny_run) -> Path:
    """A tiny PGCGM trained for 120 steps (its checkpoint holds generator and critic)."""
    return pgcgm_tiny_run


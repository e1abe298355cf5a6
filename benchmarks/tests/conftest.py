"""Fixtures of the benchmark scripts' own tests (run apart from the product tests: ``pytest benchmarks/tests``).

The benchmark scripts are plain files in ``benchmarks/``, imported by name here; the product tests never
put them on ``sys.path``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

BENCHMARKS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCHMARKS))
#: The shared datasets beside the checkout, or where $XTALGEN_SHARED_DATASETS points.
SHARED_DATASETS = Path(os.environ.get("XTALGEN_SHARED_DATASETS", BENCHMARKS.parent / ".." / "shared" / "datasets"))


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The read-only shared datasets folder (MP, Perov-5)."""
    path = SHARED_DATASETS.resolve()
    if not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI run without the shared datasets at {path}")
        pytest.skip(f"shared datasets not found at {path}")
    return path

"""Fixtures of the screen tests: candidates, fake energies from the shipped reference table, a Dask cluster."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _screen_fakes import write_candidates


@pytest.fixture(scope="module")
def candidates(tmp_path_factory) -> Path:
    return write_candidates(tmp_path_factory.mktemp("screen") / "candidates")


@pytest.fixture(scope="module")
def fake_energies() -> dict[str, float]:
    """Per formula, the lowest shipped CHGNet reference energy (eV/atom): on the hull by construction."""
    from pymatgen.core import Composition

    from xtalgen.evaluation.reference_table import load_reference_table, shipped_reference_path

    table = load_reference_table(shipped_reference_path("chgnet-0.3.0-static"))
    out: dict[str, float] = {}
    wanted = {"Si", "NaCl", "LiF"}
    for formula, energy in zip(table.frame["formula"], table.frame["energy_per_atom"], strict=True):
        reduced = Composition(formula).reduced_formula
        if reduced in wanted:
            out[reduced] = min(out.get(reduced, float("inf")), float(energy))
    assert set(out) == wanted
    return out


@pytest.fixture(scope="module")
def dask_client():
    """One LocalCluster of 2 worker processes for the module (starting one costs seconds)."""
    pytest.importorskip("distributed")
    import cloudpickle
    from distributed import Client, LocalCluster

    cloudpickle.register_pickle_by_value(sys.modules["_screen_fakes"])  # workers need not import the tests
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=50) as cluster, Client(cluster) as client:  # fmt: skip
        yield client

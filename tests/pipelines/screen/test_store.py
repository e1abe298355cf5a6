"""Stored per-structure results: keyed by content and settings; a task runs once, its failure is a record."""

from __future__ import annotations

from pymatgen.core import Lattice, Structure

from xtalgen.data.content_hash import structure_hash
from xtalgen.pipelines.screen.scheduler import Task, run_task
from xtalgen.pipelines.screen.store import read_result, result_path

CALLS: list[str] = []


def _energy(structure: Structure) -> dict:
    CALLS.append(structure.composition.reduced_formula)
    return {"energy_per_atom": -1.5, "nan": float("nan")}


def _broken(structure: Structure) -> dict:
    raise RuntimeError("potential exploded")


def test_a_task_computes_once_and_is_keyed_by_settings(tmp_path):
    s = Structure(Lattice.cubic(3.0), ["Cu"], [[0, 0, 0]])
    h = structure_hash(s)
    assert result_path(tmp_path, "relax", h, {"steps": 1}) != result_path(tmp_path, "relax", h, {"steps": 2})
    path = str(result_path(tmp_path, "relax", h, {"steps": 1}))
    first = run_task(Task("k", _energy, s.as_dict(), path))
    second = run_task(Task("k", _energy, s.as_dict(), path))
    assert CALLS == ["Cu"] and not first["cached"] and second["cached"]
    assert second["energy_per_atom"] == -1.5 and second["nan"] is None and second["cpu_s"] >= 0
    failed = run_task(Task("k2", _broken, s.as_dict(), str(tmp_path / "x.json")))
    assert failed["error"] == "RuntimeError: potential exploded"
    assert read_result(tmp_path / "x.json")["error"] == "RuntimeError: potential exploded"
    retried = run_task(Task("k2", _energy, s.as_dict(), str(tmp_path / "x.json")))  # a failure is not reused
    assert not retried["cached"] and retried["energy_per_atom"] == -1.5

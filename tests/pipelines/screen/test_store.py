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


def _many(items):
    for key, structure in items:
        if structure.composition.reduced_formula == "Fe":
            raise RuntimeError("potential exploded")
        CALLS.append(f"many:{structure.composition.reduced_formula}")
        yield key, {"energy_per_atom": -2.0, "batch": len(items)}


def test_a_batch_task_stores_each_structure_and_reuses_finished_ones(tmp_path):
    from xtalgen.pipelines.screen.scheduler import BatchTask, run_batch_task

    cells = [Structure(Lattice.cubic(a), [el], [[0, 0, 0]]) for a, el in [(3.0, "Cu"), (3.1, "Ag"), (2.9, "Fe")]]
    tasks = tuple(Task(f"k{i}", _energy, s.as_dict(), str(tmp_path / f"{i}.json")) for i, s in enumerate(cells))
    CALLS.clear()
    first = run_batch_task(BatchTask("b", _many, tasks))
    assert CALLS == ["many:Cu", "many:Ag"] and [r.get("batch") for r in first[:2]] == [3, 3]
    assert first[2]["error"] == "RuntimeError: potential exploded"  # the rest of the batch fails, the finished stay
    assert read_result(tmp_path / "0.json")["energy_per_atom"] == -2.0 and read_result(tmp_path / "2.json") is None
    again = run_batch_task(BatchTask("b", _many, tasks[:2]))
    assert all(r["cached"] for r in again) and CALLS == ["many:Cu", "many:Ag"]  # nothing recomputed

"""The screen on Dask distributed (2 local worker processes): the same shortlist as in-process, and a worker
killed mid-task loses nothing."""

from __future__ import annotations

from _screen_fakes import FakePotential, KillOncePotential

from xtalgen.pipelines.screen.runner import run_screen
from xtalgen.pipelines.screen.scheduler import open_scheduler
from xtalgen.pipelines.screen.store import read_result


def _rows(result):
    return [(r["id"], round(r["e_hull"], 9), r["sun"], r["metasun"], r["symmetry_kept"]) for r in result.shortlist]


def test_dask_gives_the_in_process_shortlist(candidates, fake_energies, tmp_path, dask_client):
    with open_scheduler("none") as here:
        expected = run_screen(candidates, tmp_path / "here", scheduler=here, potential=FakePotential(fake_energies))
    with open_scheduler(client=dask_client) as dask:
        got = run_screen(candidates, tmp_path / "dask", scheduler=dask, potential=FakePotential(fake_energies))
    assert _rows(got) == _rows(expected) and len(got.shortlist) == 3
    assert [(s.name, s.n_removed) for s in got.stages] == [(s.name, s.n_removed) for s in expected.stages]


def test_a_killed_worker_loses_nothing(candidates, fake_energies, tmp_path, dask_client):
    with open_scheduler("none") as here:
        expected = run_screen(candidates, tmp_path / "here", scheduler=here, potential=FakePotential(fake_energies))
    killer = KillOncePotential(fake_energies, marker_dir=str(tmp_path))
    with open_scheduler(client=dask_client) as dask:
        got = run_screen(candidates, tmp_path / "dask", scheduler=dask, potential=killer)
    assert (tmp_path / "killed-NaCl").exists()  # the worker relaxing NaCl did die
    assert _rows(got) == _rows(expected)
    stored = [read_result(p) for p in (tmp_path / "dask" / "stages" / "relax").glob("*.json")]
    assert len(stored) == 3 and all("error" not in r for r in stored)  # one result per structure, all complete


def test_batched_tasks_on_dask_give_the_per_structure_shortlist_and_survive_a_killed_worker(
    candidates, fake_energies, tmp_path, dask_client
):
    from _screen_fakes import BatchFakePotential

    with open_scheduler("none") as here:
        expected = run_screen(candidates, tmp_path / "here", scheduler=here, potential=FakePotential(fake_energies))
    batched = BatchFakePotential(fake_energies, kill_marker_dir=str(tmp_path))
    with open_scheduler(client=dask_client) as dask:
        got = run_screen(candidates, tmp_path / "dask", scheduler=dask, potential=batched)
    assert (tmp_path / "killed-batch").exists()  # a worker died holding a batch
    assert _rows(got) == _rows(expected)
    stored = [read_result(p) for p in (tmp_path / "dask" / "stages" / "relax").glob("*.json")]
    assert len(stored) == 3 and all("error" not in r for r in stored) and max(r["batch"] for r in stored) == 2


def test_a_batch_task_stores_each_structure_with_its_cost_share(tmp_path):
    """The records a batched job stores carry ``cpu_s`` and ``wall_s`` (per-stage cost reporting reads them)."""
    from pymatgen.core import Lattice, Structure

    from xtalgen.pipelines.screen.scheduler import BatchTask, Task, run_batch_task

    def many(pairs):
        for key, structure in pairs:
            sum(i * i for i in range(20000))  # some CPU to share
            yield key, {"energy_per_atom": -1.0, "n": len(structure)}

    cell = Structure(Lattice.cubic(3.0), ["Na"], [[0, 0, 0]]).as_dict()
    tasks = tuple(Task(f"k{i}", lambda s: {}, cell, str(tmp_path / f"r{i}.json")) for i in range(3))
    got = run_batch_task(BatchTask("b", many, tasks))
    stored = [read_result(t.path) for t in tasks]
    assert all(r is not None and r["cpu_s"] > 0 and r["wall_s"] > 0 for r in stored)
    assert [r["cpu_s"] for r in stored] == [r["cpu_s"] for r in got] and not any(r["cached"] for r in got)
    again = run_batch_task(BatchTask("b", many, tasks))  # reused: the stored cost comes back with it
    assert all(r["cached"] and r["cpu_s"] > 0 for r in again)

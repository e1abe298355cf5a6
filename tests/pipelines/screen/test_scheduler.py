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

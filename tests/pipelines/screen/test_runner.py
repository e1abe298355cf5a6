"""The screen's stages, their report, stored results reused on a re-run, and the known-structure hook."""

from __future__ import annotations

import json

import pandas as pd
from _screen_fakes import FATE, BatchFakePotential, FakePotential
from pymatgen.core import Structure

from xtalgen.pipelines.screen.runner import ScreenSettings, run_screen
from xtalgen.pipelines.screen.scheduler import open_scheduler
from xtalgen.pipelines.screen.store import read_result


def _screen(candidates, out, potential, **settings):
    with open_scheduler("none") as scheduler:
        return run_screen(candidates, out, scheduler=scheduler, potential=potential,
                          settings=ScreenSettings(**settings))  # fmt: skip


def test_stages_remove_what_they_should_and_report_it(candidates, fake_energies, tmp_path):
    out = tmp_path / "screen"
    result = _screen(candidates, out, FakePotential(fake_energies), top=2)
    rejected = pd.read_csv(out / "rejected.csv")
    assert dict(zip(rejected["id"].str.removesuffix(".cif"), rejected["stage"], strict=True)) == {
        k: v for k, v in FATE.items() if v != "kept"}  # fmt: skip
    shortlist = pd.read_csv(out / "shortlist.csv")
    assert sorted(shortlist["id"].str.removesuffix(".cif")) == sorted(k for k, v in FATE.items() if v == "kept")
    assert list(shortlist["rank"]) == [1, 2, 3]
    assert shortlist["e_hull"].abs().max() < 1e-6  # the fake energies are the hull's own
    assert shortlist["metasun"].all() and shortlist["symmetry_kept"].all() and shortlist["unique"].all()
    report = json.loads((out / "report.json").read_text())
    stages = {s["name"]: s for s in report["stages"]}
    assert [s["name"] for s in report["stages"]] == ["read", "cheap filters", "dedupe", "prescreen", "relax",
                                                     "e_hull", "export"]  # fmt: skip
    assert (stages["cheap filters"]["n_removed"], stages["dedupe"]["n_removed"],
            stages["prescreen"]["n_removed"], stages["relax"]["n_out"]) == (1, 1, 1, 3)  # fmt: skip
    assert all(s["wall_s"] >= 0 and s["cpu_s"] >= 0 for s in report["stages"])
    assert "| prescreen | 4 | 1 | 3 |" in (out / "report.md").read_text()
    assert len(result.exported) == 2 and len(list((out / "vasp").glob("*/POSCAR"))) == 2
    assert len(list((out / "relaxed").glob("*.cif"))) == 3


def test_a_rerun_reuses_stored_results_and_recomputes_changed_settings(candidates, fake_energies, tmp_path):
    out = tmp_path / "screen"
    first = _screen(candidates, out, FakePotential(fake_energies))
    again = _screen(candidates, out, FakePotential(fake_energies))
    reused = {s.name: s.n_cached for s in again.stages}
    assert reused["cheap filters"] == 6 and reused["prescreen"] == 4 and reused["relax"] == 3
    assert [r["id"] for r in again.shortlist] == [r["id"] for r in first.shortlist]
    # a stored result is what the next run reads: change one and the shortlist follows it
    def formula(path):
        return Structure.from_dict(json.loads(path.read_text())["structure"]).composition.reduced_formula

    (relax_file,) = [p for p in (out / "stages" / "relax").glob("*.json") if formula(p) == "LiF"]
    record = json.loads(relax_file.read_text())
    relax_file.write_text(json.dumps({**record, "energy_per_atom": record["energy_per_atom"] + 0.05}))
    changed = _screen(candidates, out, FakePotential(fake_energies))
    lif = next(r for r in changed.shortlist if r["formula"] == "LiF")
    assert abs(lif["e_hull"] - 0.05) < 1e-6 and not lif["sun"] and lif["metasun"]
    # other settings (here: another potential) are other keys: nothing of the relax stage is reused
    moved = _screen(candidates, out, FakePotential(fake_energies, tag="fake-2"))
    assert {s.name: s.n_cached for s in moved.stages}["relax"] == 0


def test_known_structures_are_dropped_as_not_novel(candidates, fake_energies, tmp_path):
    known = tmp_path / "known.csv"
    nacl = (candidates / "nacl.cif").read_text()
    pd.DataFrame({"material_id": ["mp-22862"], "cif": [nacl]}).to_csv(known, index=False)
    result = _screen(candidates, tmp_path / "screen", FakePotential(fake_energies), known=known)
    assert "nacl.cif" not in {r["id"] for r in result.shortlist}
    rejected = pd.read_csv(tmp_path / "screen" / "rejected.csv")
    assert "matches known structure mp-22862" in set(rejected["reason"])
    assert all(r["novel"] is True for r in result.shortlist)


def test_a_batched_potential_gives_the_same_screen_with_several_structures_per_task(candidates, fake_energies,
                                                                                    tmp_path):  # fmt: skip


    with open_scheduler("none") as here:
        one = run_screen(candidates, tmp_path / "one", scheduler=here, potential=FakePotential(fake_energies))
        many = run_screen(candidates, tmp_path / "many", scheduler=here, potential=BatchFakePotential(fake_energies))
    rows = [(r["id"], r["e_hull"], r["sun"]) for r in one.shortlist]
    assert rows == [(r["id"], r["e_hull"], r["sun"]) for r in many.shortlist] and rows
    assert [(s.name, s.n_removed) for s in one.stages] == [(s.name, s.n_removed) for s in many.stages]
    stored = [read_result(p) for p in (tmp_path / "many" / "stages" / "prescreen").glob("*.json")]
    assert stored and max(r["batch"] for r in stored) == 2

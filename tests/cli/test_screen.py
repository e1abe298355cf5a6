"""``xtalgen screen`` end to end with CHGNet (in-process, a few FIRE steps), --resume, and the folder policy."""

from __future__ import annotations

import json

import pandas as pd
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from xtalgen.cli.main import app


def _candidates(folder):
    folder.mkdir()
    rocksalt = [[0, 0, 0], [0.5, 0.5, 0.5]]
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.6), ["Na", "Cl"], rocksalt).get_primitive_structure()
    nacl.to(filename=str(folder / "nacl.cif"))
    lif = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.1), ["Li", "F"], rocksalt).get_primitive_structure()
    lif.to(filename=str(folder / "lif.cif"))
    Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.01, 0, 0]]).to(filename=str(folder / "bad.cif"))
    return folder


def test_screen_writes_a_shortlist_and_resumes(tmp_path):
    cands = _candidates(tmp_path / "cands")
    out = tmp_path / "screen"
    args = ["screen", str(cands), "-o", str(out), "--scheduler", "none", "--steps", "3", "--prescreen-steps", "0",
            "--top", "1"]  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "cheap filters: 3 in, 1 removed, 2 left" in result.output
    shortlist = pd.read_csv(out / "shortlist.csv")
    assert sorted(shortlist["formula"]) == ["LiF", "NaCl"]
    assert (shortlist["e_hull"].abs() < 0.05).all() and shortlist["symmetry_kept"].all()
    assert len([p for p in (out / "vasp").iterdir() if p.is_dir()]) == 1
    assert (out / "report.md").is_file()

    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "--resume" in refused.output

    again = runner.invoke(app, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    stages = {s["name"]: s for s in json.loads((out / "report.json").read_text())["stages"]}
    assert stages["prescreen"]["n_cached"] == 2 and stages["relax"]["n_cached"] == 2
    assert pd.read_csv(out / "shortlist.csv")["id"].tolist() == shortlist["id"].tolist()


def test_screen_refuses_an_unknown_potential_in_one_line(tmp_path):
    cands = _candidates(tmp_path / "cands")
    result = CliRunner().invoke(app, ["screen", str(cands), "-o", str(tmp_path / "s"), "--potential", "nope"])
    assert result.exit_code == 2 and "unknown potential 'nope'" in result.output
    assert not (tmp_path / "s" / "shortlist.csv").exists()


def test_screen_refuses_a_missing_reference_table_before_any_work(tmp_path):
    cands = _candidates(tmp_path / "cands")
    out = tmp_path / "s"
    result = CliRunner().invoke(app, ["screen", str(cands), "-o", str(out), "--reference-energies",
                                      str(tmp_path / "none.parquet")])  # fmt: skip
    assert result.exit_code == 2 and "--reference-energies" in result.output
    assert not out.exists()


def test_cli_prescreen_default_is_the_runner_constant() -> None:
    import inspect

    from xtalgen.cli.screen import screen_cmd
    from xtalgen.pipelines.screen.runner import PRESCREEN_MAX_EHULL

    option = inspect.signature(screen_cmd).parameters["prescreen_max_ehull"].default
    assert option.default == PRESCREEN_MAX_EHULL

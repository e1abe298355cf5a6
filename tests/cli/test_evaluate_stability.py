"""--relax-engine and --potential of ``evaluate``, ``relax`` and ``screen``: one-line errors before any work."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import typer
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from xtalgen.cli.evaluate_stability import energy_models, note_stability, parse_relax_engine
from xtalgen.cli.main import app


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_relax_engine_names_auto_batched_or_ase(capsys):
    assert parse_relax_engine("auto") is None
    assert parse_relax_engine(" Batched ") == "batched" and parse_relax_engine("ase") == "ase"
    with pytest.raises(typer.Exit) as exc:
        parse_relax_engine("warp")
    assert exc.value.exit_code == 2
    assert "--relax-engine: choose auto, batched or ase, got 'warp'" in capsys.readouterr().out


def test_energy_models_refuse_an_engine_the_potential_lacks(capsys):
    models = energy_models(["chgnet"], 5, 0.1, False, "ase")
    assert models["chgnet"].engine == "ase" and models["chgnet"].steps == 5
    assert energy_models(["chgnet"], 5, 0.1, False)["chgnet"].engine == "batched"
    with pytest.raises(typer.Exit):
        energy_models(["sevennet"], 5, 0.1, False, "batched")  # SevenNet relaxes one structure at a time
    assert "--relax-engine:" in capsys.readouterr().out


def test_note_stability_records_settings_and_further_potentials():
    result = SimpleNamespace(meta={"notes": []})
    models = {"chgnet": SimpleNamespace(name="CHGNet 0.3.0"), "sevennet": SimpleNamespace(name="SevenNet 7net")}
    note_stability(result, ["chgnet"], {"chgnet": models["chgnet"]}, {"steps": 3, "fmax": 0.1})
    assert result.meta == {"notes": [], "stability_settings": {"steps": 3, "fmax": 0.1, "potentials": ["chgnet"]}}
    note_stability(result, ["chgnet", "sevennet"], models, {"steps": 3})
    assert result.meta["energy_models"] == {"chgnet": "CHGNet 0.3.0", "sevennet": "SevenNet 7net"}
    assert "Stability under 2 potentials: chgnet, sevennet" in result.meta["notes"][0]


@pytest.mark.parametrize("command", ["relax", "screen", "evaluate"])
def test_bad_relax_engine_is_refused_before_any_work(tmp_path, command):
    source = tmp_path / "nacl.cif"
    Structure(Lattice.cubic(5.6), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(source))
    out = tmp_path / "out"
    extra = ["--stability"] if command == "evaluate" else []
    result = CliRunner().invoke(app, [command, str(source), "-o", str(out), *extra, "--relax-engine", "warp"])
    assert result.exit_code == 2 and "--relax-engine: choose auto, batched or ase" in _flat(result.output)
    bad = CliRunner().invoke(app, [command, str(source), "-o", str(out), *extra, "--potential", "sevennet",
                                   "--relax-engine", "batched"])  # fmt: skip
    assert bad.exit_code == 2 and "--relax-engine:" in _flat(bad.output), bad.output
    if command != "evaluate":  # evaluate claims its report folder first (the engine is checked with the models)
        assert not out.exists()


def test_early_stop_flag_gives_chgnet_a_rule_and_refuses_sevennet(capsys):
    assert energy_models(["chgnet"], 5, 0.1, False)["chgnet"].early_stop is None
    rule = energy_models(["chgnet"], 5, 0.1, False, "auto", early_stop=True)["chgnet"].early_stop
    assert rule is not None and rule.tag
    with pytest.raises(typer.Exit):
        energy_models(["sevennet"], 5, 0.1, False, "auto", early_stop=True)
    assert "--early-stop" in capsys.readouterr().out

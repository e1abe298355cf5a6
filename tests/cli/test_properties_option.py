"""``xtalgen evaluate --properties``: checked before any work."""

from __future__ import annotations

from pathlib import Path

from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from xtalgen.cli.main import app


def test_properties_needs_stability_and_a_reference_set(tmp_path: Path) -> None:
    cif = tmp_path / "cscl.cif"
    Structure(Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(filename=str(cif))
    runner = CliRunner()
    base = ["evaluate", str(cif), "-o", str(tmp_path / "rep"), "--quiet"]
    res = runner.invoke(app, [*base, "--properties"])
    assert res.exit_code == 2 and "add --stability" in " ".join(res.output.split())
    res = runner.invoke(app, [*base, "--properties", "--stability"])
    assert res.exit_code == 2 and "pass --train or --test" in " ".join(res.output.split())
    assert not (tmp_path / "rep").exists()

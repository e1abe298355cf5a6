from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Poscar

from xtalgen.data.safe_names import safe_filename
from xtalgen.pipelines.vasp_export import export_vasp, select_candidates


def _s(el: str, a: float) -> Structure:
    return Structure(Lattice.cubic(a), [el, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


@pytest.fixture
def no_potcars(monkeypatch):
    from pymatgen.core import SETTINGS

    monkeypatch.delenv("PMG_VASP_PSP_DIR", raising=False)
    monkeypatch.setitem(SETTINGS, "PMG_VASP_PSP_DIR", None)


def test_without_potcar_library_writes_inputs_and_explains(tmp_path, no_potcars):
    s = _s("Cs", 4.12)
    result = export_vasp([("cand/1", s)], tmp_path / "vasp")
    folder = tmp_path / "vasp" / safe_filename("cand/1")  # "cand_1-<hash>": a changed id gets a hash suffix
    assert folder.name.startswith("cand_1-") and result.written == ["cand/1"] and not result.potcar
    index = pd.read_csv(tmp_path / "vasp" / "candidates.csv")
    assert index.to_dict("records") == [{"id": "cand/1", "folder": folder.name, "formula": "CsCl"}]
    assert {p.name for p in folder.iterdir()} == {"POSCAR", "INCAR", "KPOINTS", "POTCAR.spec"}
    assert "PMG_VASP_PSP_DIR" in result.message
    back = Poscar.from_file(folder / "POSCAR").structure
    np.testing.assert_allclose(back.lattice.matrix, s.lattice.matrix, atol=1e-6)
    assert "ENCUT = 520" in (folder / "INCAR").read_text()  # MPRelaxSet settings
    assert (folder / "POTCAR.spec").read_text().split() == ["Cs_sv", "Cl"]


def test_select_from_report_ranks_sun_then_ehull(tmp_path):
    report = tmp_path / "report"
    (report / "relaxed").mkdir(parents=True)
    rows = [("a", 0.05, False), ("b", -0.02, False), ("c", 0.08, True), ("d", float("nan"), False)]
    for sid, _, _ in rows:
        _s("Cs", 4.0 + len(sid)).to(filename=str(report / "relaxed" / f"{sid}.cif"))
    pd.DataFrame(rows, columns=["id", "e_hull", "sun"]).to_csv(report / "per_sample.csv", index=False)
    assert [i for i, _ in select_candidates(report)] == ["c", "b", "a"]
    assert [i for i, _ in select_candidates(report, top=2)] == ["c", "b"]
    with pytest.raises(ValueError, match="top"):
        select_candidates(report, top=0)


def test_impossible_cells_are_not_written(tmp_path, no_potcars):
    huge = _s("Cs", 1e30)
    overlap = Structure(Lattice.cubic(4.1), ["Na", "Cl"], [[0, 0, 0], [0, 0, 0.01]])
    result = export_vasp([("huge", huge), ("overlap", overlap), ("ok", _s("Cs", 4.12))], tmp_path / "vasp")
    assert result.written == ["ok"]
    assert result.failed["huge"].startswith("impossible cell") and "1000" in result.failed["huge"]
    assert result.failed["overlap"].startswith("overlapping atoms")
    assert sorted(p.name for p in (tmp_path / "vasp").iterdir()) == ["candidates.csv", "ok"]

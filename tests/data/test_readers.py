"""Reading structures from tables, folders and files, with the error policy and time limit."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.data import readers
from xtalgen.data.readers import RawEntry, parse_entry, read_structures
from xtalgen.data.records import REJECTION_REASONS, ReadReport, StructureReadError


def _nacl() -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_every_messy_cif_is_read_or_rejected_with_a_reason(shared_datasets: Path) -> None:
    folder = shared_datasets / "messy_cifs"
    files = sorted(p.name for p in folder.iterdir())
    report = ReadReport()
    start = time.perf_counter()
    records = list(read_structures(folder, report=report, timeout=5.0))
    assert time.perf_counter() - start < 120
    touched = {r.id.split("#")[0] for r in records} | {r.id.split("#")[0] for r in report.rejections}
    assert touched == set(files), set(files) - touched
    assert report.accepted == len(records) > 70
    for rejection in report.rejections:
        assert rejection.reason in REJECTION_REASONS
        assert rejection.detail
    reasons = {r.id: r.reason for r in report.rejections}
    assert reasons["cif_bad_occu.cif"] == "unparseable"
    assert reasons["cif_bad_superflat_inf_loop.cif.gz"] == "degenerate cell"
    assert reasons["cif_Cu7Te5.cif"] == "partial occupancy"
    # a multi-block CIF gives one record per block
    assert sum(r.id.startswith("cif_MultiStructure.cif#") for r in records) == 2
    # a known file reads with the right composition
    by_id = {r.id: r.structure for r in records}
    assert by_id["pyxtal_NaCl.cif"].composition.reduced_formula == "NaCl"
    assert len(by_id["pyxtal_NaCl.cif"]) == 8


def test_raise_policy_names_the_entry(shared_datasets: Path) -> None:
    with pytest.raises(StructureReadError) as info:
        list(read_structures(shared_datasets / "messy_cifs" / "cif_bad_occu.cif", on_error="raise"))
    assert info.value.entry_id == "cif_bad_occu.cif"
    assert "cif_bad_occu.cif" in str(info.value)


def test_a_hanging_parser_is_stopped_by_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    def forever(entry: RawEntry, *args: object) -> list:
        while True:
            time.sleep(0.01)

    monkeypatch.setattr(readers, "_parse_structures", forever)
    start = time.perf_counter()
    outcome = parse_entry(RawEntry("hang", "data_x", "cif"), timeout=0.5)
    assert time.perf_counter() - start < 5
    assert outcome.rejections == [("hang", "timeout", "parsing took longer than 0.5 s")]


def test_table_keeps_other_columns_as_properties(shared_datasets: Path) -> None:
    records = []
    for rec in read_structures(shared_datasets / "perov_5" / "val.csv.gz"):
        records.append(rec)
        if len(records) == 5:
            break
    assert all(len(r.structure) == 5 for r in records)
    assert {"formula", "heat_all", "dir_gap"} <= set(records[0].properties)
    from pymatgen.core import Composition

    assert records[0].structure.composition.reduced_composition == Composition(records[0].properties["formula"])


def test_folder_of_mixed_formats(tmp_path: Path) -> None:
    s = _nacl()
    (tmp_path / "sub").mkdir()
    s.to(filename=str(tmp_path / "a.cif"))
    s.to(filename=str(tmp_path / "sub" / "POSCAR"), fmt="poscar")
    (tmp_path / "sub" / "b.json").write_text(json.dumps(s.as_dict()))
    with gzip.open(tmp_path / "c.cif.gz", "wt") as fh:
        fh.write(s.to(fmt="cif"))
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor

    write(str(tmp_path / "d.extxyz"), AseAtomsAdaptor.get_atoms(s), format="extxyz")
    (tmp_path / "notes.txt").write_text("not a structure")
    (tmp_path / "broken.cif").write_text("data_broken\n_cell_length_a 3\n")
    report = ReadReport()
    records = list(read_structures(tmp_path, report=report))
    assert sorted(r.id for r in records) == ["a.cif", "c.cif.gz", "d.extxyz", "sub/POSCAR", "sub/b.json"]
    assert all(r.structure.composition.reduced_formula == "NaCl" and len(r.structure) == 8 for r in records)
    assert [(r.id, r.reason) for r in report.rejections] == [("broken.cif", "empty")]


def test_max_sites_and_unsupported_elements(tmp_path: Path) -> None:
    big = _nacl() * (2, 1, 1)
    big.to(filename=str(tmp_path / "big.cif"))
    heavy = Structure(Lattice.cubic(4.0), ["Am"], [[0, 0, 0]])
    heavy.to(filename=str(tmp_path / "heavy.cif"))
    report = ReadReport()
    assert list(read_structures(tmp_path, max_sites=10, report=report)) == []
    assert {(r.id, r.reason) for r in report.rejections} == {
        ("big.cif", "too many sites"),
        ("heavy.cif", "unsupported element"),
    }


def test_unknown_source_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        list(read_structures(tmp_path / "missing.csv"))
    bad = tmp_path / "table.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="'cif' column"):
        list(read_structures(bad))
    with pytest.raises(ValueError, match="on_error"):
        list(read_structures(bad, on_error="ignore"))  # type: ignore[arg-type]

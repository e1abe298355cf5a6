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


def _vasp4(s: Structure) -> str:
    """A POSCAR without its species line (VASP 4 format)."""
    lines = s.to(fmt="poscar").splitlines()
    del lines[5]
    lines[0] = "no symbols here"
    coords = [" ".join(line.split()[:3]) for line in lines[7:]]  # nor after the coordinates
    return "\n".join(lines[:7] + coords) + "\n"


def test_poscar_without_species_is_rejected_unless_species_are_given() -> None:
    text = _vasp4(Structure(Lattice.cubic(4.2), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]))
    outcome = parse_entry(RawEntry("POSCAR", text, "poscar"))
    assert not outcome.records
    assert [(r[1]) for r in outcome.rejections] == ["no element symbols"]
    assert "--species" in outcome.rejections[0][2]
    given = parse_entry(RawEntry("POSCAR", text, "poscar"), species=("Cs", "Cl"))
    assert [r.structure.composition.reduced_formula for r in given.records] == ["CsCl"]
    wrong = parse_entry(RawEntry("POSCAR", text, "poscar"), species=("Cs",))
    assert wrong.rejections[0][1] == "no element symbols" and "2 atom types" in wrong.rejections[0][2]
    # a POSCAR with its species line ignores the option
    full = Structure(Lattice.cubic(4.2), ["K", "Br"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(fmt="poscar")
    kept = parse_entry(RawEntry("POSCAR", full, "poscar"), species=("Cs", "Cl"))
    assert [r.structure.composition.reduced_formula for r in kept.records] == ["KBr"]


def test_corrupt_gzip_is_rejected_by_name_and_the_rest_is_kept(tmp_path: Path) -> None:
    good = _nacl().to(fmt="cif")
    (tmp_path / "good.cif").write_text(good)
    raw = gzip.compress(good.encode())
    (tmp_path / "truncated.cif.gz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "garbage.cif.gz").write_bytes(b"\x1f\x8b\x08\x00not really gzip at all")
    report = ReadReport()
    records = list(read_structures(tmp_path, report=report))
    assert [r.id for r in records] == ["good.cif"]
    got = {r.id: (r.reason, r.detail) for r in report.rejections}
    assert set(got) == {"truncated.cif.gz", "garbage.cif.gz"}
    assert all(reason == "unreadable file" and "corrupt gzip" in detail for reason, detail in got.values())
    alone = ReadReport()
    assert list(read_structures(tmp_path / "truncated.cif.gz", report=alone)) == []
    assert alone.rejections[0].id == "truncated.cif.gz"


def test_json_is_read_without_importing_modules_it_names(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import sys

    data = _nacl().as_dict()
    data["sites"][0]["properties"] = {"evil": {"@module": "this", "@class": "Nothing"}}
    sys.modules.pop("this", None)
    outcome = parse_entry(RawEntry("a.json", json.dumps(data), "json"))
    assert "this" not in sys.modules  # importing `this` prints the Zen of Python
    assert "Zen of Python" not in capsys.readouterr().out
    assert [r.structure.composition.reduced_formula for r in outcome.records] == ["NaCl"]
    other = {"@module": "subprocess", "@class": "Popen", "args": ["true"]}
    outcome = parse_entry(RawEntry("b.json", json.dumps(other), "json"))
    assert outcome.rejections[0][1] == "not a structure" and "subprocess/Popen" in outcome.rejections[0][2]
    assert "subprocess" not in json.dumps(outcome.records)  # nothing built


def test_magnetic_cif_with_an_empty_moment_loop_reads(shared_datasets: Path) -> None:
    # pymatgen's writer leaves an empty _atom_site_moment_* loop; pymatgen's own reader then divides by zero
    path = shared_datasets / "messy_cifs" / "io_cif_mcif_CsCl-manual-oxi-ref.mcif"
    records = list(read_structures(path))
    assert [r.structure.composition.reduced_formula for r in records] == ["CsCl"]


def test_multi_block_cif_skips_blocks_without_atoms(tmp_path: Path) -> None:
    body = _nacl().to(fmt="cif").split("data_", 1)[1].split("\n", 1)[1]
    text = (
        "data_global\n_publ_section_title 'bibliography only'\n\n"
        f"data_first\n{body}\n"
        "data_unknown\n_cell_length_a 3\n_cell_length_b 3\n_cell_length_c 3\n"
        "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
        "loop_\n_atom_site_label\n_atom_site_fract_x\n_atom_site_fract_y\n_atom_site_fract_z\n? ? ? ?\n\n"
        f"data_second\n{body}\n"
    )
    (tmp_path / "multi.cif").write_text(text)
    report = ReadReport()
    records = list(read_structures(tmp_path / "multi.cif", report=report))
    assert [r.id for r in records] == ["multi.cif#first", "multi.cif#second"]
    assert [(r.id, r.reason) for r in report.rejections] == [
        ("multi.cif#global", "no atoms in block"),
        ("multi.cif#unknown", "no atoms in block"),
    ]


def test_pauling_file_blocks_get_their_own_reasons(shared_datasets: Path) -> None:
    report = ReadReport()
    list(read_structures(shared_datasets / "messy_cifs" / "cif_PF_sd_1011081.cif", report=report))
    reasons = {r.id.split("#", 1)[1]: r.reason for r in report.rejections}
    assert reasons["sm_global"] == "no atoms in block"
    assert reasons["sm_isp_SD1011081-standardized_unitcell"] == "disordered"  # Zr/Nb share a site
    assert all("No structure parsed for section 1" not in r.detail for r in report.rejections)

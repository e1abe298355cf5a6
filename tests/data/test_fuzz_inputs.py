"""Fuzz inputs for the commands that read structures: every bad file is rejected with a reason.

The test builds each broken input itself in a temporary folder: NaN/inf cells and coordinates,
negative / zero / huge cell lengths, overlapping atoms, a POSCAR without species, corrupt and
truncated gzip, zero-byte and binary files, JSON naming arbitrary modules, multi-block CIFs with
empty blocks, a symlink pointing at itself. Each case is read on its own (``parse_entry``, bounded by
a timeout) and all together through ``xtalgen data prepare`` and ``xtalgen evaluate`` run as separate
processes: exit 0 with a per-entry reason, or exit 1/2 with one line naming the input, never a
traceback, a hang (``subprocess`` timeout) or a death by signal.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

import xtalgen
from xtalgen.data.readers import iter_raw_entries, parse_entry
from xtalgen.data.records import REJECTION_REASONS, ReadReport

SRC = Path(xtalgen.__file__).resolve().parents[1]

CSCL = """data_CsCl
_symmetry_space_group_name_H-M   'P 1'
_cell_length_a   {a}
_cell_length_b   4.2
_cell_length_c   4.2
_cell_angle_alpha   90
_cell_angle_beta   90
_cell_angle_gamma   {gamma}
_symmetry_Int_Tables_number   1
loop_
 _symmetry_equiv_pos_site_id
 _symmetry_equiv_pos_as_xyz
  1  'x, y, z'
loop_
 _atom_site_type_symbol
 _atom_site_label
 _atom_site_symmetry_multiplicity
 _atom_site_fract_x
 _atom_site_fract_y
 _atom_site_fract_z
 _atom_site_occupancy
  Cs  Cs0  1  0.0  0.0  0.0  1
  Cl  Cl1  1  {x}  {x}  {x}  1
"""


def _cif(a: str = "4.2", x: str = "0.5", gamma: str = "90") -> str:
    return CSCL.format(a=a, x=x, gamma=gamma)


def _poscar_without_species() -> str:
    return "CsCl without symbols\n1.0\n4.2 0 0\n0 4.2 0\n0 0 4.2\n1 1\nDirect\n0 0 0\n0.5 0.5 0.5\n"


def _json_naming_a_module() -> str:
    data = Structure(Lattice.cubic(4.2), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).as_dict()
    data["sites"][0]["properties"] = {"x": {"@module": "this", "@class": "Nothing"}}
    return json.dumps(data)


def _multi_block() -> str:
    body = _cif().split("\n", 1)[1]
    return f"data_bibliography\n_publ_section_title 'no atoms here'\n\ndata_one\n{body}\ndata_two\n{body}"


#: file name -> (content, reasons of its entries; None: the file is read and kept)
CASES: dict[str, tuple[str | bytes, set[str] | None]] = {
    "good.cif": (_cif(), None),
    "nan_cell.cif": (_cif(a="nan"), {"non-finite numbers"}),
    "inf_cell.cif": (_cif(a="inf"), {"non-finite numbers"}),
    "nan_coordinate.cif": (_cif(x="nan"), {"non-finite numbers"}),
    "negative_length.cif": (_cif(a="-4.2"), {"impossible cell"}),
    "zero_length.cif": (_cif(a="0"), {"impossible cell"}),
    "huge_length.cif": (_cif(a="1e30"), {"impossible cell"}),
    "flat_angle.cif": (_cif(gamma="180"), {"impossible cell"}),
    "overlapping_atoms.cif": (_cif(x="0.0"), {"overlapping atoms"}),
    "POSCAR_no_species": (_poscar_without_species(), {"no element symbols"}),
    "truncated.cif.gz": (gzip.compress(_cif().encode())[:40], {"unreadable file"}),
    "not_gzip.cif.gz": (b"\x1f\x8b\x08\x00 this is not deflate data", {"unreadable file"}),
    "zero_bytes.cif": (b"", {"empty"}),
    "binary.cif": (bytes(range(256)) * 4, {"empty", "unparseable"}),
    "binary.json": (bytes(range(256)) * 4, {"unparseable"}),
    "module.json": (_json_naming_a_module(), None),
    "popen.json": (json.dumps({"@module": "subprocess", "@class": "Popen", "args": ["true"]}), {"not a structure"}),
    "multi_block.cif": (_multi_block(), {"no atoms in block"}),
    "garbage.extxyz": ("2\nLattice=\"nan 0 0 0 1 0 0 0 1\" Properties=species:S:1:pos:R:3\nH 0 0 0\nH 1 1 1\n",
                       {"non-finite numbers", "unparseable"}),
}  # fmt: skip


def _write_cases(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (content, _) in CASES.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    os.symlink("loop.cif", folder / "loop.cif")  # points at itself
    return folder


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_is_kept_or_rejected_with_its_reason(tmp_path: Path, name: str) -> None:
    folder = _write_cases(tmp_path / "in")
    report = ReadReport()
    entries = list(iter_raw_entries(folder / name, report))
    rejections = [(r.id, r.reason) for r in report.rejections]
    kept = []
    for entry in entries:
        outcome = parse_entry(entry, timeout=10)
        rejections += [(eid, reason) for eid, reason, _ in outcome.rejections]
        kept += [r.id for r in outcome.records]
    expected = CASES[name][1]
    assert all(reason in REJECTION_REASONS for _, reason in rejections)
    assert all(eid.split("#")[0] == name for eid, _ in rejections)
    if expected is None:
        assert kept and not rejections, rejections
    elif name == "multi_block.cif":
        assert kept == ["multi_block.cif#one", "multi_block.cif#two"]
        assert rejections == [("multi_block.cif#bibliography", "no atoms in block")]
    else:
        assert not kept and len(rejections) == 1 and rejections[0][1] in expected, rejections


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "xtalgen.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    text = result.stdout + result.stderr
    assert result.returncode >= 0, f"killed by signal {-result.returncode}: {text[-2000:]}"
    assert "Traceback" not in text and "Aborted" not in text, text[-3000:]
    assert "Zen of Python" not in text  # module.json imported nothing


@pytest.mark.timeout(300)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_data_prepare_on_the_fuzz_folder(tmp_path: Path, workers: str) -> None:
    folder = _write_cases(tmp_path / "in")
    out = tmp_path / "fuzz.parquet"
    result = _run(["data", "prepare", str(folder), "-o", str(out), "--workers", workers], tmp_path, timeout=240)
    _assert_clean(result)
    assert result.returncode == 0, result.stdout + result.stderr
    with open(f"{out}.rejections.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_file: dict[str, set[str]] = {}
    for row in rows:
        by_file.setdefault(row["id"].split("#")[0], set()).add(row["reason"])
    for name, (_, expected) in CASES.items():
        if expected is None:
            assert name not in by_file, (name, by_file.get(name))
        else:
            assert by_file.get(name) and by_file[name] <= expected, (name, by_file.get(name))
    from xtalgen.data.dataset import load_dataset

    ids = sorted(load_dataset(out).ids)
    assert ids == ["good.cif", "module.json", "multi_block.cif#one", "multi_block.cif#two"]


@pytest.mark.timeout(300)
def test_evaluate_on_the_fuzz_folder(tmp_path: Path) -> None:
    folder = _write_cases(tmp_path / "in")
    args = ["evaluate", str(folder), "-o", str(tmp_path / "report"), "--workers", "1", "--quiet",
            "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    result = _run(args, tmp_path, timeout=240)
    _assert_clean(result)
    assert result.returncode == 0, result.stdout + result.stderr
    import pandas as pd

    per_sample = pd.read_csv(tmp_path / "report" / "per_sample.csv", dtype={"id": str}, keep_default_na=False)
    reasons = dict(zip(per_sample["id"], per_sample["struct_reason"], strict=True))
    for name, (_, expected) in CASES.items():
        if expected is not None and name not in ("multi_block.cif", "overlapping_atoms.cif"):
            assert reasons[name].split(":")[0] in expected, (name, reasons[name])
    assert reasons["good.cif"] == "" and reasons["multi_block.cif#two"] == ""
    assert "multi_block.cif#bibliography" not in reasons  # a block without atoms is no sample
    # evaluation keeps overlapping atoms: structural validity scores them
    assert reasons["overlapping_atoms.cif"].startswith("atoms 0.000 Å apart")


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("name", "code", "phrase"),
    [("missing.cif", 2, "does not exist"), ("notes.txt", 1, "unknown structure file type")],
)
def test_data_prepare_stops_with_one_line_for_an_unusable_source(
    tmp_path: Path, name: str, code: int, phrase: str
) -> None:
    if name == "notes.txt":
        (tmp_path / name).write_text("not a structure")
    result = _run(["data", "prepare", str(tmp_path / name), "-o", str(tmp_path / "x.parquet")], tmp_path, timeout=90)
    _assert_clean(result)
    assert result.returncode == code and phrase in " ".join(result.stdout.split()), result.stdout
    assert name in result.stdout.replace("\n", "")

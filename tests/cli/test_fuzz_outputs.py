"""Fuzz the commands' output handling with broken inputs (issue 16, items 1, 3, 7, 9, 11).

Every case runs in its own temporary folder and is bounded by a timeout. Each must end with exit 0 (bad
entries listed with their reason) or exit 1/2 with exactly one ``error:`` line naming the input and the
reason; never a traceback, a file written or changed outside the output folder, or a stale result.
Relaxations use 1-2 CHGNet steps so the cases stay cheap.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter
from typer.testing import CliRunner, Result

from xtalgen.cli.main import app

pytestmark = pytest.mark.timeout(300, method="thread")  # a hang fails the run instead of blocking it

NACL = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
KBR = Structure(Lattice.cubic(6.60), ["K", "Br"], [[0, 0, 0], [0.5, 0.5, 0.5]])
CSCL = Structure(Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
#: Ids that must not become paths as they are: parents, separators, dots, hidden, too long.
HOSTILE_IDS = ["../../escaped_x", "..", ".", "a/b", ".hidden", "x" * 300]


# --- helpers ---------------------------------------------------------------------------------------
def _write_csv(path: Path, rows: Iterable[tuple[str, Structure]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "cif"])
        for sid, s in rows:
            writer.writerow([sid, str(CifWriter(s))])
    return path


def _snapshot(root: Path) -> dict[Path, tuple[int, int]]:
    out = {}
    for p in root.rglob("*"):
        st = p.lstat()
        out[p] = (st.st_size, st.st_mtime_ns) if p.is_file() else (-1, 0)
    return out


def _run(args: list, root: Path, writes: Iterable[Path] = (), env: dict | None = None) -> Result:
    """Invoke the CLI; fail on a traceback or any file made or changed in ``root`` outside ``writes``."""
    before = _snapshot(root)
    result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n{result.output}"
    )
    assert "Traceback" not in result.output, result.output
    after = _snapshot(root)
    allowed = [Path(w) for w in writes]
    changed = [p for p, sig in after.items() if before.get(p) != sig]
    inside = [p for p in changed if any(p == a or a in p.parents or (p.is_dir() and p in a.parents) for a in allowed)]
    outside = sorted(set(changed) - set(inside))  # the output folder's own parents may be made
    assert not outside, f"written outside the output folder: {outside}"
    return result


def _one_error(result: Result, *names: object, codes: tuple[int, ...] = (1, 2)) -> str:
    """The single ``error:`` line of a refused command; it must name every one of ``names``."""
    assert result.exit_code in codes, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    for name in names:
        assert str(name) in errors[0], (name, errors[0])
    return errors[0]


@pytest.fixture
def bad_sources(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Inputs every reading command must refuse in one line: (path, words of the reason)."""
    no_cif = tmp_path / "no_cif.csv"
    no_cif.write_text("id,foo\n1,2\n")
    empty = tmp_path / "zero_bytes.csv"
    empty.write_bytes(b"")
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("id,cif\nx,\"data_caf\xe9\n_cell_length_a 4\n\"\n".encode("latin-1"))
    folder = tmp_path / "empty_folder"
    folder.mkdir()
    return {"no cif column": (no_cif, "'cif' column"), "zero-byte CSV": (empty, "empty CSV"),
            "Latin-1 CSV": (latin, "not UTF-8"), "empty folder": (folder, "no structures")}  # fmt: skip


# --- relax: resume key (item 1), folder policy (9), ids (3), errors (7) ----------------------------
def test_relax_never_returns_a_stale_record(tmp_path: Path):
    nacl = _write_csv(tmp_path / "nacl.csv", [("cand1", NACL)])
    kbr = _write_csv(tmp_path / "kbr.csv", [("cand1", KBR)])
    out = tmp_path / "relaxed"
    base = ["relax", "-o", out, "--steps", "1", "--workers", "1", "--quiet"]
    result = _run([*base[:1], nacl, *base[1:]], tmp_path, [out])
    assert result.exit_code == 0 and pd.read_csv(out / "summary.csv")["formula"].tolist() == ["NaCl"]
    # the same folder again: refused before any work, in one line
    refused = _run([*base[:1], kbr, *base[1:]], tmp_path, [out])
    _one_error(refused, out, "not empty", "--resume", "--overwrite", codes=(2,))
    # resuming with another structure under the same id relaxes it again and says so
    result = _run([*base[:1], kbr, *base[1:], "--resume"], tmp_path, [out])
    assert result.exit_code == 0 and "relaxed cand1 again" in result.output and "structure differs" in result.output
    assert pd.read_csv(out / "summary.csv")["formula"].tolist() == ["KBr"]
    assert [p.name for p in (out / "cifs").iterdir()] == ["cand1.cif"]
    assert Structure.from_file(out / "cifs" / "cand1.cif").composition.reduced_formula == "KBr"
    # more steps: the 1-step record is not reused
    result = _run([*base[:1], kbr, "-o", out, "--steps", "2", "--workers", "1", "--quiet", "--resume"], tmp_path,
                  [out])  # fmt: skip
    assert result.exit_code == 0 and "settings changed (steps 1 -> 2)" in " ".join(result.output.split())
    last = json.loads((out / "relax.jsonl").read_text().splitlines()[-1])
    assert last["settings"]["steps"] == 2 and last["settings"]["potential"] == "chgnet"
    # --overwrite starts afresh
    result = _run([*base[:1], kbr, *base[1:], "--overwrite"], tmp_path, [out])
    assert result.exit_code == 0 and len((out / "relax.jsonl").read_text().splitlines()) == 1


def test_relax_hostile_ids_stay_inside_the_output_folder(tmp_path: Path):
    structures = [NACL, KBR, CSCL, NACL, KBR, CSCL]
    source = _write_csv(tmp_path / "ids.csv", zip(HOSTILE_IDS, structures, strict=True))
    out = tmp_path / "a" / "b" / "out"
    result = _run(["relax", source, "-o", out, "--steps", "1", "--workers", "1", "--quiet"], tmp_path, [out])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "summary.csv", dtype={"id": str}, keep_default_na=False)
    assert table["id"].tolist() == HOSTILE_IDS and table["accepted"].all()  # original ids kept in the table
    files = sorted((out / "cifs").iterdir())
    assert len(files) == len(HOSTILE_IDS) and sorted(table["cif"]) == sorted(f"cifs/{p.name}" for p in files)
    assert all(len(p.name) <= 104 and not p.name.startswith(".") for p in files)


@pytest.mark.parametrize("case", ["no cif column", "zero-byte CSV", "Latin-1 CSV", "empty folder"])
def test_relax_bad_source_is_one_line(case, bad_sources, tmp_path: Path):
    source, reason = bad_sources[case]
    out = tmp_path / "out"
    result = _run(["relax", source, "-o", out, "--steps", "1", "--workers", "1", "--quiet"], tmp_path, [out])
    _one_error(result, source, reason)
    assert not (out / "summary.csv").exists()


def _refused_outputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    (tmp_path / "a_file").write_text("not a folder")
    return {"file": (tmp_path / "a_file", "is a file"), "under a file": (tmp_path / "a_file" / "sub", "is a file")}


@pytest.mark.parametrize("command", ["relax", "evaluate", "export vasp", "generate", "crystens decode"])
@pytest.mark.parametrize("kind", ["file", "under a file"])
def test_output_path_that_is_a_file_is_refused_before_work(command, kind, tmp_path: Path):
    source = _write_csv(tmp_path / "in.csv", [("c1", NACL)])
    if command == "crystens decode":
        source = tmp_path / "arr.npy"
        source.write_bytes(b"")
    out, reason = _refused_outputs(tmp_path)[kind]
    args = {"generate": ["generate", "-n", "1"]}.get(command, [*command.split(), source])
    result = _run([*args, "-o", out], tmp_path, [])
    _one_error(result, out, reason, codes=(2,))


def test_unwritable_output_is_refused_before_work(tmp_path: Path, monkeypatch):
    from xtalgen.data import output_folder

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(output_folder, "_try_write", refuse)  # root ignores chmod; fake the refusal
    source = _write_csv(tmp_path / "in.csv", [("c1", NACL)])
    for args in (["relax", source], ["evaluate", source], ["export", "vasp", source], ["data", "prepare", source],
                 ["crystens", "encode", source], ["data", "energies", source]):  # fmt: skip
        out = tmp_path / "ro" / ("x.parquet" if args[0] == "data" else "x.npy" if "encode" in args else "x")
        _one_error(_run([*args, "-o", out], tmp_path, []), "cannot write into", "Permission denied", codes=(2,))


# --- evaluate ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["no cif column", "zero-byte CSV", "Latin-1 CSV", "empty folder"])
def test_evaluate_bad_source_is_one_line(case, bad_sources, tmp_path: Path):
    source, reason = bad_sources[case]
    out = tmp_path / "report"
    result = _run(["evaluate", source, "-o", out, "--workers", "1", "--quiet", "--cache-dir", tmp_path / "c"],
                  tmp_path, [out, tmp_path / "c"])  # fmt: skip
    _one_error(result, source, reason)


def test_evaluate_refuses_a_used_folder_and_overwrite_leaves_nothing_stale(tmp_path: Path):
    source = _write_csv(tmp_path / "gen.csv", [("../../escaped_x", NACL), ("y" * 300, KBR)])
    out, cache = tmp_path / "report", tmp_path / "cache"
    for stale in ("relaxed/old.cif", "gallery/07_old.png", "metrics.json"):
        (out / stale).parent.mkdir(parents=True, exist_ok=True)
        (out / stale).write_text("stale")
    (out / "my_notes.txt").write_text("mine")
    # --known none: NaCl and KBr are in the shipped table of known structures, and the gallery shows novel ones
    args = ["evaluate", source, "-o", out, "--workers", "1", "--quiet", "--cache-dir", cache, "--skip", "coverage",
            "--known", "none"]
    _one_error(_run(args, tmp_path, [out, cache]), out, "not empty", "--overwrite", codes=(2,))
    assert (out / "relaxed" / "old.cif").is_file()  # refused: nothing touched
    result = _run([*args, "--overwrite"], tmp_path, [out, cache])
    assert result.exit_code == 0, result.output
    assert not (out / "relaxed").exists() and (out / "my_notes.txt").read_text() == "mine"
    gallery = sorted(p.name for p in (out / "gallery").iterdir())
    assert len(gallery) == 2 and "07_old.png" not in gallery and all(len(n) <= 110 for n in gallery)
    assert pd.read_csv(out / "per_sample.csv")["id"].tolist() == ["../../escaped_x", "y" * 300]


# --- export vasp ------------------------------------------------------------------------------------
@pytest.fixture
def no_potcars(monkeypatch):
    from pymatgen.core import SETTINGS

    monkeypatch.delenv("PMG_VASP_PSP_DIR", raising=False)
    monkeypatch.setitem(SETTINGS, "PMG_VASP_PSP_DIR", None)


def test_report_relaxed_cifs_with_hostile_ids_stay_inside_and_export_finds_them(tmp_path: Path, no_potcars):
    """The stability report's relaxed/ CIFs and gallery use the same names export vasp looks up."""
    from xtalgen.evaluation.report import write_report
    from xtalgen.evaluation.runner import EvaluationResult

    ids = ["../../escaped_x", "..", "w" * 300]
    structures = dict(zip(ids, [NACL, KBR, CSCL], strict=True))
    per_sample = pd.DataFrame({"id": ids, "struct_valid": True, "comp_valid": True, "formula": ["NaCl", "KBr", "CsCl"],
                               "e_hull": [0.05, 0.0, 0.2], "sun": [False, True, False]})  # fmt: skip
    result = EvaluationResult({"n_samples": 3.0}, per_sample, pd.DataFrame(), None, structures, structures)
    out = tmp_path / "a" / "report"
    before = _snapshot(tmp_path)
    write_report(result, out)
    new = [p for p in _snapshot(tmp_path) if p not in before]
    assert all(p == out or out in p.parents or p in out.parents for p in new), new
    assert len(list((out / "relaxed").iterdir())) == 3 and len(list((out / "gallery").iterdir())) == 3
    vasp = tmp_path / "vasp"
    result = _run(["export", "vasp", out, "-o", vasp], tmp_path, [vasp])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(vasp / "candidates.csv", dtype=str)["id"].tolist() == ["..", "../../escaped_x", "w" * 300]


def test_export_vasp_hostile_ids_and_overwrite(tmp_path: Path, no_potcars):
    ids = ["..", ".", "../up", "x" * 300]
    source = _write_csv(tmp_path / "c.csv", zip(ids, [NACL, KBR, CSCL, NACL], strict=True))
    out = tmp_path / "deep" / "vasp"
    result = _run(["export", "vasp", source, "-o", out], tmp_path, [out])
    assert result.exit_code == 0, result.output
    index = pd.read_csv(out / "candidates.csv", dtype=str, keep_default_na=False)
    assert index["id"].tolist() == ids
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == sorted(index["folder"]) and len(folders) == 4
    for folder in folders:
        assert {p.name for p in (out / folder).iterdir()} == {"POSCAR", "INCAR", "KPOINTS", "POTCAR.spec"}
    (out / "README.txt").write_text("mine")
    _one_error(_run(["export", "vasp", source, "-o", out, "--top", "1"], tmp_path, [out]), out, "not empty",
               codes=(2,))  # fmt: skip
    result = _run(["export", "vasp", source, "-o", out, "--top", "1", "--overwrite"], tmp_path, [out])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(["README.txt", "candidates.csv", index["folder"][0]])


@pytest.mark.parametrize("case", ["no cif column", "zero-byte CSV", "Latin-1 CSV", "empty folder"])
def test_export_vasp_bad_source_is_one_line(case, bad_sources, tmp_path: Path):
    source, reason = bad_sources[case]
    out = tmp_path / "vasp"
    _one_error(_run(["export", "vasp", source, "-o", out], tmp_path, [out]), source, reason)


# --- generate's output handling ---------------------------------------------------------------------
def test_write_generation_keeps_hostile_ids_inside(tmp_path: Path):
    from xtalgen.data.generation_folder import Candidate, write_generation

    out = tmp_path / "g" / "h"
    before = _snapshot(tmp_path)
    write_generation(out, [Candidate(i, NACL) for i in HOSTILE_IDS])
    new = [p for p in _snapshot(tmp_path) if p not in before]
    assert all(p == out or out in p.parents or p in out.parents for p in new), new
    table = pd.read_csv(out / "summary.csv", dtype={"id": str}, keep_default_na=False)
    assert table["id"].tolist() == HOSTILE_IDS
    assert all((out / c).is_file() and (out / c).parent == out / "cifs" for c in table["cif"])


def _used_generation(tmp_path: Path) -> Path:
    out = tmp_path / "G"
    (out / "cifs").mkdir(parents=True)
    for k in range(5):
        CifWriter(NACL).write_file(out / "cifs" / f"stale_{k}.cif")
    (out / "summary.csv").write_text("id,accepted\nstale_0,True\n")
    return out


def test_generate_refuses_a_used_folder_before_sampling(tmp_path: Path):
    out = _used_generation(tmp_path)
    for model in ("pgcgm", "crystens-diffusion"):  # crystens-diffusion: the shipped model is its default
        result = _run(["generate", "--model", model, "-n", "2", "-o", out], tmp_path, [])
        _one_error(result, out, "not empty", "--overwrite", codes=(2,))
    assert len(list((out / "cifs").iterdir())) == 5


@pytest.mark.slow
def test_generate_overwrite_leaves_no_stale_cifs(tmp_path: Path):
    out = _used_generation(tmp_path)
    (out / "keep.txt").write_text("mine")
    args = ["generate", "-n", "1", "--workers", "1", "-o", out, "--overwrite"]  # draws until 1 is accepted
    result = _run(args, tmp_path, [out])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "summary.csv")
    cifs = sorted(f"cifs/{p.name}" for p in (out / "cifs").iterdir())
    assert cifs == sorted(table["cif"]) and len(cifs) == 1 and (out / "keep.txt").is_file()


# --- crystens encode / decode -----------------------------------------------------------------------
@pytest.mark.parametrize("case", ["no cif column", "zero-byte CSV", "Latin-1 CSV"])
def test_crystens_encode_bad_source_is_one_line(case, bad_sources, tmp_path: Path):
    source, reason = bad_sources[case]
    out = tmp_path / "enc" / "x.npy"
    _one_error(_run(["crystens", "encode", source, "-o", out, "--workers", "1"], tmp_path, [out.parent]),
               source, reason)  # fmt: skip


def test_crystens_encode_into_a_folder_is_refused(tmp_path: Path):
    source = _write_csv(tmp_path / "in.csv", [("c1", NACL)])
    (tmp_path / "dir").mkdir()
    _one_error(_run(["crystens", "encode", source, "-o", tmp_path / "dir"], tmp_path, []), "is a folder", codes=(2,))


def test_crystens_decode_hostile_ids_and_used_folder(tmp_path: Path):
    source = _write_csv(tmp_path / "in.csv", [("../../escaped_x", NACL), ("z" * 300, CSCL)])
    arr = tmp_path / "enc" / "t.npy"
    result = _run(["crystens", "encode", source, "-o", arr, "--size", "32", "--workers", "1"], tmp_path, [arr.parent])
    assert result.exit_code == 0, result.output
    out = tmp_path / "dec"
    result = _run(["crystens", "decode", arr, "-o", out, "--workers", "1"], tmp_path, [out])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "summary.csv", dtype={"id": str})
    assert table["id"].tolist() == ["../../escaped_x", "z" * 300]
    assert len(list((out / "cifs").iterdir())) == int(table["accepted"].sum()) == 2
    _one_error(_run(["crystens", "decode", arr, "-o", out, "--workers", "1"], tmp_path, [out]), out, "not empty",
               codes=(2,))  # fmt: skip
    result = _run(["crystens", "decode", arr, "-o", out, "--workers", "1", "--limit", "1", "--overwrite"], tmp_path,
                  [out])  # fmt: skip
    assert result.exit_code == 0 and len(list((out / "cifs").iterdir())) == 1


def test_duplicate_ids_are_named_or_kept_apart(tmp_path: Path, no_potcars):
    source = _write_csv(tmp_path / "dup.csv", [("x", NACL), ("x", KBR)])
    for args in (["relax", source, "--steps", "1", "--workers", "1", "--quiet"], ["export", "vasp", source],
                 ["evaluate", source, "--workers", "1", "--quiet", "--cache-dir", tmp_path / "c"]):  # fmt: skip
        out = tmp_path / f"out_{args[0]}"
        _one_error(_run([*args, "-o", out], tmp_path, [out, tmp_path / "c"]), source, "'x' appears 2 times")
    arr = tmp_path / "enc" / "t.npy"  # encoding keeps both; decoding must not write one over the other
    assert _run(["crystens", "encode", source, "-o", arr, "--size", "32", "--workers", "1"], tmp_path,
                [arr.parent]).exit_code == 0  # fmt: skip
    out = tmp_path / "dec"
    assert _run(["crystens", "decode", arr, "-o", out, "--workers", "1"], tmp_path, [out]).exit_code == 0
    table = pd.read_csv(out / "summary.csv", dtype={"id": str})
    assert table["id"].tolist() == ["x", "x"] and table["cif"].tolist() == ["cifs/x.cif", "cifs/x~2.cif"]
    assert sorted(Structure.from_file(out / c).composition.reduced_formula for c in table["cif"]) == ["KBr", "NaCl"]


# --- data prepare (items 7 and 11) ------------------------------------------------------------------
@pytest.mark.parametrize("case", ["no cif column", "zero-byte CSV", "Latin-1 CSV"])
def test_prepare_bad_csv_is_one_line(case, bad_sources, tmp_path: Path):
    source, reason = bad_sources[case]
    out = tmp_path / "ds.parquet"
    result = _run(["data", "prepare", source, "-o", out, "--workers", "1"], tmp_path, [])
    _one_error(result, source, reason)


def test_prepare_without_suffix_writes_a_recognisable_dataset(tmp_path: Path):
    source = _write_csv(tmp_path / "in.csv", [("c1", NACL), ("c2", KBR)])
    out = tmp_path / "ds"
    result = _run(["data", "prepare", source, "-o", out, "--workers", "1"], tmp_path,
                  [tmp_path / "ds.parquet", tmp_path / "ds.parquet.rejections.csv"])  # fmt: skip
    assert result.exit_code == 0 and "ds.parquet" in result.output and not out.exists()
    enc = tmp_path / "enc"
    result = _run(["crystens", "encode", tmp_path / "ds.parquet", "-o", enc / "x.npy", "--size", "32",
                   "--workers", "1"], tmp_path, [enc])  # fmt: skip
    assert result.exit_code == 0, result.output


def test_prepare_progress_counts_raw_entries(tmp_path: Path):
    from ase.io import write as ase_write
    from pymatgen.io.ase import AseAtomsAdaptor

    from xtalgen.data.prepare import prepare_dataset

    folder = tmp_path / "src"
    folder.mkdir()
    ase_write(folder / "frames.extxyz", [AseAtomsAdaptor.get_atoms(s) for s in (NACL, KBR, CSCL)], format="extxyz")
    CifWriter(NACL).write_file(folder / "one.cif")
    steps: list[int] = []
    result = prepare_dataset(folder, tmp_path / "ds.parquet", workers=1, progress=steps.append)
    assert result.kept == 4 and sum(steps) == 2  # two files (the bar's total), four structures


def test_looping_symlinks_get_a_rejection_line(tmp_path: Path):
    folder = tmp_path / "src"
    folder.mkdir()
    CifWriter(NACL).write_file(folder / "good.cif")
    (folder / "a.cif").symlink_to("b.cif")
    (folder / "b.cif").symlink_to("a.cif")
    (folder / "self.cif").symlink_to("self.cif")
    (folder / "up").symlink_to(".")
    out = tmp_path / "ds.parquet"
    rejections = tmp_path / "ds.parquet.rejections.csv"
    result = _run(["data", "prepare", folder, "-o", out, "--workers", "1"], tmp_path, [out, rejections])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(rejections, dtype=str).set_index("id")
    for name in ("a.cif", "b.cif", "self.cif", "up"):
        assert "symbolic link loop" in " ".join(table.loc[name].astype(str)), table


# --- models listing (item 11) -----------------------------------------------------------------------
def test_models_is_readable_at_80_columns(tmp_path: Path):
    from xtalgen.pretrained import list_pretrained

    result = _run(["models"], tmp_path, [], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(len(line.rstrip()) for line in result.output.splitlines()) <= 80
    for info in list_pretrained():
        assert info.name in result.output and info.kind in result.output


def test_crystens_diffusion_has_a_shipped_default():
    from xtalgen.pretrained import resolve_pretrained

    assert resolve_pretrained("crystens-diffusion").name == "crystens-diffusion-mp20"


def test_a_kind_without_default_points_to_pretrained(tmp_path: Path):
    from xtalgen.pretrained.registry import read_registry, resolve_pretrained, write_registry

    raw = read_registry()
    raw["defaults"] = {k: v for k, v in raw["defaults"].items() if k != "crystens-diffusion"}
    write_registry(raw, tmp_path)
    with pytest.raises(ValueError, match="choose one with --pretrained .*crystens-diffusion-mp20"):
        resolve_pretrained("crystens-diffusion", root=tmp_path)

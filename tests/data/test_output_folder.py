"""Output paths are checked before the work, and a used output folder is refused, replaced or resumed."""

from __future__ import annotations

import pytest

from xtalgen.data import output_folder
from xtalgen.data.output_folder import OutputPathError, check_output_file, prepare_output_dir

OWNED = {"cifs", "summary.csv", "record.jsonl"}


def test_missing_or_empty_folder_is_fine(tmp_path):
    assert prepare_output_dir(tmp_path / "new" / "deeper", OWNED) == []
    assert not (tmp_path / "new").exists()  # nothing made before the work
    (tmp_path / "empty").mkdir()
    assert prepare_output_dir(tmp_path / "empty", OWNED) == []


def test_file_and_file_parent_are_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        prepare_output_dir(tmp_path / "f", OWNED)
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        prepare_output_dir(tmp_path / "f" / "sub", OWNED)
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output_file(tmp_path)
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        check_output_file(tmp_path / "f" / "x.parquet")
    check_output_file(tmp_path / "new" / "x.parquet")


def test_unwritable_folder_is_refused(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(output_folder, "_try_write", refuse)
    with pytest.raises(OutputPathError, match="cannot write into .*Permission denied"):
        prepare_output_dir(tmp_path / "out", OWNED)
    with pytest.raises(OutputPathError, match="cannot write into"):
        check_output_file(tmp_path / "x.npy")


def _used(tmp_path):
    out = tmp_path / "out"
    (out / "cifs").mkdir(parents=True)
    (out / "cifs" / "old.cif").write_text("x")
    (out / "summary.csv").write_text("x")
    (out / "record.jsonl").write_text("x")
    (out / "notes.txt").write_text("mine")
    return out


def test_used_folder_refused_then_overwritten_or_resumed(tmp_path):
    out = _used(tmp_path)
    with pytest.raises(OutputPathError, match="is not empty .*--overwrite"):
        prepare_output_dir(out, OWNED)
    with pytest.raises(OutputPathError, match="--resume"):
        prepare_output_dir(out, OWNED, resume_files={"record.jsonl"})
    removed = prepare_output_dir(out, OWNED, resume=True, resume_files={"record.jsonl"})
    assert {p.name for p in removed} == {"cifs", "summary.csv"}
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "record.jsonl"]
    out = _used(tmp_path / "again")
    prepare_output_dir(out, OWNED, overwrite=True, resume_files={"record.jsonl"})
    assert [p.name for p in out.iterdir()] == ["notes.txt"]  # only what the command owns is deleted


def test_folder_holding_the_input_is_never_cleared(tmp_path):
    out = _used(tmp_path)
    for source in (out, out / "cifs"):
        with pytest.raises(OutputPathError, match="holds the input"):
            prepare_output_dir(out, OWNED, overwrite=True, inputs=[source])
    assert (out / "cifs" / "old.cif").is_file()

"""One id -> file name rule: nothing escapes the folder, names stay unique, ordinary ids are unchanged."""

from __future__ import annotations

import pytest

from xtalgen.data.safe_names import HASH_LENGTH, MAX_NAME_LENGTH, safe_filename


@pytest.mark.parametrize("entry_id", ["mp-149", "cand_0001", "Ba2TiO4", "x.cif", "sample_000007"])
def test_ordinary_ids_are_kept(entry_id):
    assert safe_filename(entry_id) == entry_id


BAD = ["..", ".", "", "../../escaped_x", "a/b", "a\\b", "/etc/passwd", ".hidden", "x" * 300, "é" * 40, "CON",
       "nul.txt", "a b", "a\x00b", "\n", "~", "...", "a/../../b"]  # fmt: skip


@pytest.mark.parametrize("entry_id", BAD)
def test_bad_ids_become_plain_names(entry_id, tmp_path):
    name = safe_filename(entry_id)
    assert name not in ("", ".", "..") and not name.startswith(".")
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert len(name) <= MAX_NAME_LENGTH and name.isascii()
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()
    (tmp_path / f"{name}.cif").write_text("x")  # a real file system accepts it


def test_changed_names_are_unique_and_carry_a_hash():
    ids = ["a/b", "a_b", "a\\b", "a b", "x" * 300, "x" * 301, "..", "__", ".", "_"]
    names = [safe_filename(i) for i in ids]
    assert len(set(names)) == len(ids)
    assert safe_filename("a_b") == "a_b" and safe_filename("a/b").startswith("a_b-")
    assert len(safe_filename("a/b")) == 3 + 1 + HASH_LENGTH
    long = safe_filename("x" * 300)
    assert len(long) == MAX_NAME_LENGTH and long.startswith("x" * 80)
    assert safe_filename("x" * 300) == long  # deterministic


def test_repeated_ids_get_distinct_names():
    from xtalgen.data.safe_names import unique_filenames

    names = unique_filenames(["x", "x", "a/b", "x", "a/b"])
    assert names[0] == "x" and names[1] == "x~2" and names[3] == "x~3" and len(set(names)) == 5
    assert names[4] == names[2] + "~2" and "~" not in safe_filename("x~2")

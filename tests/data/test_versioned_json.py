"""One owner of the versioned-JSON load pattern: format/version checks and their one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xtalgen.data.versioned_json import check_format, check_version, read_versioned_json


def test_check_version_accepts_known_and_refuses_newer_or_unknown() -> None:
    check_version({"version": 1}, 2, "a thing")
    check_version({}, 2, "a thing")  # no version recorded: the current one
    with pytest.raises(ValueError, match=r"^f.json: a thing of version 3, written by a newer xtalgen "
                                         r"\(this one reads up to 2\); upgrade xtalgen$"):  # fmt: skip
        check_version({"version": 3}, 2, "a thing", where="f.json")
    for bad in ("2", 0, -1, 1.5, True, None):
        with pytest.raises(ValueError, match=r"a thing of unknown format_version .* \(this xtalgen reads 1 to 2\)"):
            check_version({"format_version": bad}, 2, "a thing", key="format_version")


def test_check_format_names_format_and_version() -> None:
    check_format({"format": "vol", "version": 1}, "vol", 1, "a table")
    with pytest.raises(ValueError, match=r"not a table \(format 'other'\)"):
        check_format({"format": "other", "version": 1}, "vol", 1, "a table")
    with pytest.raises(ValueError, match="a table of version 2, written by a newer xtalgen"):
        check_format({"format": "vol", "version": 2}, "vol", 1, "a table")
    with pytest.raises(ValueError, match=r"not a table of version 1 \(version None\)"):
        check_format({"format": "vol"}, "vol", 1, "a table", exact=True)


def test_read_versioned_json_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"format_version": 1, "x": 2}))
    assert read_versioned_json(path, "a record", 1) == {"format_version": 1, "x": 2}
    path.write_text(json.dumps({"format_version": 9}))
    with pytest.raises(ValueError, match=rf"^{path}: a record of format_version 9, written by a newer xtalgen"):
        read_versioned_json(path, "a record", 1)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match=rf"^{path}: not a record \(expected a JSON object\)$"):
        read_versioned_json(path, "a record", 1)
    path.write_text("{broken")
    with pytest.raises(ValueError, match=rf"^{path}: cannot be read as a record \("):
        read_versioned_json(path, "a record", 1)

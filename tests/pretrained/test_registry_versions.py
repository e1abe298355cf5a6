"""registry.json is read through the shared versioned-JSON reader: newer or unknown versions are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xtalgen.pretrained.registry import FORMAT_VERSION, list_pretrained, read_registry


def _registry(folder: Path, version: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "registry.json").write_text(json.dumps({"format_version": version, "defaults": {}, "models": []}))
    return folder


def test_current_version_reads_and_newer_or_unknown_are_one_line_errors(tmp_path: Path) -> None:
    assert read_registry(_registry(tmp_path / "ok", FORMAT_VERSION))["models"] == []
    assert read_registry(tmp_path / "none")["format_version"] == FORMAT_VERSION  # no registry yet: empty
    folder = _registry(tmp_path / "new", FORMAT_VERSION + 1)
    with pytest.raises(ValueError) as err:
        list_pretrained(folder)
    message = str(err.value)
    assert "\n" not in message and str(folder / "registry.json") in message
    assert f"a pretrained registry of format_version {FORMAT_VERSION + 1}, written by a newer xtalgen" in message
    with pytest.raises(ValueError, match="a pretrained registry of unknown format_version 'two'"):
        read_registry(_registry(tmp_path / "odd", "two"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "registry.json").write_text("{not json")
    with pytest.raises(ValueError, match="cannot be read as a pretrained registry"):
        read_registry(tmp_path / "bad")

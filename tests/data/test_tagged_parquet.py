"""The shared Parquet-with-metadata writer/reader used by datasets, structure and reference tables."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from xtalgen.data.tagged_parquet import read_tagged_metadata, write_tagged_table

KEY = b"xtalgen.test"
WORDS = {"not_parquet": "is not a test table (Parquet)", "no_metadata": "has no test metadata"}


def test_round_trip_and_errors(tmp_path: Path) -> None:
    path = write_tagged_table(pa.table({"x": [1, 2]}), tmp_path / "t.parquet", KEY, {"format_version": 2, "a": 1})
    assert read_tagged_metadata(path, KEY, **WORDS, max_version=2) == {"format_version": 2, "a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]  # no temporary file left behind
    with pytest.raises(ValueError, match="t.parquet: an xtalgen Parquet table of format_version 2, written by a newer"):
        read_tagged_metadata(path, KEY, **WORDS, max_version=1)
    assert read_tagged_metadata(path, KEY, **WORDS)["a"] == 1  # no version check asked for
    with pytest.raises(ValueError, match="t.parquet has no test metadata"):
        read_tagged_metadata(path, b"other", **WORDS)
    text = tmp_path / "x.parquet"
    text.write_text("not parquet")
    with pytest.raises(ValueError, match="x.parquet is not a test table \\(Parquet\\): "):
        read_tagged_metadata(text, KEY, **WORDS)

"""CSV tables: text columns stay text ("NaN" is sodium nitride, not a missing value), one-line errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from xtalgen.data.csv_table import read_csv_table

ROWS = (
    "material_id,pretty_formula,formula,elements,chemsys,nsites,energy,cif\n"
    "mp-1009221,NaN,NaN,NaN,N-Na,4,NaN,data_x\n"  # element-set string and formulas that read as NaN in pandas
    "mp-2,NA,None,,Na,1,-1.5,\n"
)


def test_formula_nan_stays_a_formula(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(ROWS)
    frame = read_csv_table(path)
    first, second = frame.to_dict("records")
    assert first["pretty_formula"] == "NaN" and first["formula"] == "NaN" and first["elements"] == "NaN"
    assert second["pretty_formula"] == "NA" and second["formula"] == "None"
    assert np.isnan(second["elements"]) and np.isnan(second["cif"])  # an empty cell is still missing
    assert np.isnan(first["energy"]) and second["energy"] == -1.5  # numeric columns: pandas' defaults
    assert frame["nsites"].dtype.kind == "i"
    assert read_csv_table(path, usecols=["formula"])["formula"].tolist() == ["NaN", "None"]
    # a caller's own NA settings win
    assert np.isnan(read_csv_table(path, keep_default_na=True)["formula"].iloc[0])


def test_unreadable_tables_are_one_line_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"empty.csv: empty CSV file \(no header line\)"):
        read_csv_table(empty)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("id,formula\n1,Fe\xe9\n".encode("latin1"))
    with pytest.raises(ValueError, match="latin.csv: not UTF-8 text"):
        read_csv_table(latin)

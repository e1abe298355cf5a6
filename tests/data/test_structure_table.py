"""Compact structure tables: round trip from a prepared dataset, properties without Structures, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from xtalgen.data.dataset import load_dataset
from xtalgen.data.prepare import prepare_dataset
from xtalgen.data.structure_table import (
    is_structure_table,
    load_structure_table,
    structure_table_from_dataset,
    write_structure_table,
)
from xtalgen.evaluation.properties import PROPERTY_KEYS, structure_properties

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("st") / "tiny.parquet"
    return prepare_dataset(REPO / "examples" / "mp_tiny.csv", out, workers=1).path


def test_round_trip_and_properties(tiny: Path, tmp_path: Path) -> None:
    ds = load_dataset(tiny)
    rows = [3, 0, 17, 39, 22]
    path = write_structure_table(structure_table_from_dataset(ds, rows), tmp_path / "t.parquet", {"source": "tiny"})
    assert is_structure_table(path) and not is_structure_table(tiny) and not is_structure_table(tmp_path / "x")
    table = load_structure_table(path)
    assert len(table) == 5 and table.ids == [ds.ids[r] for r in rows]
    assert table.meta["source"] == "tiny" and table.meta["n_structures"] == 5
    props = table.properties()
    for k, r in enumerate(rows):
        ref = ds.structure(r)
        mine = table.structure(k)
        assert np.allclose(mine.lattice.matrix, ref.lattice.matrix, atol=1e-5)
        assert np.allclose(mine.frac_coords, ref.frac_coords, atol=1e-6)
        assert list(mine.atomic_numbers) == list(ref.atomic_numbers)
        assert table.formulas[k] == ref.composition.reduced_formula
        # the descriptors the distribution metrics use, without building Structures
        expected = structure_properties(ref)
        for key in PROPERTY_KEYS:
            assert props[key].iat[k] == pytest.approx(expected[key], rel=1e-5), key
        assert props["atomic_numbers"].iat[k] == expected["atomic_numbers"]
    # float32 storage: a few bytes per site
    whole = write_structure_table(structure_table_from_dataset(ds), tmp_path / "all.parquet", {})
    n_sites = int(ds.frame["nsites"].sum())
    assert whole.stat().st_size < 2_000 + 40 * n_sites
    assert pq.read_schema(whole).field("frac_coords").type.value_type.bit_width == 32


def test_errors(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="structure table not found"):
        load_structure_table(tmp_path / "missing.parquet")
    with pytest.raises(ValueError, match="not a compact structure table"):
        load_structure_table(tiny)
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match="is not a structure table"):
        load_structure_table(tmp_path / "junk.parquet")

"""Base-site table: encoded materials survive a parquet round trip; other parquet files are told apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.representations.basesites.encode import encode_structure
from xtalgen.representations.basesites.table import (
    is_base_site_table,
    read_base_site_table,
    table_metadata,
    write_base_site_table,
)


def test_round_trip(tmp_path: Path) -> None:
    nacl = Structure.from_spacegroup(225, Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    al2o3 = Structure.from_spacegroup(167, Lattice.hexagonal(4.76, 12.99), ["Al", "O"],
                                      [[0, 0, 0.3523], [0.3064, 0, 0.25]])  # fmt: skip
    bases = [encode_structure(nacl, id="nacl"), encode_structure(al2o3, id="corundum")]
    path = write_base_site_table(bases, tmp_path / "t.parquet", {"k_max": 12})
    assert is_base_site_table(path) and table_metadata(path) == {"k_max": 12}
    back = read_base_site_table(path)
    for a, b in zip(bases, back, strict=True):
        assert (a.id, a.spacegroup, a.species, a.wyckoffs) == (b.id, b.spacegroup, b.species, b.wyckoffs)
        assert a.hall_number == b.hall_number
        assert np.allclose(a.lattice, b.lattice, atol=1e-4)
        for oa, ob in zip(a.orbits, b.orbits, strict=True):
            assert np.allclose(oa, ob, atol=1e-6)
    assert back[1].conventional_structure().composition.reduced_formula == "Al2O3"


def test_other_files_are_not_tables(tmp_path: Path) -> None:
    other = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(other)
    assert not is_base_site_table(other) and not is_base_site_table(tmp_path / "missing.parquet")
    with pytest.raises(ValueError, match="not a base-site table"):
        read_base_site_table(other)

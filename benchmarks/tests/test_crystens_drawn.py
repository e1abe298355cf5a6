"""benchmarks/crystens_drawn.py: decode-setting counts and the CIF-group check on hand-made generation folders."""

from __future__ import annotations

import re

import crystens_drawn as D
import pandas as pd
from pymatgen.core import Lattice, Structure

from xtalgen.data.generation_folder import cif_text


def _folder(tmp_path, rows):  # noqa: ANN001, ANN202
    """A generation folder: (structure or CIF text, drawn group, drawn formula) per sample."""
    (tmp_path / "cifs").mkdir()
    table = []
    for i, (item, sg, formula) in enumerate(rows):
        text = item if isinstance(item, str) else cif_text(item, 0.1)
        (tmp_path / "cifs" / f"s{i}.cif").write_text(text)
        table.append({"id": f"s{i}", "accepted": True, "cif": f"cifs/s{i}.cif", "condition_spacegroup": sg,
                      "condition_formula": formula})  # fmt: skip
    pd.DataFrame(table).to_csv(tmp_path / "summary.csv", index=False)
    return tmp_path


def test_decode_row_counts_formula_group_validity_and_unreadable(tmp_path):
    nacl = Structure.from_spacegroup(225, Lattice.cubic(5.6), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    squashed = Structure(Lattice.cubic(3.0), ["Na", "Cl"], [[0, 0, 0], [0.05, 0, 0]])  # 0.15 Å apart
    bad = cif_text(nacl, 0.1) + "  Na  Na2  4  0.00000000  0.00000000  0.00000000  1\n"  # two atoms on one site
    folder = _folder(tmp_path, [(nacl, 225, "NaCl"), (nacl, 221, "NaCl"), (nacl, 225, "KCl"),
                                (squashed, 221, "NaCl"), (bad, 225, "NaCl")])  # fmt: skip
    counts = D.decode_row(folder / "summary.csv")
    assert counts == {"n": 5, "formula": 3, "group": 2, "valid": 3, "all": 1, "unreadable": 1}


def test_stated_group_share_counts_cifs_whose_group_spglib_confirms(tmp_path):
    nacl = Structure.from_spacegroup(225, Lattice.cubic(5.6), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    wrong = re.sub(r"(_symmetry_Int_Tables_number\s+)225", r"\g<1>221", cif_text(nacl, 0.1))
    assert wrong != cif_text(nacl, 0.1)
    folder = _folder(tmp_path, [(nacl, 225, "NaCl"), (wrong, 225, "NaCl")])
    assert D.stated_group_share(folder) == (1, 2)

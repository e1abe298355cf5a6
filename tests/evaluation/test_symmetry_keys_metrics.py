"""Wyckoff keys (canonical over the normaliser), the known-structures table, and the symmetry, diversity
and SUN metrics on hand-built cells."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from tests.evaluation.conftest import cscl, rocksalt

from xtalgen.evaluation.assembly import MetricSettings
from xtalgen.evaluation.known_structures import (
    KnownStructures,
    keys_rows,
    load_known_structures,
    write_known_structures,
)
from xtalgen.evaluation.runner import evaluate
from xtalgen.evaluation.symmetry_keys import wyckoff_keys
from xtalgen.evaluation.vendi import vendi_score


def test_keys_do_not_depend_on_origin_choice_or_cell():
    """spglib puts Na on 4a and Cl on 4b or the other way round depending on the input; the canonical
    keys are the same, also for a supercell, and the template drops the elements."""
    a, b = rocksalt(), rocksalt(cation="Cl", anion="Na")  # Cl at the origin
    assert a.composition == b.composition
    big = a.copy()
    big.make_supercell([2, 1, 1])
    keys = [wyckoff_keys(s) for s in (a, b, big)]
    assert keys[0] == keys[1] == keys[2] == {"spacegroup": 225, "template": "225|a b", "decoration": "225|Cl:a Na:b"}
    kcl = wyckoff_keys(rocksalt(6.29, "K", "Cl"))
    assert kcl["template"] == keys[0]["template"] and kcl["decoration"] != keys[0]["decoration"]
    assert wyckoff_keys(cscl())["template"] == "221|a b"


def test_vendi_score_counts_distinct_rows():
    assert vendi_score(np.ones((6, 4))) == pytest.approx(1.0)
    assert vendi_score(np.eye(5)) == pytest.approx(5.0)
    assert vendi_score(np.vstack([np.eye(3), np.eye(3)])) == pytest.approx(3.0)


def _table(structures: list[tuple[str, Structure]], tmp_path) -> KnownStructures:
    ids = [i for i, _ in structures]
    rows = keys_rows(ids, [s.composition.reduced_formula for _, s in structures],
                     [wyckoff_keys(s) for _, s in structures])  # fmt: skip
    path = write_known_structures(KnownStructures(rows, {"source": "hand-built"}, "hand-built"), tmp_path / "k.parquet",
                                  {"source": "hand-built"})  # fmt: skip
    return load_known_structures(path)


def test_novelty_and_templates_against_a_known_table(tmp_path):
    known = _table([("k-nacl", rocksalt()), ("k-cscl", cscl())], tmp_path)
    assert len(known) == 2 and "hand-built (2 structures" in known.name
    distorted = Structure(Lattice.cubic(4.3), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.62]])  # P4mm, new template
    generated = [("nacl", rocksalt(5.5)), ("kcl", rocksalt(6.29, "K", "Cl")), ("p4mm", distorted),
                 ("p1", Structure(Lattice([[4, 0.2, 0.1], [0.3, 5, 0.2], [0.1, 0.4, 6]]), ["Cs", "Cl", "Cl"],
                                  [[0, 0, 0], [0.31, 0.47, 0.12], [0.63, 0.21, 0.77]]))]  # fmt: skip
    result = evaluate(generated, workers=1, progress=False, settings=MetricSettings(known_structures=known))
    table = result.per_sample.set_index("id")
    # NaCl of another lattice constant is known (same decoration); KCl is new but its template is not
    assert table.loc["nacl", "novel"] == 0 and table.loc["nacl", "matched_known_id"] == "k-nacl"
    assert table.loc["kcl", "novel"] == 1 and table.loc["kcl", "template_novel"] == 0
    assert table.loc["p4mm", "template_novel"] == 1 and table.loc["p1", "template_novel"] == 1
    m = result.metrics
    assert m["novelty"] == pytest.approx(3 / 4) and m["symmetry.template_novelty"] == pytest.approx(2 / 4)
    assert m["symmetry.p1_share"] == pytest.approx(1 / 4) and m["symmetry.n_spacegroups"] == 3
    assert m["symmetry.n_templates"] == 3 and 1 < m["diversity.vendi"] <= 4
    assert result.meta["novelty_reference"] == known.name and result.meta["novelty_reference_size"] == 2


class _FixedModel:
    """A stand-in energy model: 'relaxes' to the given structure (or a distorted one) at fixed energies."""

    name, relax_tag, reference_tag = "fixed", "fixed", "fixed"

    def __init__(self, energies: dict[str, float], distort: set[str]) -> None:
        self.energies_by_formula, self.distort = energies, distort

    def relax(self, items, *, cache_path, workers, progress):  # type: ignore[no-untyped-def]
        out = {}
        for key, s in items:
            s = s.copy()
            if s.composition.reduced_formula in self.distort:
                s.translate_sites([0], [0.0, 0.0, 0.08])
            out[key] = {"energy_per_atom": self.energies_by_formula[s.composition.reduced_formula],
                        "structure": s.as_dict(), "rmsd": 0.0, "steps": 1, "converged": True}  # fmt: skip
        return out

    def energies(self, items, *, cache_path, workers, progress):  # type: ignore[no-untyped-def]
        return {k: {"energy_per_atom": 0.0, "formula": s.composition.formula} for k, s in items}


def test_sun_metasun_and_ssun_follow_lemat_definitions(tmp_path):
    """E_hull of A-B samples against elemental references at 0 eV/atom: NaCl -0.5 (SUN), KCl 0.05
    (MetaSUN), CsCl -0.2 but relaxes out of its space group (SUN, not S.S.U.N.), a copy of NaCl (not
    unique) and a known structure (not novel)."""
    from xtalgen.evaluation.stability import Stability

    elements = [Structure(Lattice.cubic(3.0), [el], [[0, 0, 0]]) for el in ("Na", "K", "Cs", "Cl", "Rb", "Br")]
    known = _table([("k-rbbr", rocksalt(6.9, "Rb", "Br"))], tmp_path)
    model = _FixedModel({"NaCl": -0.5, "KCl": 0.05, "CsCl": -0.2, "RbBr": -0.4}, distort={"CsCl"})
    generated = [("nacl", rocksalt()), ("kcl", rocksalt(6.29, "K", "Cl")), ("cscl", cscl()),
                 ("nacl2", rocksalt(5.66)), ("rbbr", rocksalt(6.9, "Rb", "Br"))]  # fmt: skip
    settings = MetricSettings(known_structures=known, stability=Stability(model, "train", min_volume_per_atom=None),
                              potential="fixed", skip=frozenset({"diversity"}))  # fmt: skip
    result = evaluate(generated, [(f"el{i}", s) for i, s in enumerate(elements)], stability=True, energy_model=model,
                      workers=1, progress=False, settings=settings)  # fmt: skip
    table = result.per_sample.set_index("id")
    np.testing.assert_array_equal(table["sun"].to_numpy(), [1.0, 0.5, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(table["symmetry_kept"].to_numpy(), [1, 1, 0, 1, 1])
    np.testing.assert_array_equal(table["ssun"].to_numpy(), [True, True, False, False, False])
    m = result.metrics
    assert m["sun.sun_rate"] == pytest.approx(2 / 5) and m["sun.msun_rate"] == pytest.approx(1 / 5)
    assert m["sun.combined_sun_msun_rate"] == pytest.approx(3 / 5) and m["sun.ssun_rate"] == pytest.approx(2 / 5)
    assert m["sun.symmetry_kept"] == pytest.approx(4 / 5) and result.meta["sun_potential"] == "fixed"

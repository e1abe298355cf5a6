"""Per-element volume increments: the fit recovers known increments; prediction, rescaling, the shipped table."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from xtalgen.postprocess.candidates import postprocess_candidates
from xtalgen.postprocess.volume import ElementVolumes, fit_element_volumes, rescale_matrix

TRUE = {"Na": 24.0, "Cl": 30.0, "O": 8.0, "Ti": 12.0}


def _synthetic(n: int = 300, seed: int = 0) -> tuple[list[list[str]], list[float]]:
    rng = np.random.default_rng(seed)
    comps, vols = [], []
    for _ in range(n):
        comp = [str(e) for e in rng.choice(list(TRUE), size=int(rng.integers(1, 9)))]
        comps.append(comp)
        vols.append(sum(TRUE[e] for e in comp) * float(np.exp(rng.normal(0, 0.02))))
    comps.append(["Na", "Cl"])  # one gross outlier must not pull the fit (soft-L1 loss)
    vols.append(500.0)
    return comps, vols


def test_fit_recovers_known_increments() -> None:
    table, stats = fit_element_volumes(*_synthetic())
    for el, v in TRUE.items():
        assert table.volumes[el] == pytest.approx(v, rel=0.02)
    assert stats["median_abs_log_ratio"] < 0.03
    assert table.predict(["Na", "Cl", "Cl"]) == pytest.approx(84.0, rel=0.03)
    assert table.predict(["Na", "Xe"]) is None  # no increment for Xe


def test_fit_rejects_bad_entries() -> None:
    with pytest.raises(ValueError, match="entry 1: cell volume"):
        fit_element_volumes([["Na"], ["Cl"]], [10.0, -1.0])
    with pytest.raises(ValueError, match="entry 0: empty composition"):
        fit_element_volumes([[]], [10.0])


def test_rescale_keeps_shape_and_hits_predicted_volume() -> None:
    table = ElementVolumes(TRUE)
    matrix = Lattice.from_parameters(3.0, 4.0, 5.0, 80, 95, 100).matrix
    new, factor = rescale_matrix(matrix, ["Na", "Cl"], table)
    assert abs(np.linalg.det(new)) == pytest.approx(54.0)
    assert np.allclose(new / factor, matrix)
    same, none = rescale_matrix(matrix, ["Na", "Xe"], table)
    assert none is None and np.array_equal(same, matrix)


def test_json_round_trip_and_bad_file(tmp_path) -> None:
    table = ElementVolumes(TRUE, {"source": "synthetic"})
    back = ElementVolumes.from_json(table.to_json(tmp_path / "t.json"))
    assert back.volumes == pytest.approx(TRUE) and back.meta == {"source": "synthetic"}
    (tmp_path / "bad.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="bad.json: not an element-volume table"):
        ElementVolumes.from_json(tmp_path / "bad.json")


def test_shipped_table_predicts_real_crystals() -> None:
    table = ElementVolumes.default()
    assert table.meta["structures"] > 40_000 and len(table.volumes) > 80
    rocksalt = Structure(Lattice.cubic(5.64), ["Na", "Cl"] * 4,
                         [[0, 0, 0], [0.5, 0, 0], [0.5, 0.5, 0], [0, 0.5, 0], [0.5, 0, 0.5], [0, 0, 0.5],
                          [0, 0.5, 0.5], [0.5, 0.5, 0.5]])  # fmt: skip
    predicted = table.predict([s.specie.symbol for s in rocksalt])
    assert predicted == pytest.approx(rocksalt.volume, rel=0.25)  # typical error 8 %


def test_pipeline_rescales_a_squashed_cell_before_filtering() -> None:
    table = ElementVolumes(TRUE)
    # CsCl-type NaCl squashed to a = 1.4 Å: atoms 1.2 Å apart, rejected without rescaling
    squashed = Structure(Lattice.cubic(1.4), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    plain = postprocess_candidates([squashed], spacegroups=221, workers=1, progress=False)[0]
    fixed = postprocess_candidates([squashed], spacegroups=221, volumes=table, workers=1, progress=False)[0]
    assert not plain.accepted and plain.reason == "atoms too close"
    assert fixed.accepted, fixed.detail
    assert fixed.structure.volume == pytest.approx(54.0)
    assert fixed.extra["volume_scale"] == pytest.approx((54.0 / 1.4**3) ** (1 / 3), rel=1e-3)

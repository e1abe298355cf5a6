"""CrysTensConfig: explicit normalisation, validation and JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xtalgen.representations.crystens import CrysTensConfig, Scale


def test_scale_is_affine_and_invertible() -> None:
    s = Scale(1.0, 94.0, -0.9, 1.0)
    assert s.normalise(1.0) == pytest.approx(-0.9)
    assert s.normalise(94.0) == pytest.approx(1.0)
    v = np.array([3.0, 26.0, 83.0])
    np.testing.assert_allclose(s.denormalise(s.normalise(v)), v)
    with pytest.raises(ValueError, match="lo < hi"):
        Scale(2.0, 1.0)


def test_json_round_trip(tmp_path) -> None:
    cfg = CrysTensConfig(size=32, cell="primitive", ordering="as_given", distance="cartesian", symprec=0.05,
                         length=Scale(0.0, 30.0))
    path = cfg.to_json(tmp_path / "c.json")
    back = CrysTensConfig.from_json(path)
    assert back == cfg
    assert back.pair_distance == Scale(0.0, 40.0)  # cartesian default, in Å
    data = json.loads(path.read_text())
    assert data["format"] == "xtalgen.crystens" and data["atomic_number"]["hi"] == 94.0


def test_invalid_options_name_the_field(tmp_path) -> None:
    with pytest.raises(ValueError, match="cell"):
        CrysTensConfig(cell="supercell")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size"):
        CrysTensConfig(size=8)
    with pytest.raises(ValueError, match="unknown CrysTens config key"):
        CrysTensConfig.from_dict({**CrysTensConfig().to_dict(), "colour": "red"})
    with pytest.raises(ValueError, match="Z=1 strictly above"):
        CrysTensConfig(atomic_number=Scale(1.0, 94.0, -1.0, 1.0))  # H would read as empty


def test_derived_values() -> None:
    cfg = CrysTensConfig()
    assert cfg.max_atoms == 52 and CrysTensConfig(size=32).max_atoms == 20
    assert cfg.presence_threshold == pytest.approx(-0.95)
    assert cfg.with_options(distance="cartesian").pair_distance.hi == 40.0
    assert cfg.pair_distance.hi == pytest.approx(3 ** 0.5)

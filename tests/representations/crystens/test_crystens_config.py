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


def test_empty_gap_moves_every_quantity_off_the_fill_value(nacl) -> None:
    from xtalgen.representations.crystens import encode
    from xtalgen.representations.crystens.config import FIRST_ATOM

    base = CrysTensConfig(size=32)
    assert base.empty_gap == 0.0  # coordinates 0, zero differences and self-distances sit on the fill value
    cfg = base.with_empty_gap(0.5)
    assert cfg.empty_gap == pytest.approx(0.5) and cfg.presence_threshold == pytest.approx(-0.75)
    assert cfg.length.normalise(0.0) == pytest.approx(-0.5) and cfg.length.normalise(60.0) == pytest.approx(1.0)
    assert CrysTensConfig.from_dict(cfg.to_dict()) == cfg
    t = encode(nacl, cfg)
    atoms = slice(FIRST_ATOM, FIRST_ATOM + len(nacl))
    filled = np.concatenate([t[:, :11, atoms].ravel(), t[:, atoms, atoms].ravel()])
    assert filled.min() >= -0.5 - 1e-6  # every filled entry is >= 0.5 above the fill value
    assert (t[:, :, FIRST_ATOM + len(nacl):] == -1.0).all()  # empty slots unchanged
    assert (encode(nacl, base)[:, :11, atoms] == -1.0).any()  # the default has filled entries on the fill value
    for bad in (-0.1, 2.0, float("nan")):
        with pytest.raises(ValueError, match="empty gap"):
            base.with_empty_gap(bad)

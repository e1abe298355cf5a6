"""benchmarks/head_to_head.py ``--set KIND:KEY=VALUE``: per-model family options, parsed before any work."""

from __future__ import annotations

import head_to_head as H
import pytest


def test_set_options_go_to_their_own_model_with_yaml_values(tmp_path):
    args = H.parse_args(["--work", str(tmp_path), "--set", "crystens-diffusion:conditions=drawn",
                         "--set", "crystens-diffusion:z_noise_floor=0.1",
                         "--set", "crystens-diffusion:merge_factor=null",
                         "--set", "crystens-gan:consensus=false"])  # fmt: skip
    assert H.family_options(args, "crystens-diffusion") == {"conditions": "drawn", "z_noise_floor": 0.1,
                                                            "merge_factor": None}  # fmt: skip
    assert H.family_options(args, "crystens-gan") == {"consensus": False}
    assert H.family_options(args, "crystens-wgan") == {}
    assert H.family_options(H.parse_args(["--work", str(tmp_path)]), "crystens-diffusion") == {}


def test_a_later_set_of_the_same_key_wins(tmp_path):
    args = H.parse_args(["--work", str(tmp_path), "--set", "crystens-diffusion:steps=10",
                         "--set", "crystens-diffusion:steps=20"])  # fmt: skip
    assert H.family_options(args, "crystens-diffusion") == {"steps": 20}


@pytest.mark.parametrize("item", ["conditions=drawn", "pyxtal:seed=1", "crystens-diffusion:conditions",
                                  "crystens-difusion:conditions=drawn"])  # fmt: skip
def test_malformed_set_stops_with_one_line_naming_the_entry(tmp_path, item):
    with pytest.raises(ValueError, match="expected KIND:KEY=VALUE") as err:
        H.parse_args(["--work", str(tmp_path / "w"), "--set", item])
    assert item in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "w").exists()


REFUSED = [("crystens-diffusion:conditions=bogus", "conditions: must be 'drawn'"),
           ("crystens-diffusion:no_such_option=1", "no_such_option"),
           ("crystens-gan:z_noise_floor=0", "z_noise_floor: must be > 0")]  # fmt: skip


@pytest.mark.parametrize(("item", "reason"), REFUSED)
def test_options_the_family_refuses_stop_before_any_work(tmp_path, item, reason):
    with pytest.raises(ValueError, match=reason) as err:
        H.parse_args(["--work", str(tmp_path / "w"), "--set", item])
    assert "\n" not in str(err.value)
    assert not (tmp_path / "w").exists()

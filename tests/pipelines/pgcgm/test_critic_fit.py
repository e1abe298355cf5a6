"""``fit_critic``: a fresh critic for a frozen PGCGM generator, usable as ``critic=``."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from xtalgen.pipelines.pgcgm.critic_fit import fit_critic
from xtalgen.pipelines.pgcgm.sample import generate_pgcgm, load_pgcgm_generator
from xtalgen.pipelines.training import load_checkpoint


def test_fit_keeps_the_generator_and_adds_a_critic(run, tiny_data, tmp_path) -> None:
    folder = fit_critic(run, tiny_data, tmp_path / "fit", steps=3, batch_size=16, log=None)
    ckpt = load_checkpoint(folder)
    assert set(ckpt.state["modules"]) == {"generator", "critic"}
    original, _, _ = load_pgcgm_generator(run)
    for key, value in original.state_dict().items():
        assert torch.equal(ckpt.module_state("generator")[key], value), key  # frozen
    trained = load_checkpoint(run).module_state("critic")
    assert any(not torch.equal(ckpt.module_state("critic")[k], v) for k, v in trained.items())
    kw = dict(checkpoint=run, seed=3, workers=1, progress=False, distance_factor=0.5, critic_top_fraction=0.5)
    frame = pd.read_csv(generate_pgcgm(3, tmp_path / "gen", critic=str(tmp_path / "fit"), **kw))
    own = pd.read_csv(generate_pgcgm(3, tmp_path / "own", **kw))
    assert len(frame) == 3 and frame["critic_score"].notna().all()
    assert frame["critic_score"].tolist() != own["critic_score"].tolist()  # the fitted critic, not the run's


def test_bad_arguments(run, tiny_data, tmp_path) -> None:
    with pytest.raises(ValueError, match="fit_critic: steps must be >= 1"):
        fit_critic(run, tiny_data, tmp_path, steps=0)

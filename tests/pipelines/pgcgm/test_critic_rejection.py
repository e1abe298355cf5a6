"""``critic_top_fraction``: PGCGM keeps the best-scored accepted candidates of a tiny trained model."""

from __future__ import annotations

import pandas as pd
import pytest
from _cli_refusals import assert_refused_in_one_line

from xtalgen.pipelines.pgcgm.best_of import draw_target
from xtalgen.pipelines.pgcgm.critic_rejection import REASON_CRITIC
from xtalgen.pipelines.pgcgm.sample import generate_pgcgm

KW = dict(seed=3, workers=1, progress=False, distance_factor=0.5)


def test_draw_target() -> None:
    assert (draw_target(10, 0.5), draw_target(10, 0.3), draw_target(10, 1.0), draw_target(1, 0.999)) == (20, 34, 10, 2)


def test_keeps_the_best_scored_of_the_plain_run(run, tmp_path) -> None:
    plain = pd.read_csv(generate_pgcgm(8, tmp_path / "plain", checkpoint=run, **KW))
    out = tmp_path / "critic"
    kept = pd.read_csv(generate_pgcgm(4, out, checkpoint=run, critic_top_fraction=0.5, **KW))
    rejected = pd.read_csv(out / "rejected.csv")
    dropped = rejected[rejected["reason"] == REASON_CRITIC]
    assert len(kept) == 4 and kept["accepted"].all() and len(dropped) == 4
    # the option only re-ranks: kept + dropped are the plain run's 8 accepted, and the kept score best
    assert sorted(kept["formula"].tolist() + dropped["formula"].tolist()) == sorted(plain["formula"].tolist())
    assert kept["critic_score"].min() >= dropped["critic_score"].max()
    assert kept["critic_score"].notna().all() and rejected["critic_score"].notna().all()
    assert "critic_score" not in plain.columns


def test_seeded_and_reproducible(run, tmp_path) -> None:
    a = pd.read_csv(generate_pgcgm(3, tmp_path / "a", checkpoint=run, critic_top_fraction=0.4, **KW))
    b = pd.read_csv(generate_pgcgm(3, tmp_path / "b", checkpoint=run, critic_top_fraction=0.4, **KW))
    pd.testing.assert_frame_equal(a.drop(columns="cif"), b.drop(columns="cif"))
    c = pd.read_csv(generate_pgcgm(3, tmp_path / "c", checkpoint=run, critic_top_fraction=0.4, **{**KW, "seed": 9}))
    assert a["critic_score"].tolist() != c["critic_score"].tolist()


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["critic_top_fraction=0"], "critic_top_fraction: must be in (0, 1]"),
        (["critic_top_fraction=1.5"], "critic_top_fraction: must be in (0, 1]"),
        (["critic_top_fraction=0.5", "count=candidates"], "critic_top_fraction: only with count=accepted"),
        (["critic=somewhere"], "critic: only with critic_top_fraction"),
        (["critic_top_fraction=0.5"], "critic: checkpoint"),  # the shipped ternary model holds no critic
    ],
)
def test_bad_values_are_refused_in_one_line(sets, message, tmp_path) -> None:
    assert_refused_in_one_line(sets, message, tmp_path / "g")

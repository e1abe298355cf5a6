"""``stability_top_fraction``: PGCGM keeps the accepted candidates a stability classifier ranks best."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from _cli_refusals import assert_refused_in_one_line

from xtalgen.evaluation.stability_classifier import FILE_NAME, StabilityClassifier
from xtalgen.evaluation.stability_features import FEATURE_NAMES
from xtalgen.pipelines.pgcgm.sample import generate_pgcgm
from xtalgen.pipelines.pgcgm.stability_rank import REASON_STABILITY

KW = dict(seed=3, workers=1, progress=False, distance_factor=0.5)


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory) -> str:
    """A hand-set classifier: P(metastable) = sigmoid(4 × (shortest contact / summed radii - 1))."""
    f = len(FEATURE_NAMES)
    w = np.zeros((f, 1))
    w[FEATURE_NAMES.index("min_distance_ratio"), 0] = 4.0
    model = StabilityClassifier(FEATURE_NAMES, np.zeros(f), np.ones(f), [(w, np.array([-4.0]))], {"test": True})
    return str(model.to_json(tmp_path_factory.mktemp("clf") / "clf.json"))


def test_keeps_the_best_ranked_of_the_plain_run(run, classifier_file, tmp_path) -> None:
    plain = pd.read_csv(generate_pgcgm(8, tmp_path / "plain", checkpoint=run, **KW))
    out = tmp_path / "ranked"
    kept = pd.read_csv(generate_pgcgm(4, out, checkpoint=run, stability_top_fraction=0.5,
                                      stability_classifier=classifier_file, **KW))  # fmt: skip
    rejected = pd.read_csv(out / "rejected.csv")
    dropped = rejected[rejected["reason"] == REASON_STABILITY]
    assert len(kept) == 4 and kept["accepted"].all() and len(dropped) == 4
    # the option only re-ranks: kept + dropped are the plain run's 8 accepted, and the kept rank best
    assert sorted(kept["formula"].tolist() + dropped["formula"].tolist()) == sorted(plain["formula"].tolist())
    assert kept["p_metastable"].min() >= dropped["p_metastable"].max()
    assert kept["p_metastable"].between(0, 1).all() and "p_metastable" not in plain.columns


def test_the_classifier_beside_the_checkpoint_is_found(run, classifier_file, tmp_path) -> None:
    own = tmp_path / "run"
    shutil.copytree(run, own)
    shutil.copy(classifier_file, own / FILE_NAME)
    kept = pd.read_csv(generate_pgcgm(2, tmp_path / "g", checkpoint=own, stability_top_fraction=0.5, **KW))
    assert len(kept) == 2 and kept["p_metastable"].notna().all()
    meta = json.loads((tmp_path / "g" / "generation.json").read_text())
    assert meta["stability_dropped"] == 2 and meta["stability_classifier"] == str(own / FILE_NAME)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["stability_top_fraction=0"], "stability_top_fraction: must be in (0, 1]"),
        (["stability_top_fraction=0.5", "count=candidates"], "stability_top_fraction: only with count=accepted"),
        (["stability_classifier=x.json"], "stability_classifier: only with stability_top_fraction"),
        (["stability_top_fraction=0.5", "critic_top_fraction=0.5"], "choose one ranking"),
        (["stability_top_fraction=0.5", "stability_classifier=/nonexistent/x"], "/nonexistent/x does not exist"),
        (["stability_top_fraction=0.5", "stability_classifier=/"], "no stability_classifier.json in /"),
    ],
)
def test_bad_values_are_refused_in_one_line(sets, message, tmp_path) -> None:
    assert_refused_in_one_line(sets, message, tmp_path / "g")

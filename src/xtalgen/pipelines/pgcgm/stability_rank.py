"""``stability_top_fraction``: keep the accepted PGCGM candidates a learned classifier finds likeliest metastable.

Accepted mode draws until ``ceil(n / fraction)`` candidates pass post-processing, scores each accepted one with a
:class:`~xtalgen.evaluation.stability_classifier.StabilityClassifier` (P(E_hull ≤ 0.1 eV/atom after relaxation),
from cheap descriptors of the unrelaxed structure; no potential runs) and keeps the ``n`` best; the others are
rejected as :data:`REASON_STABILITY`. Every accepted candidate of such a run gets the summary column
``p_metastable``. The classifier comes from ``stability_classifier`` (a JSON file or a folder holding one), else
from the generation checkpoint's folder (shipped models carry one when it was fitted for them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xtalgen.evaluation.stability_classifier import FILE_NAME, StabilityClassifier
from xtalgen.pipelines.run_files import find_run_file

REASON_STABILITY = "predicted unstable"
SCORE_COLUMN = "p_metastable"


def load_stability_classifier(source: str | Path) -> tuple[Path, StabilityClassifier]:
    """The file and classifier of ``source`` (its JSON file, or a model/run folder holding :data:`FILE_NAME`)."""
    path = Path(source)
    if not path.exists():
        raise ValueError(f"stability_classifier: {source} does not exist")
    found = path if path.is_file() else find_run_file(path, FILE_NAME)
    if found is None:
        raise ValueError(f"stability_top_fraction: no {FILE_NAME} in {source} (give one with "
                         "--set stability_classifier=FILE; benchmarks/pgcgm_stability_rank.py fits one)")  # fmt: skip
    return found, StabilityClassifier.from_json(found)


def score_accepted(results: Sequence[Any], classifier: StabilityClassifier) -> None:
    """Set ``extra[SCORE_COLUMN]`` (P(metastable), rounded to 1e-4) on every accepted result, in place."""
    accepted = [r for r in results if r.accepted and r.structure is not None]
    if not accepted:
        return
    probs = classifier.predict([r.structure for r in accepted])
    for r, p in zip(accepted, probs, strict=True):
        r.extra[SCORE_COLUMN] = round(float(p), 4)

"""Which metrics an evaluation runs, and with what settings: chosen from what the inputs allow.

Every metric gets its settings through its constructor; :func:`choose_metrics` builds the list from
:class:`MetricSettings` and the inputs at hand (a training set, a test set, a stability screen). Metrics
whose inputs are missing stay in the list: the runner skips them and the report says what they need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xtalgen.evaluation.base import Metric
from xtalgen.evaluation.composition_validity import CompositionalValidity
from xtalgen.evaluation.consistency import Consistency
from xtalgen.evaluation.coverage import MP_CUTOFFS, Coverage
from xtalgen.evaluation.distributions import Distributions
from xtalgen.evaluation.known_structures import KnownStructures, load_known_structures, shipped_known_path
from xtalgen.evaluation.novelty import Novelty
from xtalgen.evaluation.sun import SUN
from xtalgen.evaluation.symmetry_metrics import SymmetryDiversity
from xtalgen.evaluation.uniqueness import Uniqueness
from xtalgen.evaluation.validity import StructuralValidity
from xtalgen.evaluation.vendi import Diversity

#: Names accepted by ``skip`` -> the metric names they leave out.
SKIPPABLE = {"uniqueness": "unique", "novelty": "novel", "coverage": "cov_precision", "distributions": "distributions",
             "consistency": "consistency", "symmetry": "template_novel", "diversity": "diversity"}  # fmt: skip


@dataclass
class MetricSettings:
    """Settings of the metrics of one evaluation.

    ``known_structures``: the novelty reference: ``"auto"`` (the table shipped with xtalgen, none if it is
    not installed), a table path or object, or None (novelty against the training set only).
    ``distribution_reference``: ``"test"``, ``"train"`` or None (the test set when given, else the
    training set). ``stability``: a configured stability metric (it holds the energy model); ``potential``
    names its potential; ``more_stability``: metrics run after it (other potentials, their agreement);
``properties``: a configured property-distributions metric (run after the stability metrics, it reuses
their relaxations; see :mod:`xtalgen.evaluation.property_distributions`).
    ``skip``: names from :data:`SKIPPABLE`.
    """

    coverage_cutoffs: tuple[float, float] = MP_CUTOFFS
    known_structures: KnownStructures | str | Path | None = "auto"
    distribution_reference: str | None = None
    stability: Metric | None = None
    more_stability: tuple[Metric, ...] = ()
    properties: Metric | None = None
    potential: str = ""
    skip: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.skip) - set(SKIPPABLE))
        if unknown:
            raise ValueError(f"skip: unknown {unknown}; choose from {sorted(SKIPPABLE)}")


def resolve_known(spec: KnownStructures | str | Path | None) -> KnownStructures | None:
    """The known-structures table ``spec`` names (``"auto"``: the shipped one, or None when none ships)."""
    if spec is None or isinstance(spec, KnownStructures):
        return spec
    if isinstance(spec, str) and spec in ("auto", "none"):
        if spec == "none" or shipped_known_path() is None:
            return None
        return load_known_structures()
    return load_known_structures(spec)


def choose_metrics(available: set[str], settings: MetricSettings | None = None) -> list[Metric]:
    """The metrics of an evaluation whose inputs are ``available`` (names among ``structures``, ``train``,
    ``test``, ``stability``, ``crystens_diagnostics``), in dependency order."""
    s = settings or MetricSettings()
    known = resolve_known(s.known_structures)
    dist_ref = s.distribution_reference or ("train" if "test" not in available and "train" in available else "test")
    metrics: list[Any] = [
        StructuralValidity(),
        CompositionalValidity(),
        Uniqueness(),
        Novelty(known),
        SymmetryDiversity(known),
        Diversity(),
        Coverage(*s.coverage_cutoffs),
        Distributions(dist_ref),
        Consistency(),
    ]
    if s.stability is not None:
        metrics += [s.stability, *s.more_stability, SUN(potential=s.potential)]
        metrics += [s.properties] if s.properties is not None else []
    dropped = {SKIPPABLE[n] for n in s.skip}
    return [m for m in metrics if m.name not in dropped]

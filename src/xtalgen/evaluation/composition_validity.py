"""Compositional validity: SMACT charge neutrality plus the Pauling electronegativity test.

Follows the rules CDVAE (Xie et al., ICLR 2022) used for its benchmark: a single-element
composition, or one made only of metals (an alloy), counts as valid; otherwise some combination of
oxidation states must make the reduced formula neutral with cations less electronegative than
anions. The check itself is SMACT's ``smact.screening.smact_validity``; by default with the
``smact14`` oxidation-state set, the set CDVAE's SMACT version used.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from pymatgen.core import Composition

if TYPE_CHECKING:
    from xtalgen.evaluation.base import EvalContext

#: Oxidation-state set passed to SMACT (``smact14`` reproduces CDVAE's numbers).
DEFAULT_OXIDATION_STATES = "smact14"
#: Compositions with more oxidation-state combinations than this count as invalid without SMACT's exhaustive
#: search (provenance: docs/benchmarks/evaluation.md, "bounded SMACT search").
MAX_OXIDATION_COMBINATIONS = 1_000_000


@lru_cache(maxsize=256)
def _state_count(symbol: str, oxidation_states_set: str) -> int:
    import smact
    from smact.screening import _OXI_SET_ATTR_MAP

    attr = _OXI_SET_ATTR_MAP.get(oxidation_states_set)
    if attr is None:  # a custom file: SMACT's own search decides
        return 1
    return max(len(getattr(smact.Element(symbol), attr) or ()), 1)


@lru_cache(maxsize=65536)
def _valid_formula(formula: str, oxidation_states_set: str) -> bool:
    import warnings

    from smact.screening import smact_validity

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bool(
            smact_validity(
                Composition(formula),
                use_pauling_test=True,
                include_alloys=True,
                oxidation_states_set=oxidation_states_set,
            )
        )


def composition_validity(composition: Composition | str, oxidation_states_set: str = DEFAULT_OXIDATION_STATES) -> bool:
    """True when SMACT finds a charge-neutral, electronegativity-consistent assignment (or an alloy); False
    without a search beyond :data:`MAX_OXIDATION_COMBINATIONS` oxidation-state combinations."""
    comp = Composition(composition) if isinstance(composition, str) else composition
    if len(comp) == 0:
        return False
    reduced = comp.reduced_composition
    if any(abs(v - round(v)) > 1e-6 for v in reduced.values()):
        return False  # fractional occupancies: SMACT needs integer counts
    combos = 1
    for el in reduced.elements:
        combos *= _state_count(el.symbol, oxidation_states_set)
    if combos > MAX_OXIDATION_COMBINATIONS and not all(el.is_metal for el in reduced.elements):
        return False
    return _valid_formula(reduced.formula, oxidation_states_set)


def sample_composition_validity(composition: Composition | None) -> dict[str, Any]:
    """Per-sample record ``{"comp_valid": bool}`` (a missing structure is invalid)."""
    return {"comp_valid": composition is not None and composition_validity(composition)}


class CompositionalValidity:
    """Fraction of all submitted samples with a SMACT-valid composition; also the overall validity
    (structurally and compositionally valid), as CDVAE reports it."""

    name = "comp_valid"
    needs = frozenset({"structures"})

    def per_sample(self, ctx: EvalContext) -> np.ndarray:
        return ctx.generated_features()["comp_valid"].to_numpy(dtype=float)

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]:
        if values is None or not len(values):
            return {"validity.compositional": 0.0, "validity.overall": 0.0}
        both = (values > 0) & ctx.valid_mask()
        return {"validity.compositional": float(np.mean(values)), "validity.overall": float(np.mean(both))}

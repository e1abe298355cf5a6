"""PGCGM sampling options (``--set KEY=VALUE`` of ``xtalgen generate``) and their defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from xtalgen.pipelines.families import SamplingOptions
from xtalgen.postprocess.push_apart import DEFAULT_MAX_DISPLACEMENT

#: Largest reduced formula (atoms per formula unit) submitted by default (provenance: docs/benchmarks.md).
DEFAULT_MAX_FORMULA_ATOMS = 10
#: Shortest contact submitted by default, as a fraction of the summed atomic radii (provenance:
#: docs/benchmarks.md, training ranges; the generic post-processing bound is 0.5).
DEFAULT_PGCGM_DISTANCE_FACTOR = 0.73
#: Largest primitive cell submitted by default: the training materials have at most 20 sites.
DEFAULT_MAX_PRIMITIVE_SITES = 20
#: General models: reject structures whose composition is not their Wyckoff template's (provenance:
#: docs/benchmarks/pgcgm_generation_defaults.md, "condition formula").
DEFAULT_CONDITION_FORMULA = False
#: Keep known structures (provenance: docs/benchmarks/pgcgm_generation_defaults.md, "novel only").
DEFAULT_NOVEL_ONLY = False
#: Repair too-close atoms by a symmetric push-apart (provenance: docs/benchmarks/pgcgm_push_apart.md).
DEFAULT_PUSH_APART = True

@dataclass
class PGCGMOptions(SamplingOptions):
    """PGCGM sampling options.

    ``count``: "accepted" draws candidates in rounds until ``n`` pass post-processing (rejects go to
    rejected.csv; at most ``max_candidates``, default 50 n); "candidates" draws exactly ``n`` and lists
    each in summary.csv. ``snap``: move base sites onto the special positions their images point to.
    ``rescale_volume``: scale each cell to the volume its composition predicts (per-element volumes fitted
    to MP). ``max_formula_atoms`` / ``max_primitive_sites``: reject larger reduced formulas / primitive
    cells (0 or None: no limit). ``distance_factor``: reject contacts shorter than this fraction of the
    summed atomic radii (the PGCGM paper's bound is 0.5). ``dedupe``: reject later copies of a structure.
    ``fast_postprocess``: reject distance failures before merging or symmetry analysis where the outcome is
    certain, and stop post-processing a round once ``n`` are accepted (same accepted structures and reasons;
    such rejects lack their found space group), and write each accepted CIF from the symmetry dataset the
    space-group check computed (:mod:`xtalgen.data.symmetrized_cif`: the same cell, sites and operations as
    pymatgen's ``CifWriter``, operations in spglib's database order), build Structures only for accepted
    candidates, and deduplicate a chunk while the pool works on the next one; false: every drawn candidate goes
    through the full path and CIFs are written by ``CifWriter``.
    General models only (trained with ``model.wyckoff_features``): ``max_atoms`` keeps Wyckoff templates with
    at most this many atoms in the conventional cell; ``balanced`` draws a space group uniformly among the
    fitting templates' before a template (spreads the output over space groups); ``condition_formula``
    rejects a structure whose reduced composition is not its template's (elements × multiplicities), e.g.
    NaCl8 from a NaCl template whose sites did not land on their special positions.
    ``novel_only``: reject an accepted structure that the evaluation's known-structures table holds
    (:mod:`xtalgen.pipelines.pgcgm.novel_only`; reason "known structure", column ``known_id``), so accepted
    mode draws on until ``n`` new ones are found.
    ``push_apart``: before the distance filter, move atoms closer than ``distance_factor`` × summed radii apart,
    keeping the space group (:mod:`xtalgen.postprocess.push_apart`), each by at most ``push_apart_max_move`` Å;
    summary column ``push_apart_max_move`` (Å; 0: not needed, empty: not repaired).
    ``critic_top_fraction`` (accepted mode; None: off): draw until n / fraction candidates are accepted and keep
    the n the trained critic scores best (:mod:`xtalgen.pipelines.pgcgm.critic_rejection`; reason
    "critic score", column ``critic_score``); ``critic``: the checkpoint holding the critic (default: the
    generation checkpoint; a shipped model holds none).
    ``stability_top_fraction`` (accepted mode; None: off): draw until n / fraction candidates are accepted and
    keep the n a learned classifier finds likeliest metastable (:mod:`xtalgen.pipelines.pgcgm.stability_rank`;
    reason "predicted unstable", column ``p_metastable``); ``stability_classifier``: its JSON file (default: the
    one beside the generation checkpoint).
    """

    count: Literal["accepted", "candidates"] = "accepted"
    snap: bool = True
    rescale_volume: bool = True
    max_formula_atoms: int | None = DEFAULT_MAX_FORMULA_ATOMS
    distance_factor: float = DEFAULT_PGCGM_DISTANCE_FACTOR
    max_primitive_sites: int | None = DEFAULT_MAX_PRIMITIVE_SITES
    max_candidates: int | None = None
    dedupe: bool = True
    fast_postprocess: bool = True
    max_atoms: int | None = None
    balanced: bool = False
    condition_formula: bool = DEFAULT_CONDITION_FORMULA
    novel_only: bool = DEFAULT_NOVEL_ONLY
    push_apart: bool = DEFAULT_PUSH_APART
    push_apart_max_move: float = DEFAULT_MAX_DISPLACEMENT
    critic_top_fraction: float | None = None
    critic: str | None = None
    stability_top_fraction: float | None = None
    stability_classifier: str | None = None

    def validate(self) -> None:
        for name, source in (("critic_top_fraction", "critic"), ("stability_top_fraction", "stability_classifier")):
            frac = getattr(self, name)
            if frac is not None and not (isinstance(frac, int | float) and 0 < frac <= 1):
                raise ValueError(f"{name}: must be in (0, 1] (or null: off), got {frac!r}")
            if frac is not None and self.count != "accepted":
                raise ValueError(f"{name}: only with count=accepted (it keeps the best n of the accepted)")
            if getattr(self, source) is not None and frac is None:
                raise ValueError(f"{source}: only with {name} (it is used for nothing else)")
        if self.critic_top_fraction is not None and self.stability_top_fraction is not None:
            raise ValueError("critic_top_fraction and stability_top_fraction: choose one ranking, not both")
        if not self.push_apart_max_move > 0:
            raise ValueError(f"push_apart_max_move: must be > 0 Å, got {self.push_apart_max_move}")
        if not 0 < self.distance_factor < 2:
            raise ValueError(f"distance_factor: must be in (0, 2), got {self.distance_factor}")
        for name in ("max_formula_atoms", "max_primitive_sites", "max_atoms"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name}: must be >= 0 (0: no limit), got {value}")

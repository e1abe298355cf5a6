"""Stability: energy above the convex hull (eV/atom) of relaxed samples, and the S.U.N. rate.

Samples are relaxed and reference structures (the training set) evaluated by the same energy model
(CHGNet, see :mod:`xtalgen.postprocess.relax`, passed in by the caller so this module stays
independent of the potential). For each sample's chemical system a pymatgen ``PhaseDiagram`` is built
from the reference entries whose elements are a subset of it (every sub-system); only those
references are evaluated. E_hull may be negative (below the reference hull). A sample is stable at
E_hull ≤ 0 and metastable at ≤ 0.1 eV/atom; S.U.N. = metastable, unique and novel, as a fraction of
*all submitted* samples (failed or invalid samples count against it). Relaxation is the costly part
(CPU seconds per structure), so a seeded random subset of the valid samples may be relaxed instead of
all of them; the rates are then estimated as (count in the subset / subset size) × (valid / submitted).
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from pymatgen.core import Composition

from xtalgen.evaluation.hull_points import early_stop_hull
from xtalgen.evaluation.reference_table import ReferenceTable, load_reference_table, shipped_reference_path

if TYPE_CHECKING:
    from xtalgen.evaluation.base import EvalContext

#: Where hull reference energies come from: a table (object or path), "auto" (the shipped table for
#: the energy model if there is one, else the training set) or "train" (always computed on demand).
ReferenceSpec = ReferenceTable | str | Path

#: E_hull thresholds (eV/atom).
STABLE_EHULL = 0.0
METASTABLE_EHULL = 0.1
#: Samples denser than this (Å³ per atom) are not relaxed and count as not stable (collapsed cells cost CHGNet
#: minutes each and cannot end near the hull): below the smallest volume per atom of all 73,634 Materials
#: Project structures with ≤ 20 sites (4.36 Å³/atom, FeH4, mp-1079939).
MIN_VOLUME_PER_ATOM = 4.3


class EnergyModel(Protocol):
    """Relaxes samples and evaluates reference energies (eV/atom), caching results on disk."""

    name: str
    relax_tag: str  # identifies the relaxation settings (part of the sample cache file name)
    reference_tag: str  # identifies how reference energies are made (part of their cache file name)

    def relax(
        self, items: Sequence[tuple[str, Any]], *, cache_path: Path | None, workers: int, progress: bool
    ) -> dict[str, dict[str, Any]]: ...

    def energies(
        self, items: Sequence[tuple[str, Any]], *, cache_path: Path | None, workers: int, progress: bool
    ) -> dict[str, dict[str, Any]]: ...


def subsystems(elements: Iterable[str]) -> list[frozenset[str]]:
    """Every non-empty subset of a set of elements (the chemical sub-systems of a hull)."""
    els = sorted(set(elements))
    return [frozenset(c) for r in range(1, len(els) + 1) for c in combinations(els, r)]


def reference_indices(
    sample_systems: Iterable[frozenset[str]], reference_systems: Sequence[frozenset[str]]
) -> list[int]:
    """Indices of references whose element set lies inside at least one sample's chemical system."""
    by_system: dict[frozenset[str], list[int]] = defaultdict(list)
    for j, system in enumerate(reference_systems):
        by_system[system].append(j)
    wanted: set[frozenset[str]] = set()
    for system in set(sample_systems):
        wanted.update(subsystems(system))
    return sorted(j for s in wanted for j in by_system.get(s, []))


@dataclass(frozen=True)
class HullResult:
    """One sample on its hull: E_hull (eV/atom, NaN when no hull), the competing phases, a note.

    ``decomposition``: the hull phases the sample's composition decomposes into, as (reduced formula,
    fraction of atoms) sorted by fraction, from pymatgen's ``PhaseDiagram.get_decomp_and_e_above_hull``.
    """

    e_hull: float
    decomposition: tuple[tuple[str, float], ...] = ()
    note: str = ""

    def decomposition_text(self) -> str:
        """``"NaCl 0.60 + Na 0.40"`` (fractions of atoms); empty when there is none."""
        return " + ".join(f"{formula} {frac:.2f}" for formula, frac in self.decomposition)


def hull_analysis(
    samples: Sequence[tuple[Composition, float]], references: Sequence[tuple[Composition, float]]
) -> list[HullResult]:
    """E_hull (eV/atom) and decomposition per sample; NaN with a note when the hull cannot be built.

    Energies are per atom. References whose elements are outside a sample's system are ignored.
    """
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram

    ref_entries = [
        (frozenset(el.symbol for el in comp.elements), PDEntry(comp, e * comp.num_atoms))
        for comp, e in references
        if np.isfinite(e)
    ]
    by_system: dict[frozenset[str], list[int]] = defaultdict(list)
    for i, (comp, _) in enumerate(samples):
        by_system[frozenset(el.symbol for el in comp.elements)].append(i)
    nan = float("nan")
    out: list[HullResult] = [HullResult(nan)] * len(samples)
    for system, idx in by_system.items():
        entries = [entry for els, entry in ref_entries if els <= system]
        have = {next(iter(els)) for els, _ in ref_entries if len(els) == 1 and els <= system}
        missing = sorted(system - have)
        if missing:
            for i in idx:
                out[i] = HullResult(nan, note=f"no elemental reference for {', '.join(missing)}")
            continue
        try:
            diagram = PhaseDiagram(entries)
        except Exception as exc:  # degenerate reference sets
            for i in idx:
                out[i] = HullResult(nan, note=f"phase diagram failed: {exc}"[:200])
            continue
        for i in idx:
            comp, energy = samples[i]
            entry = PDEntry(comp, energy * comp.num_atoms)
            try:
                decomp, e_hull = diagram.get_decomp_and_e_above_hull(entry, allow_negative=True)
            except Exception as exc:
                out[i] = HullResult(nan, note=f"hull failed: {exc}"[:200])
                continue
            phases: dict[str, float] = defaultdict(float)
            for phase, frac in decomp.items():
                phases[phase.composition.reduced_formula] += float(frac)
            ordered = tuple(sorted(phases.items(), key=lambda kv: (-kv[1], kv[0])))
            out[i] = HullResult(float(e_hull), ordered)
    return out


def hull_energies(
    samples: Sequence[tuple[Composition, float]], references: Sequence[tuple[Composition, float]]
) -> list[tuple[float, str]]:
    """(E_hull in eV/atom, note) per sample; NaN with a note when there is no hull (:func:`hull_analysis`)."""
    return [(r.e_hull, r.note) for r in hull_analysis(samples, references)]


def resolve_reference_table(spec: ReferenceSpec | None, energy_model: EnergyModel | None) -> ReferenceTable | None:
    """The reference table ``spec`` asks for, checked against ``energy_model``; None = compute on demand.

    ``"auto"``/None: the shipped table whose tag equals the model's ``reference_tag`` (None if none
    ships or there is no model yet); ``"train"``: None; a path or table: that table, which must have
    been made the way the model makes reference energies (ValueError otherwise).
    """
    if spec is None or (isinstance(spec, str) and spec == "auto"):
        if energy_model is None:
            return None
        path = shipped_reference_path(energy_model.reference_tag)
        return load_reference_table(path) if path is not None else None
    if isinstance(spec, str) and spec == "train":
        return None
    table = spec if isinstance(spec, ReferenceTable) else load_reference_table(spec)
    tag = getattr(energy_model, "reference_tag", None)
    if tag is not None and table.reference_tag != tag:
        raise ValueError(
            f"reference table {table.name} holds {table.reference_tag!r} energies but the energy model makes "
            f"{tag!r} reference energies; use a table made with the same model and settings"
        )
    return table


@dataclass(frozen=True)
class StabilityRun:
    """What one stability run found besides the per-sample values: structurally valid samples, the
    relaxed subset's size, samples skipped as too dense, hull references used and the reference table
    they came from (None: computed from the training set)."""

    n_valid: int
    n_subset: int
    n_too_dense: int
    n_references: int
    reference_table: str | None


class Stability:
    """Per sample: E_hull (eV/atom) after relaxation; NaN for invalid or failed samples.

    Adds columns ``energy_per_atom``, ``relax_rmsd`` (Å), ``relax_steps``, ``relax_converged``,
    ``e_hull_decomposition`` (the competing hull phases, :meth:`HullResult.decomposition_text`),
    ``e_hull_note``, ``stability_subset``; keeps relaxed structures in ``ctx.columns["_relaxed"]``.
    Every setting comes through the constructor. ``energy_model`` relaxes the samples and makes the
    reference energies (required to run). ``subset``: relax only a random subset of that many
    structurally valid samples, drawn with ``seed`` (:func:`stability_subset`; None: all); counts are
    over the subset and rates are scaled to all submitted samples (:func:`rate_scale`). Samples with
    less than ``min_volume_per_atom`` Å³ per atom (:data:`MIN_VOLUME_PER_ATOM`; None: no limit) are not
    relaxed and count as not stable. ``reference_energies``: see :func:`resolve_reference_table`; with a
    table known at construction the training set is not needed. What a run found besides the per-sample
    values (subset size, references) is the metric's own result, :attr:`run` (:class:`StabilityRun`).
    """

    name = "e_hull"

    def __init__(
        self,
        energy_model: EnergyModel | None = None,
        reference_energies: ReferenceSpec = "auto",
        subset: int | None = None,
        seed: int = 0,
        min_volume_per_atom: float | None = MIN_VOLUME_PER_ATOM,
    ) -> None:
        if subset is not None and subset < 1:
            raise ValueError(f"stability subset: must be >= 1 samples (None = all), got {subset}")
        self.energy_model = energy_model
        self.reference_energies = reference_energies
        self.subset = subset
        self.seed = seed
        self.min_volume_per_atom = min_volume_per_atom
        self._table = resolve_reference_table(reference_energies, energy_model)
        self.needs = frozenset({"structures", "stability"} | (set() if self._table is not None else {"train"}))
        self.run: StabilityRun | None = None
        self.meta: dict[str, Any] = {}

    def _reference_table(self, ctx: EvalContext, model: EnergyModel) -> ReferenceTable | None:
        if self._table is not None:
            return resolve_reference_table(self._table, model)  # checks the table against the model
        table = resolve_reference_table(self.reference_energies, model)
        if table is None and ctx.train is None:
            raise ValueError(
                f"stability: no reference-energy table for {model.reference_tag!r} and no training set to "
                "compute reference energies from; pass --train or --reference-energies TABLE"
            )
        return table

    def per_sample(self, ctx: EvalContext) -> np.ndarray:
        model = self.energy_model
        if model is None:
            raise ValueError("stability needs an energy model: construct Stability(energy_model=...), e.g. "
                             "xtalgen.postprocess.relax.CHGNetEnergyModel()")  # fmt: skip
        table = self._reference_table(ctx, model)  # before relaxing: a missing reference source fails fast
        n = len(ctx.generated)
        keys = ctx.sample_keys
        chosen = self._chosen(ctx)
        density = {int(i): ctx.generated.structures[i].volume / len(ctx.generated.structures[i]) for i in chosen}
        limit = self.min_volume_per_atom
        too_dense = {int(i) for i in chosen if limit is not None and density[int(i)] < limit}
        valid = np.array([i for i in chosen if i not in too_dense], dtype=int)
        cache_root = Path(ctx.cache_dir) if ctx.cache_dir is not None else None
        relax_cache = cache_root / "generated" / f"relax-{model.relax_tag}.jsonl" if cache_root else None
        items = [(keys[i], ctx.generated.structures[i]) for i in valid]
        relaxed = model.relax(items, cache_path=relax_cache, workers=ctx.workers, progress=ctx.progress,
                              **early_stop_hull(model, table, items))  # stopped early: E_hull > limit + margin

        energy = np.full(n, np.nan)
        cols: dict[str, np.ndarray] = {
            "relax_rmsd": np.full(n, np.nan),
            "relax_steps": np.full(n, np.nan),
            "relax_converged": np.full(n, np.nan),
        }
        notes = np.full(n, "", dtype=object)
        notes[ctx.valid_mask() & ~ctx.columns["stability_subset"]] = "not relaxed: outside the stability subset"
        for i in sorted(too_dense):
            notes[i] = (f"not relaxed: {density[i]:.2f} Å³/atom, denser than any known solid "
                        f"(limit {limit} Å³/atom); counted as not stable")  # fmt: skip
        structures = np.full(n, None, dtype=object)
        for i in valid:
            rec = relaxed[keys[i]]
            if rec.get("error") or rec.get("energy_per_atom") is None:
                notes[i] = f"relaxation failed: {rec.get('error', 'no energy')}"
                continue
            energy[i] = rec["energy_per_atom"]
            cols["relax_rmsd"][i] = rec.get("rmsd", np.nan)
            cols["relax_steps"][i] = rec.get("steps", np.nan)
            cols["relax_converged"][i] = float(bool(rec.get("converged")))
            structures[i] = rec.get("structure")

        done = [i for i in valid if np.isfinite(energy[i])]
        comps = {i: ctx.generated.structures[i].composition for i in done}
        systems = [frozenset(el.symbol for el in c.elements) for c in comps.values()]
        if table is not None:
            references = _table_references(table, systems)
        else:
            references = self._computed_references(ctx, model, systems, cache_root)
        hulls = hull_analysis([(comps[i], energy[i]) for i in done], references)
        out = np.full(n, np.nan)
        decomposition = np.full(n, "", dtype=object)
        for i, hull in zip(done, hulls, strict=True):
            out[i] = hull.e_hull
            decomposition[i] = hull.decomposition_text()
            note = hull.note
            notes[i] = f"reference table {table.name}: {note}" if note and table is not None else note
        ctx.columns.update({"energy_per_atom": energy, **cols, "e_hull_decomposition": decomposition,
                            "e_hull_note": notes, "_relaxed": structures})  # fmt: skip
        name = table.name if table is not None else None
        self.run = StabilityRun(int(np.sum(ctx.valid_mask())), len(chosen), len(too_dense), len(references), name)
        self.meta = {"hull_reference_table": name}
        return out

    def _chosen(self, ctx: EvalContext) -> np.ndarray:
        """Indices of the samples to relax: every structurally valid one, or a seeded random subset of them.

        Marks them in the per-sample column ``stability_subset`` (read by :func:`rate_scale`).
        """
        chosen = stability_subset(np.nonzero(ctx.valid_mask())[0], self.subset, self.seed)
        in_subset = np.zeros(len(ctx.generated), dtype=bool)
        in_subset[chosen] = True
        ctx.columns["stability_subset"] = in_subset
        return chosen

    def _computed_references(
        self, ctx: EvalContext, model: EnergyModel, systems: list[frozenset[str]], cache_root: Path | None
    ) -> list[tuple[Composition, float]]:
        """Reference energies of the training structures in the samples' systems, computed (and cached)."""
        train = ctx.reference("train")
        ref_systems = [frozenset(el.symbol for el in Composition(f).elements) for f in train.formulas]
        chosen = reference_indices(systems, ref_systems)
        ref_cache = cache_root / "references" / f"{model.reference_tag}.jsonl" if cache_root else None
        ref_items = [(f"{train.ids[j]}:{train.formulas[j]}", j) for j in chosen]
        ref_energy = model.energies(
            [(k, train.payload(j)) for k, j in ref_items],
            cache_path=ref_cache,
            workers=ctx.workers,
            progress=ctx.progress,
        )
        references = []
        for k, _ in ref_items:
            rec = ref_energy[k]
            if rec.get("energy_per_atom") is not None and not rec.get("error"):
                references.append((Composition(rec["formula"]), float(rec["energy_per_atom"])))
        return references

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]:
        if values is None or self.run is None:
            return {}
        n, run = len(values), self.run
        e = np.where(np.isfinite(values), values, np.inf)
        unique = np.nan_to_num(ctx.results.get("unique", np.zeros(n)), nan=0.0) > 0
        novel = np.nan_to_num(ctx.results.get("novel", np.zeros(n)), nan=0.0) > 0
        finite = values[np.isfinite(values)]
        rmsd = ctx.columns.get("relax_rmsd", np.full(n, np.nan))
        counts = {
            "stable": int(np.sum(e <= STABLE_EHULL)),
            "metastable": int(np.sum(e <= METASTABLE_EHULL)),
            "sun": int(np.sum((e <= METASTABLE_EHULL) & unique & novel)),
            "sun_stable": int(np.sum((e <= STABLE_EHULL) & unique & novel)),
        }
        scale = rate_scale(ctx)
        return {
            "stability.subset": float(run.n_subset),
            "stability.too_dense": float(run.n_too_dense),
            "stability.evaluated": float(len(finite)),
            "stability.n_stable": float(counts["stable"]),
            "stability.n_metastable": float(counts["metastable"]),
            "stability.n_sun": float(counts["sun"]),
            "stability.stable_rate": counts["stable"] * scale,
            "stability.metastable_rate": counts["metastable"] * scale,
            "stability.sun_rate": counts["sun"] * scale,
            "stability.sun_stable_rate": counts["sun_stable"] * scale,
            "stability.e_hull_median": float(np.median(finite)) if len(finite) else float("nan"),
            "stability.relax_rmsd_mean": float(np.nanmean(rmsd)) if np.isfinite(rmsd).any() else float("nan"),
            "stability.n_references": float(run.n_references),
            "stability.references_from_table": float(run.reference_table is not None),
        }


def rate_scale(ctx: EvalContext) -> float:
    """Factor from a count over the relaxed subset to a fraction of all submitted samples:
    (count / relaxed valid samples) x (valid / submitted); exact when every valid sample is relaxed, an
    unbiased estimate when a random subset is (the subset is the ``stability_subset`` column)."""
    n, n_valid = len(ctx.generated), int(np.sum(ctx.valid_mask()))
    subset = ctx.columns.get("stability_subset")
    m = int(np.sum(subset)) if subset is not None else n_valid
    return n_valid / (m * n) if m and n else 0.0


def stability_subset(valid: np.ndarray, m: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``m`` of the ``valid`` sample indices drawn at random with ``seed``; all when
    ``m`` is None, 0 or ≥ their number."""
    valid = np.asarray(valid, dtype=int)
    if not m or m >= len(valid):
        return valid
    return np.sort(np.random.default_rng([seed, 7]).choice(valid, size=int(m), replace=False))


def _table_references(table: ReferenceTable, systems: list[frozenset[str]]) -> list[tuple[Composition, float]]:
    """The table's entries in the samples' systems (and sub-systems); warns once about missing elements."""
    wanted = {sub for system in set(systems) for sub in subsystems(system)}
    missing = sorted({el for system in systems for el in system} - table.elements)
    if missing:
        warnings.warn(
            f"reference table {table.name} has no elemental entry for {', '.join(missing)}: "
            "samples containing them get no E_hull (NaN)",
            stacklevel=3,
        )
    return table.references(wanted)

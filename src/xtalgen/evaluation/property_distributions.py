"""Property distributions of relaxed generated and reference crystals, computed with the ML potential.

The CrysTens paper (Alverson et al., Digital Discovery 2024, Figs. 7–8) compares generated and real
crystals by the distributions of CGCNN predictions (formation energy, band gap, moduli, ...) and of
M3GNet E_hull, with a K–S statistic per property. CGCNN there is a surrogate trained on another
dataset; here every property is computed with the potential that relaxed the samples (CHGNet by
default), on both sides, after relaxation:

- formation energy (eV/atom): E − Σ x_el μ_el, with μ_el the lowest energy per atom of the element's
  entries among the hull references of the same potential (the reference-energy table, else the
  training set's elemental structures);
- E_hull (eV/atom): the stability metric's value for samples; the same hull construction for references;
- magnetic moment (μB/atom): mean |moment| over the sites as CHGNet predicts it (NaN for SevenNet);
- bulk modulus (GPa): Birch–Murnaghan fit (pymatgen ``EOS``) of static energies at ±2 and ±4 % volume
  around the relaxed cell, fractional coordinates kept (:mod:`xtalgen.postprocess.energy_volume`);
- density (g/cm³) of the relaxed cell.

Samples: the ones the stability metric relaxed (its relaxed structures and energies are reused, nothing
is relaxed twice). References: a seeded random subset of the training (or test) structures, relaxed
with the same energy model; relaxations and energy–volume points are cached under the evaluation cache
(``ref-<fingerprint>/``), so a rerun costs only the fits.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Structure
from scipy.stats import ks_2samp

from xtalgen.evaluation.stability import (
    EnergyModel,
    ReferenceSpec,
    hull_analysis,
    reference_indices,
    resolve_reference_table,
    subsystems,
)
from xtalgen.postprocess.energy_volume import VOLUME_STRAINS, energy_volume_points, strain_tag

if TYPE_CHECKING:
    from xtalgen.evaluation.base import EvalContext

#: (key, per-sample column, axis label) of each compared property.
PROPERTIES = (
    ("formation_energy", "formation_energy_per_atom", "formation energy (eV/atom)"),
    ("e_hull", "e_hull", "E above hull (eV/atom)"),
    ("magmom", "magmom_per_atom", "|magnetic moment| (μB/atom)"),
    ("bulk_modulus", "bulk_modulus", "bulk modulus (GPa)"),
    ("density", "relaxed_density", "density, relaxed (g/cm³)"),
)
#: Per-sample columns this metric adds (besides ``e_hull``, which the stability metric writes).
COLUMNS = ("formation_energy_per_atom", "magmom_per_atom", "bulk_modulus", "relaxed_density", "property_note")
#: Fewest finite energy–volume points for a Birch–Murnaghan fit (it has four parameters).
MIN_EV_POINTS = 4


def bulk_modulus_gpa(volumes: Sequence[float], energies: Sequence[float]) -> tuple[float, str]:
    """(Bulk modulus in GPa, note) from energies (eV/atom) at volumes (Å³/atom), Birch–Murnaghan fit.

    NaN with a note when there are too few points, the fit fails, the curvature is not positive or the
    fitted minimum lies outside the sampled volumes (the cell was not at an energy minimum)."""
    from pymatgen.analysis.eos import EOS

    v, e = np.asarray(volumes, dtype=float), np.asarray(energies, dtype=float)
    ok = np.isfinite(v) & np.isfinite(e)
    if ok.sum() < MIN_EV_POINTS:
        return float("nan"), f"E(V) fit: {int(ok.sum())} points, needs {MIN_EV_POINTS}"
    order = np.argsort(v[ok])
    lowest = int(np.argmin(e[ok][order]))
    if lowest in (0, len(order) - 1):
        return float("nan"), "E(V) fit: lowest energy at the edge of the sampled volumes (not at a minimum)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = EOS("birch_murnaghan").fit(v[ok], e[ok])
        b0, v0 = float(fit.b0_GPa), float(fit.v0)
    except Exception as exc:  # scipy's least squares gives up on flat or noisy curves
        return float("nan"), f"E(V) fit failed: {exc}"[:200]
    if not np.isfinite(b0) or b0 <= 0:
        return float("nan"), f"E(V) fit: bulk modulus {b0:.3g} GPa (no minimum)"
    if not v[ok].min() <= v0 <= v[ok].max():
        return float("nan"), f"E(V) fit: minimum at {v0:.3g} Å³/atom, outside the sampled volumes"
    return b0, ""


def elemental_references(references: Iterable[tuple[Composition, float]]) -> dict[str, float]:
    """Chemical potential per element (eV/atom): the lowest energy per atom among its elemental entries."""
    mu: dict[str, float] = {}
    for comp, energy in references:
        if len(comp.elements) == 1 and np.isfinite(energy):
            el = comp.elements[0].symbol
            mu[el] = min(mu.get(el, np.inf), float(energy))
    return mu


def formation_energy_per_atom(composition: Composition, energy_per_atom: float, mu: Mapping[str, float]) -> float:
    """E − Σ x_el μ_el (eV/atom); NaN when an element has no reference."""
    fractions = composition.fractional_composition.get_el_amt_dict()
    if any(el not in mu for el in fractions):
        return float("nan")
    return float(energy_per_atom - sum(x * mu[el] for el, x in fractions.items()))


def ks_statistics(generated: pd.DataFrame, reference: pd.DataFrame) -> dict[str, float]:
    """Two-sample K–S statistic per property of :data:`PROPERTIES` (finite values; NaN if a side is empty)."""
    out = {}
    for key, column, _ in PROPERTIES:
        g, r = finite_values(generated, column), finite_values(reference, column)
        out[key] = float(ks_2samp(g, r).statistic) if len(g) and len(r) else float("nan")
    return out


def finite_values(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The finite values of one column (empty when the column is missing)."""
    if column not in frame.columns:
        return np.zeros(0)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    return values[np.isfinite(values)]


def reference_subset(n: int, size: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``size`` of ``n`` reference structures drawn with ``seed`` (all: ``size`` None or ≥ n)."""
    if size is None or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, 20]).choice(n, size=int(size), replace=False))


class PropertyDistributions:
    """Formation energy, E_hull, magnetic moment, bulk modulus and density of relaxed samples vs references.

    Adds the per-sample columns of :data:`COLUMNS` (NaN for samples the stability metric did not relax)
    and ``properties.ks.<property>`` (two-sample K–S statistic), ``properties.median.<property>`` and
    ``properties.reference_median.<property>`` to the metrics. ``reference``: ``"train"`` or ``"test"``;
    ``n_reference``: size of the seeded reference subset (None: all); ``strains``: relative volume
    strains of the E(V) points; ``reference_energies``: the hull/elemental reference source, as the
    stability metric's (:func:`~xtalgen.evaluation.stability.resolve_reference_table`).
    ``reference_frame`` holds the reference subset's properties after :meth:`per_sample`.
    """

    name = "properties"

    def __init__(
        self,
        energy_model: EnergyModel,
        reference: str = "train",
        n_reference: int | None = 100,
        seed: int = 0,
        strains: Sequence[float] = VOLUME_STRAINS,
        reference_energies: ReferenceSpec = "auto",
    ) -> None:
        if reference not in ("train", "test"):
            raise ValueError(f"property distributions reference: 'train' or 'test', got {reference!r}")
        if n_reference is not None and n_reference < 1:
            raise ValueError(f"property distributions: reference subset must be >= 1 structures, got {n_reference}")
        if len(set(strains)) < MIN_EV_POINTS:
            raise ValueError(f"property distributions: needs {MIN_EV_POINTS} distinct volume strains, got {strains}")
        self.energy_model = energy_model
        self.reference = reference
        self.n_reference = n_reference
        self.seed = seed
        self.strains = tuple(float(s) for s in strains)
        self._table = resolve_reference_table(reference_energies, energy_model)
        self.needs = frozenset({"structures", "stability", reference} | (set() if self._table else {"train"}))
        self.reference_frame: pd.DataFrame | None = None
        self.meta: dict[str, Any] = {}

    # --- per sample ---------------------------------------------------------------------------------
    def per_sample(self, ctx: EvalContext) -> None:
        relaxed = ctx.columns.get("_relaxed")
        if relaxed is None:
            raise ValueError("property distributions need the relaxed samples of the stability metric (run it first)")
        n = len(ctx.generated)
        energy = np.asarray(ctx.columns.get("energy_per_atom", np.full(n, np.nan)), dtype=float)
        done = [i for i in range(n) if isinstance(relaxed[i], dict) and np.isfinite(energy[i])]
        cache_root = Path(ctx.cache_dir) if ctx.cache_dir is not None else None
        tag = f"{self.energy_model.relax_tag}-{strain_tag(self.strains)}"
        keys = ctx.sample_keys
        ev = energy_volume_points(
            self.energy_model, [(keys[i], relaxed[i]) for i in done], strains=self.strains,
            cache_path=cache_root / "generated" / f"ev-{tag}.jsonl" if cache_root else None,
            workers=ctx.workers, progress=ctx.progress,
        )  # fmt: skip
        ref_rows = self._reference_rows(ctx, cache_root, tag)
        comps = {i: Structure.from_dict(relaxed[i]).composition for i in done}
        systems = [frozenset(el.symbol for el in c.elements) for c in comps.values()]
        systems += [frozenset(el.symbol for el in r["composition"].elements) for r in ref_rows]
        references = self._references(ctx, systems, cache_root)
        mu = elemental_references(references)

        cols: dict[str, np.ndarray] = {c: np.full(n, np.nan) for c in COLUMNS[:-1]}
        notes = np.full(n, "", dtype=object)
        for i in done:
            rec = ev[keys[i]]
            cols["formation_energy_per_atom"][i] = formation_energy_per_atom(comps[i], energy[i], mu)
            row = _ev_properties(rec)
            for c in ("magmom_per_atom", "bulk_modulus", "relaxed_density"):
                cols[c][i] = row[c]
            notes[i] = row["property_note"]
        ctx.columns.update({**cols, "property_note": notes})

        hulls = hull_analysis([(r["composition"], r["energy_per_atom"]) for r in ref_rows], references)
        for r, hull in zip(ref_rows, hulls, strict=True):
            r["formation_energy_per_atom"] = formation_energy_per_atom(r["composition"], r["energy_per_atom"], mu)
            r["e_hull"] = hull.e_hull
            r["property_note"] = "; ".join(t for t in (r["property_note"], hull.note) if t)
        frame = pd.DataFrame(ref_rows).drop(columns="composition", errors="ignore")
        self.reference_frame = frame
        return None

    def _reference_rows(self, ctx: EvalContext, cache_root: Path | None, tag: str) -> list[dict[str, Any]]:
        """The seeded reference subset relaxed (cached) and its E(V) points and magmoms (cached): one row
        per reference structure, failures with a note."""
        ref = ctx.reference(self.reference)
        chosen = reference_subset(len(ref), self.n_reference, self.seed)
        folder = cache_root / f"ref-{ref.fingerprint}" if cache_root else None
        items = [(str(ref.ids[j]), ref.payload(int(j))) for j in chosen]
        model = self.energy_model
        relaxed = model.relax(items, cache_path=folder / f"relax-{model.relax_tag}.jsonl" if folder else None,
                              workers=ctx.workers, progress=ctx.progress)  # fmt: skip
        ok = [k for k, _ in items if relaxed[k].get("structure") and relaxed[k].get("energy_per_atom") is not None]
        ev = energy_volume_points(
            model, [(k, relaxed[k]["structure"]) for k in ok], strains=self.strains,
            cache_path=folder / f"ev-{tag}.jsonl" if folder else None, workers=ctx.workers, progress=ctx.progress,
        )  # fmt: skip
        rows = []
        for key, _ in items:
            rec = relaxed[key]
            row: dict[str, Any] = {"id": key, "formula": "", "energy_per_atom": np.nan, "relax_converged": np.nan}
            row.update({c: np.nan for c in COLUMNS[:-1]})
            if key not in ok:
                row["property_note"] = f"relaxation failed: {rec.get('error', 'no energy')}"
                rows.append(row)
                continue
            structure = Structure.from_dict(rec["structure"])
            row.update(formula=structure.composition.reduced_formula, composition=structure.composition,
                       energy_per_atom=float(rec["energy_per_atom"]),
                       relax_converged=float(bool(rec.get("converged"))))  # fmt: skip
            row.update(_ev_properties(ev[key]))
            rows.append(row)
        return [r for r in rows if "composition" in r] + [r for r in rows if "composition" not in r]

    def _references(
        self, ctx: EvalContext, systems: list[frozenset[str]], cache_root: Path | None
    ) -> list[tuple[Composition, float]]:
        """Hull reference entries (eV/atom) of every sub-system of ``systems``: from the reference-energy
        table, else static (or relaxed, as the model is set) energies of the training structures (the
        stability metric's cache file, so nothing is computed twice)."""
        wanted = {sub for system in set(systems) for sub in subsystems(system)}
        if self._table is not None:
            return self._table.references(wanted)
        train = ctx.reference("train")
        ref_systems = [frozenset(el.symbol for el in Composition(f).elements) for f in train.formulas]
        chosen = reference_indices(systems, ref_systems)
        model = self.energy_model
        keys = [(f"{train.ids[j]}:{train.formulas[j]}", j) for j in chosen]
        done = model.energies(
            [(k, train.payload(j)) for k, j in keys],
            cache_path=cache_root / "references" / f"{model.reference_tag}.jsonl" if cache_root else None,
            workers=ctx.workers, progress=ctx.progress,
        )  # fmt: skip
        return [(Composition(done[k]["formula"]), float(done[k]["energy_per_atom"])) for k, _ in keys
                if done[k].get("energy_per_atom") is not None and not done[k].get("error")]  # fmt: skip

    # --- aggregate ----------------------------------------------------------------------------------
    def generated_frame(self, ctx: EvalContext) -> pd.DataFrame:
        """The relaxed samples' properties (one row per relaxed sample, NaN where a property failed)."""
        n = len(ctx.generated)
        frame = pd.DataFrame({c: ctx.columns.get(c, np.full(n, np.nan)) for c in COLUMNS})
        frame["e_hull"] = ctx.results.get("e_hull", np.full(n, np.nan))
        frame.insert(0, "id", ctx.generated.ids)
        relaxed = np.isfinite(np.asarray(ctx.columns.get("energy_per_atom", np.full(n, np.nan)), dtype=float))
        return frame[relaxed].reset_index(drop=True)

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]:
        gen = self.generated_frame(ctx)
        ref = self.reference_frame if self.reference_frame is not None else pd.DataFrame()
        ks = ks_statistics(gen, ref)
        out = {"properties.n_generated": float(len(gen)),
               "properties.n_reference": float(len(finite_values(ref, "energy_per_atom")))}  # fmt: skip
        out.update({f"properties.ks.{key}": ks[key] for key, _, _ in PROPERTIES})
        for key, column, _ in PROPERTIES:
            g, r = finite_values(gen, column), finite_values(ref, column)
            out[f"properties.median.{key}"] = float(np.median(g)) if len(g) else float("nan")
            out[f"properties.reference_median.{key}"] = float(np.median(r)) if len(r) else float("nan")
        self.meta = {
            "property_reference": self.reference,
            "property_reference_subset": len(ref),
            "property_settings": {"n_reference": self.n_reference, "seed": self.seed, "volume_strains": self.strains,
                                  "energy_model": getattr(self.energy_model, "name", None),
                                  "elemental_references": self._table.name if self._table is not None
                                  else "training set elemental structures"},
        }  # fmt: skip
        return out


def _ev_properties(rec: Mapping[str, Any]) -> dict[str, Any]:
    """Magnetic moment (μB/atom), bulk modulus (GPa), density (g/cm³) and a note from one E(V) record."""
    nan = float("nan")
    if rec.get("error") or not rec.get("volumes"):
        return {"magmom_per_atom": nan, "bulk_modulus": nan, "relaxed_density": nan,
                "property_note": f"E(V) points failed: {rec.get('error', 'no record')}"}  # fmt: skip
    b0, note = bulk_modulus_gpa(rec["volumes"], [nan if e is None else e for e in rec["energies"]])
    magmom = rec.get("magmom_per_atom")
    return {"magmom_per_atom": nan if magmom is None else float(magmom), "bulk_modulus": b0,
            "relaxed_density": float(rec.get("density") or nan), "property_note": note}  # fmt: skip

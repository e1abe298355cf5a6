"""Stability under more than one potential, and how the potentials agree (``--potential chgnet,sevennet``).

The first potential drives the plain stability metric (``e_hull``, ``stability.*``, S.U.N.). Each further
potential gets a :class:`PotentialStability`: the same relaxation subset and hull construction, its own
energy model and reference energies, per-sample columns suffixed ``_<potential>`` (``e_hull_sevennet``,
``relax_rmsd_sevennet``, ...) and aggregates under ``stability_<potential>.``. :class:`PotentialAgreement`
then compares them on the samples with an E_hull under every potential: how many are metastable
(E_hull ≤ 0.1 eV/atom) under all, under only one, under none; Pearson and Spearman correlation and
the mean absolute difference of E_hull against the first potential; and S.U.N. by agreement
(metastable under every potential, unique and novel), as a fraction of all submitted samples scaled
like the stability rates. Current benchmarks judge stability with several potentials and report where
they disagree (LeMat-GenBench, Siron et al. 2025, arXiv:2508.04457).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from xtalgen.evaluation.stability import METASTABLE_EHULL, EnergyModel, ReferenceSpec, Stability, rate_scale

if TYPE_CHECKING:
    from xtalgen.evaluation.base import EvalContext

#: Per-sample columns Stability writes (kept apart per potential).
_COLUMNS = ("energy_per_atom", "relax_rmsd", "relax_steps", "relax_converged", "e_hull_decomposition",
            "e_hull_note", "_relaxed")  # fmt: skip


class PotentialStability(Stability):
    """:class:`Stability` under a further potential; columns suffixed ``_<potential>``, keys ``stability_<potential>.``.

    Uses the same subset (size and seed) as the primary stability metric, so both judge the same samples.
    """

    def __init__(
        self,
        potential: str,
        energy_model: EnergyModel,
        reference_energies: ReferenceSpec = "auto",
        subset: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(energy_model, reference_energies=reference_energies, subset=subset, seed=seed)
        self.potential = potential
        self.name = f"e_hull_{potential}"

    @contextmanager
    def _own_columns(self, ctx: EvalContext) -> Iterator[None]:
        """Put this potential's columns in the plain names for the duration, then move them back."""
        suffix = f"_{self.potential}"
        saved_cols = {k: ctx.columns.pop(k) for k in _COLUMNS if k in ctx.columns}
        ctx.columns.update({k: ctx.columns.pop(k + suffix) for k in _COLUMNS if k + suffix in ctx.columns})
        try:
            yield
        finally:
            ctx.columns.update({k + suffix: ctx.columns.pop(k) for k in _COLUMNS if k in ctx.columns})
            ctx.columns.update(saved_cols)

    def per_sample(self, ctx: EvalContext) -> np.ndarray:
        with self._own_columns(ctx):
            values = super().per_sample(ctx)
        self.meta = {}  # the report's hull reference table is the first potential's
        return values

    def aggregate(self, ctx: EvalContext, values: np.ndarray | None) -> dict[str, float]:
        with self._own_columns(ctx):
            out = super().aggregate(ctx, values)
        prefix = f"stability_{self.potential}."
        return {prefix + k.split(".", 1)[1]: v for k, v in out.items()}


def _flag(ctx: EvalContext, name: str) -> np.ndarray:
    n = len(ctx.generated)
    return np.nan_to_num(np.asarray(ctx.results.get(name, np.zeros(n)), dtype=float), nan=0.0) > 0


class PotentialAgreement:
    """Agreement of E_hull between the potentials (the first is ``e_hull``, the others ``e_hull_<name>``).

    Adds the per-sample column ``metastable_by`` (``all``, ``none`` or the names of the potentials under
    which the sample is metastable, joined by ``+``; empty without an E_hull under every potential) and
    ``sun_agreement`` (metastable under every potential, unique and novel).
    """

    needs = frozenset({"structures", "stability"})
    name = "potential_agreement"

    def __init__(self, potentials: list[str]) -> None:
        if len(potentials) < 2:
            raise ValueError(f"potential agreement needs at least two potentials, got {potentials}")
        self.potentials = list(potentials)

    def _ehull(self, ctx: EvalContext) -> dict[str, np.ndarray]:
        first, *rest = self.potentials
        out = {first: ctx.results.get("e_hull")}
        out.update({p: ctx.results.get(f"e_hull_{p}") for p in rest})
        missing = [p for p, v in out.items() if v is None]
        if missing:
            raise ValueError(f"potential agreement: no E_hull under {', '.join(missing)} (run their stability first)")
        return {p: np.asarray(v, dtype=float) for p, v in out.items()}

    def per_sample(self, ctx: EvalContext) -> None:
        e = self._ehull(ctx)
        n = len(ctx.generated)
        every = np.all([np.isfinite(v) for v in e.values()], axis=0)
        meta = {p: np.where(np.isfinite(v), v, np.inf) <= METASTABLE_EHULL for p, v in e.items()}
        label = np.full(n, "", dtype=object)
        for i in np.nonzero(every)[0]:
            yes = [p for p in self.potentials if meta[p][i]]
            label[i] = "all" if len(yes) == len(self.potentials) else "none" if not yes else "+".join(yes)
        all_meta = every & np.all(list(meta.values()), axis=0)
        ctx.columns["metastable_by"] = label
        ctx.columns["sun_agreement"] = all_meta & _flag(ctx, "unique") & _flag(ctx, "novel")
        return None

    def aggregate(self, ctx: EvalContext, values: Any) -> dict[str, float]:
        from scipy.stats import pearsonr, spearmanr

        e = self._ehull(ctx)
        first = self.potentials[0]
        every = np.all([np.isfinite(v) for v in e.values()], axis=0)
        meta = {p: (v <= METASTABLE_EHULL)[every] for p, v in e.items()}
        stacked = np.array(list(meta.values()))
        out: dict[str, float] = {"agreement.n_compared": float(every.sum())}
        out["agreement.metastable_all"] = float(np.sum(stacked.all(axis=0)))
        for k, p in enumerate(self.potentials):
            others = np.delete(stacked, k, axis=0)
            out[f"agreement.metastable_only_{p}"] = float(np.sum(stacked[k] & ~others.any(axis=0)))
        out["agreement.metastable_none"] = float(np.sum(~stacked.any(axis=0)))
        for p in self.potentials[1:]:
            a, b = e[first][every], e[p][every]
            key = f"agreement.{first}_vs_{p}"
            enough = len(a) >= 3 and np.ptp(a) > 0 and np.ptp(b) > 0
            out[f"{key}.pearson"] = float(pearsonr(a, b)[0]) if enough else float("nan")
            out[f"{key}.spearman"] = float(spearmanr(a, b)[0]) if enough else float("nan")
            out[f"{key}.mean_abs_diff"] = float(np.mean(np.abs(a - b))) if len(a) else float("nan")
        n = len(ctx.generated)
        scale = rate_scale(ctx)
        sun = int(np.sum(ctx.columns.get("sun_agreement", np.zeros(n, dtype=bool))))
        out["agreement.n_sun"] = float(sun)
        out["agreement.sun_rate"] = sun * scale
        return out

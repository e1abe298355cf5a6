"""Drawn conditions for CrysTens diffusion: each sample gets a (space group, formula) pair drawn from the
training data's table and is sampled with imputation + symmetry projection for that pair.

This is *conditional* generation on conditions drawn from the training distribution (as PGCGM and the
PyXtal baseline draw theirs), not unconditional generation: the space group and the formula come from the
table; the model supplies the lattice and the atoms' free parameters.

The table (``conditions.csv``: ``spacegroup, formula, count``, one row per (space group, reduced formula)
of the training split, ``count`` materials) ships beside the model's weights. Draws are seeded and weighted
by ``count``; a drawn pair that the tensor size cannot hold (:func:`cell_numbers`) or that no Wyckoff
assignment of its conventional cell fits (:meth:`SymmetryProjection.for_request`) is skipped and drawn again;
the number of skipped draws is recorded. All samples share one seeded sampling run, batched across pairs;
each sample is imputed and projected for its own pair at every step.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from xtalgen.models.crystens.grouped_hooks import GroupedHooks
from xtalgen.models.crystens.symmetry_projection import SymmetryProjection
from xtalgen.pipelines.families import GenerationRequest, SampleBatch
from xtalgen.pipelines.run_files import find_run_file
from xtalgen.representations.crystens import CrysTensConfig
from xtalgen.representations.crystens.cell_composition import cell_numbers

#: The conditions table beside a CrysTens diffusion model's weights.
CONDITIONS_FILE = "conditions.csv"
#: The option value that switches drawn conditions on.
DRAWN = "drawn"


@dataclass(frozen=True)
class DrawnConditions:
    """One (space group, formula) pair per sample, and how many draws were skipped (not placeable)."""

    spacegroups: list[int]
    formulas: list[str]
    skipped: int
    skipped_pairs: int
    table: str


def find_conditions_table(checkpoint: Path) -> Path | None:
    """The ``conditions.csv`` of a model folder (or a checkpoint file's folder and its parents), or None."""
    return find_run_file(checkpoint if checkpoint.is_dir() else checkpoint.parent, CONDITIONS_FILE)


def conditions_table_path(checkpoint: Path) -> Path:
    """:func:`find_conditions_table`, or ValueError naming the checkpoint."""
    path = find_conditions_table(checkpoint)
    if path is not None:
        return path
    raise ValueError(f"conditions=drawn: no {CONDITIONS_FILE} beside checkpoint {checkpoint} (the shipped "
                     "crystens-diffusion-mp20 has one; a training run needs a table of spacegroup, formula, count)")


def read_conditions_table(path: Path) -> pd.DataFrame:
    """The table's rows (``spacegroup``, ``formula``, ``count``); ValueError naming the file and the reason."""
    frame = pd.read_csv(path, dtype={"formula": str})
    missing = [c for c in ("spacegroup", "formula", "count") if c not in frame.columns]
    if missing:
        raise ValueError(f"conditions table {path}: missing column(s) {missing} (need spacegroup, formula, count)")
    if frame.empty:
        raise ValueError(f"conditions table {path}: no rows")
    bad = frame[~frame["spacegroup"].between(1, 230) | ~(frame["count"] > 0)]
    if len(bad):
        raise ValueError(f"conditions table {path}, row {int(bad.index[0]) + 1}: spacegroup must be 1..230 and "
                         "count > 0")  # fmt: skip
    return frame


def _placeable(ct: CrysTensConfig, spacegroup: int, formula: str) -> bool:
    """Can a size-N CrysTens hold the pair's cell with a Wyckoff assignment of the group?"""
    try:
        numbers = cell_numbers(formula, ct, spacegroup)
        SymmetryProjection.for_request(ct, spacegroup, numbers)
    except ValueError:
        return False
    return True


def draw_conditions(table: pd.DataFrame, n: int, seed: int, ct: CrysTensConfig, source: str = "",
                    max_draws: int | None = None) -> DrawnConditions:  # fmt: skip
    """``n`` pairs drawn with replacement, weighted by ``count``; unplaceable draws skipped and drawn again."""
    rng = np.random.default_rng(seed)
    weights = table["count"].to_numpy(dtype=float)
    weights = weights / weights.sum()
    sgs, formulas = table["spacegroup"].to_numpy(dtype=int), table["formula"].astype(str).tolist()
    ok: dict[int, bool] = {}
    out_sg: list[int] = []
    out_f: list[str] = []
    skipped, limit = 0, max_draws if max_draws is not None else 50 * n + 100
    while len(out_sg) < n:
        if skipped > limit:
            raise ValueError(f"conditions table {source}: {skipped} draws in a row could not be placed in a "
                             f"size-{ct.size} CrysTens")  # fmt: skip
        row = int(rng.choice(len(weights), p=weights))
        if row not in ok:
            ok[row] = _placeable(ct, int(sgs[row]), formulas[row])
        if not ok[row]:
            skipped += 1
            continue
        out_sg.append(int(sgs[row]))
        out_f.append(formulas[row])
    return DrawnConditions(out_sg, out_f, skipped, sum(not v for v in ok.values()), source)


def _pair_hooks(kind: str, ct: CrysTensConfig, pairs: list[tuple[int, str]], opts: Any) -> list[Any]:
    """The imputation + symmetry projection of each distinct (space group, formula) pair."""
    from xtalgen.pipelines.crystens.sample import imputation_hooks

    return [imputation_hooks(kind, ct, sg, formula, opts) for sg, formula in pairs]


def sample_drawn(request: GenerationRequest, opts: Any) -> SampleBatch:
    """Sample ``request.n`` CrysTens diffusion samples, each on its own drawn (space group, formula).

    All samples share one seeded sampling run (batches of :data:`~.sample.BATCH_SIZE`); each sample's rows
    are imputed and projected for its own pair (:class:`~xtalgen.models.crystens.grouped_hooks.GroupedHooks`)
    and, with a conditional model, guided by its own space group and composition.
    """
    from xtalgen.pipelines.crystens.decode import decode_candidates, tensor_writer
    from xtalgen.pipelines.crystens.load import load_crystens_model
    from xtalgen.pipelines.crystens.sample import BATCH_SIZE, composition_vector, per_sample_columns, sample_tensors

    if request.checkpoint is None:
        raise ValueError("conditions=drawn: no CrysTens checkpoint given")
    if request.spacegroup or request.formula is not None or request.elements:
        raise ValueError("conditions=drawn: draws the space group and formula itself; drop --spacegroup/--formula")
    kind, module, cfg, ct = load_crystens_model(request.checkpoint)
    if kind != "diffusion":
        raise ValueError(f"conditions=drawn: needs a crystens-diffusion model, not crystens-{kind}")
    path = conditions_table_path(Path(request.checkpoint))
    drawn = draw_conditions(read_conditions_table(path), request.n, request.seed, ct, str(path))
    pairs_of = list(zip(drawn.spacegroups, drawn.formulas, strict=True))
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for i, pair in enumerate(pairs_of):
        groups[pair].append(i)
    pairs = list(groups)
    hooks = _pair_hooks(kind, ct, pairs, opts)
    index = {pair: g for g, pair in enumerate(pairs)}
    learned = bool(getattr(module, "conditional", False))
    composition = None
    if learned:
        vectors = [composition_vector(f, cfg.conditioning.n_elements) for _, f in pairs]
        composition = torch.stack([vectors[index[p]] for p in pairs_of])
    grouped = GroupedHooks([h.projection if h.projection is not None else h.imputation for h in hooks],
                           np.array([index[p] for p in pairs_of]))  # fmt: skip
    raw = sample_tensors(kind, module, request.n, seed=request.seed, batch_size=BATCH_SIZE,
                         spacegroup=drawn.spacegroups if learned else None, composition=composition,
                         guidance_scale=getattr(opts, "guidance_scale", 2.0),
                         sampling_steps=getattr(opts, "steps", None), progress=request.progress,
                         impute=grouped)  # fmt: skip
    rows: list[dict[str, Any]] = [{} for _ in range(request.n)]
    for (sg, formula), h in zip(pairs, hooks, strict=True):
        idx = groups[(sg, formula)]
        extra = per_sample_columns(h, len(idx)) or [{} for _ in idx]
        for i, row in zip(idx, extra, strict=True):
            rows[i] = {"condition_spacegroup": sg, "condition_formula": formula,
                       "cell_atoms_imputed": len(h.numbers) if h.numbers is not None else None, **row}
    projected = all(h.project for h in hooks)
    info = {"seed": request.seed, "conditions": DRAWN, "imputed": True, "symmetry_projected": projected}
    record = {"model": f"crystens-{kind}", "checkpoint": str(request.checkpoint), "n": request.n,
              "seed": request.seed, "conditions": DRAWN, "generation_mode": "drawn conditions (not unconditional)",
              "conditions_table": drawn.table, "draws_skipped": drawn.skipped,
              "pairs_skipped": drawn.skipped_pairs, "distinct_conditions": len(groups),
              "drawn_conditions": [[sg, f] for sg, f in zip(drawn.spacegroups, drawn.formulas, strict=True)],
              "imputed": True, "symmetry_projected": projected, "guided": learned,
              **request.meta}  # fmt: skip
    candidates = decode_candidates(raw, ct, label=f"crystens-{kind}", info=info, per_sample=rows,
                                   workers=request.workers, decode_options=opts.decode_options(),
                                   cleanup=opts.cleanup(), spacegroup=drawn.spacegroups,
                                   progress=request.progress)  # fmt: skip
    return SampleBatch(candidates, record, extra_files=[tensor_writer(raw)] if opts.save_tensors else [])

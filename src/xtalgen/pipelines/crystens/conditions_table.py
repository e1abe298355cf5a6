"""The (space group, reduced formula) table of a CrysTens training set, written beside the run.

``xtalgen generate --model crystens-diffusion --set conditions=drawn`` draws its per-sample conditions from
this table (:mod:`xtalgen.pipelines.crystens.drawn` reads it); training writes it into the run folder and
packaging ships it with the weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Composition, Element

from xtalgen.data.atomic import atomic_write
from xtalgen.pipelines.crystens.drawn import CONDITIONS_FILE


def conditions_table(spacegroups: np.ndarray, counts: np.ndarray) -> pd.DataFrame:
    """Rows ``spacegroup, formula, count`` (sorted) from per-material space groups (M,) and element counts
    (M, n_elements; column k counts Z = k + 1). Materials without atoms or space group are left out."""
    spacegroups = np.asarray(spacegroups, dtype=np.int64)
    counts = np.rint(np.asarray(counts)).astype(np.int64)
    keep = (spacegroups >= 1) & (spacegroups <= 230) & (counts.sum(axis=1) > 0)
    keys, per_key = np.unique(np.column_stack([spacegroups[keep], counts[keep]]), axis=0, return_counts=True)
    formulas = [
        Composition({Element.from_Z(int(z) + 1): int(c) for z, c in enumerate(row[1:]) if c}).reduced_formula
        for row in keys
    ]
    frame = pd.DataFrame({"spacegroup": keys[:, 0] if len(keys) else [], "formula": formulas, "count": per_key})
    frame = frame.groupby(["spacegroup", "formula"], as_index=False)["count"].sum()
    return frame.sort_values(["spacegroup", "formula"], ignore_index=True)


def write_conditions_table(run: Path, spacegroups: np.ndarray, counts: np.ndarray) -> Path:
    """Write :func:`conditions_table` as ``run/conditions.csv`` (atomic); ValueError if it has no rows."""
    frame = conditions_table(spacegroups, counts)
    if frame.empty:
        raise ValueError(f"{run}: no training material has a space group and atoms; no {CONDITIONS_FILE} written")
    path = Path(run) / CONDITIONS_FILE
    with atomic_write(path) as fh:
        frame.to_csv(fh, index=False)
    return path

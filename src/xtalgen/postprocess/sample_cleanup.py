"""Turn a decoded generated cell into a crystal: volume sanity -> merge close atoms -> symmetry snap.

Each step is switchable and reports what it did as summary columns (one dict per sample):

1. **volume** (``volume_limit``): the cell volume is compared with the one predicted from per-element
   volume increments (:mod:`.volume`); only when the ratio lies outside ``[1 / limit, limit]`` is the
   cell rescaled isotropically to the prediction (shape, fractional coordinates and symmetry kept).
   For the shipped table, 90 % of the MP <= 20-site training cells lie within a ratio of 0.61-1.21 of
   their prediction (the table's fit statistics), so a factor 2 is far outside the real spread.
   Columns: ``volume_ratio`` (before), ``volume_scale`` (linear factor applied, 1.0 when none).
2. **merge** (``merge_factor``): atoms of one element closer than ``factor x r`` are merged into one
   (:func:`.merge.merge_arrays`, PGCGM's step). Columns: ``atoms_merged``.
3. **symmetry** (``symmetry_tolerance``): spglib's group at tolerances up to the loose one, the
   requested group preferred, and the atoms snapped onto its Wyckoff positions (:mod:`.symmetrize`).
   Columns: ``spacegroup_before`` (spglib at ``symprec`` before this step), ``symmetry_applied``,
   ``symmetry_tolerance_used`` (Å), ``symmetry_max_displacement`` (Å).

Lengths in Å, volumes in Å³.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure

from xtalgen.data.symmetry import spacegroup_number
from xtalgen.postprocess.merge import DEFAULT_MERGE_FACTOR, merge_arrays
from xtalgen.postprocess.symmetrize import DEFAULT_TOLERANCES, symmetrize_structure
from xtalgen.postprocess.volume import ElementVolumes, rescale_matrix

#: Volume ratio (either way) beyond which a cell is rescaled to its predicted volume.
DEFAULT_VOLUME_LIMIT = 2.0
#: Loosest spglib tolerance (Å) of the symmetry step.
DEFAULT_SYMMETRY_TOLERANCE = 0.5


@dataclass(frozen=True)
class CleanupOptions:
    """Which steps run: ``volume_limit`` (None: off), ``merge_factor`` (None: off), ``symmetry_tolerance``
    (None: off; the loosest spglib tolerance in Å), ``symprec`` for ``spacegroup_before``."""

    volume_limit: float | None = DEFAULT_VOLUME_LIMIT
    merge_factor: float | None = DEFAULT_MERGE_FACTOR
    symmetry_tolerance: float | None = DEFAULT_SYMMETRY_TOLERANCE
    symprec: float = 0.1

    def validate(self) -> None:
        if self.volume_limit is not None and not self.volume_limit >= 1.0:
            raise ValueError(f"volume_limit: must be >= 1 (a ratio), got {self.volume_limit}")
        if self.merge_factor is not None and not self.merge_factor >= 0:
            raise ValueError(f"merge_factor: must be >= 0, got {self.merge_factor}")
        if self.symmetry_tolerance is not None and not self.symmetry_tolerance > 0:
            raise ValueError(f"symmetry_tolerance: must be > 0 Å, got {self.symmetry_tolerance}")

    @property
    def tolerances(self) -> tuple[float, ...]:
        """The spglib tolerances tried: the defaults up to the loose one, and the loose one itself."""
        loose = float(self.symmetry_tolerance or 0.0)
        return tuple(sorted({t for t in DEFAULT_TOLERANCES if t < loose} | {loose}))


def _volume_step(matrix: np.ndarray, symbols: list[str], limit: float, table: ElementVolumes,
                 row: dict[str, Any]) -> np.ndarray:  # fmt: skip
    predicted = table.predict(symbols)
    current = abs(float(np.linalg.det(matrix)))
    ratio = current / predicted if predicted else None
    row["volume_ratio"] = round(ratio, 4) if ratio is not None else None
    row["volume_scale"] = 1.0
    if ratio is not None and not 1.0 / limit <= ratio <= limit:
        matrix, factor = rescale_matrix(matrix, symbols, table)
        row["volume_scale"] = round(factor, 4) if factor is not None else 1.0
    return matrix


def clean_structure(
    structure: Structure,
    options: CleanupOptions,
    target: int | None = None,
    volumes: ElementVolumes | None = None,
) -> tuple[Structure, dict[str, Any]]:
    """Run the switched-on steps on ``structure`` (``target``: space group to prefer); return it and its columns.

    A step that is off leaves its columns empty (volume, merge) or says so (``symmetry_applied`` = 0).
    """
    row: dict[str, Any] = {"atoms_decoded": len(structure)}
    matrix = structure.lattice.matrix
    symbols = [site.specie.symbol for site in structure]
    frac = structure.frac_coords
    if options.volume_limit is not None:
        matrix = _volume_step(matrix, symbols, options.volume_limit, volumes or ElementVolumes.default(), row)
    if options.merge_factor is not None:
        n = len(symbols)
        symbols, frac = merge_arrays(matrix, symbols, frac, factor=options.merge_factor)
        row["atoms_merged"] = n - len(symbols)
    out = Structure(Lattice(matrix), symbols, frac)
    row["spacegroup_before"] = spacegroup_number(out, options.symprec)
    row["symmetry_applied"] = 0
    if options.symmetry_tolerance is not None:
        res = symmetrize_structure(out, target, options.tolerances)
        out = res.structure
        row.update(symmetry_applied=res.spacegroup, symmetry_tolerance_used=res.tolerance,
                   symmetry_max_displacement=round(res.max_displacement, 4))  # fmt: skip
    row["atoms_final"] = len(out)
    return out, row

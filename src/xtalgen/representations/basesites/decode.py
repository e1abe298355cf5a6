"""Decode generated base sites into a cell: snap them onto special positions, then expand them exactly.

:class:`SnapExpand` is the ``expand`` callable the post-processing pool runs on each PGCGM candidate
(:func:`xtalgen.postprocess.candidates.postprocess_candidates`); it is picklable and lives in this
layer, so post-processing never calls back into the pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from xtalgen.representations.basesites.expand import RawBaseSites, expand_raw_arrays
from xtalgen.representations.basesites.snap import DEFAULT_SNAP_FACTOR, snap_base_sites
from xtalgen.representations.basesites.symops import spacegroup_ops


@dataclass(frozen=True)
class SnapExpand:
    """Picklable ``expand`` callable: snap base sites (threshold ``factor × r``), then expand exactly.

    Returns ``(row matrix (3, 3) Å, symbols (N,), frac (N, 3), {"sites_snapped", "snap_max_move"})``
    (moves in Å).
    """

    factor: float = DEFAULT_SNAP_FACTOR

    def __call__(self, raw: RawBaseSites) -> tuple[np.ndarray, list[str], np.ndarray, dict[str, Any]]:
        from pymatgen.core import Lattice

        lat = np.asarray(raw.lattice, dtype=np.float64).reshape(-1)
        if lat.shape != (6,) or not np.all(np.isfinite(lat)) or np.any(lat[:3] <= 0):
            raise ValueError(f"lattice must be 6 finite numbers with positive lengths, got {lat.tolist()}")
        matrix = np.asarray(Lattice.from_parameters(*lat).matrix)
        coords, moves = snap_base_sites(raw.species, raw.coords, spacegroup_ops(raw.spacegroup), matrix,
                                        factor=self.factor, site_mask=raw.site_mask,
                                        multiplicity=raw.multiplicity)  # fmt: skip
        matrix, symbols, frac = expand_raw_arrays(replace(raw, coords=coords), matrix=matrix)
        info = {"sites_snapped": int((moves > 0).sum()), "snap_max_move": round(float(moves.max(initial=0.0)), 4)}
        return matrix, symbols, frac, info

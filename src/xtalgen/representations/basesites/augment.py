"""Self-augmentation of base sites (PGCGM, Zhao et al., seed 000, Fig. 2).

Any member of a site's orbit is an equally valid base site: expanding it with the space-group ops
gives the same full cell. Each material therefore yields ``n_augment`` samples (32 in the paper),
each made of ``n_sets`` sets (3 in the paper) of base sites, every site's position drawn at random
from its orbit. Within one sample the sets use distinct orbit members whenever the orbit has at
least ``n_sets`` members (so the intra-element distances of the physics loss are real distances);
smaller orbits are reused cyclically.
"""

from __future__ import annotations

import numpy as np

from xtalgen.representations.basesites.encode import BaseSites


def augment_sets(
    base: BaseSites, n_augment: int = 32, n_sets: int = 3, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Random base-site sets (n_augment, n_sets, K, 3) of fractional coords in [0, 1).

    ``rng`` is a numpy Generator or a seed; the same seed gives the same samples.
    """
    if n_augment < 1 or n_sets < 1:
        raise ValueError(f"n_augment and n_sets must be >= 1, got {n_augment} and {n_sets}")
    rng = np.random.default_rng(rng)
    out = np.empty((n_augment, n_sets, base.n_sites, 3), dtype=np.float64)
    for k, orbit in enumerate(base.orbits):
        m = len(orbit)
        # A random permutation of the orbit per sample; take its first n_sets entries (cyclically).
        perm = rng.random((n_augment, m)).argsort(axis=1)
        idx = perm[:, np.arange(n_sets) % m]
        out[:, :, k, :] = orbit[idx]
    return out


def n_distinct_choices(base: BaseSites, n_sets: int = 3) -> int:
    """Number of distinct ordered choices of one sample (product over sites of m·(m-1)·…)."""
    total = 1
    for m in base.multiplicities:
        for s in range(min(n_sets, int(m))):
            total *= int(m) - s
    return total

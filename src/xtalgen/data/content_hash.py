"""A content hash of a crystal structure: the same cell, species and positions give the same hash."""

from __future__ import annotations

import hashlib

import numpy as np
from pymatgen.core import Structure


def structure_hash(structure: Structure, decimals: int = 5) -> str:
    """SHA-1 (20 hex digits) of the lattice (Å), the species in site order and the fractional coordinates
    wrapped into [0, 1), all rounded to ``decimals``."""
    h = hashlib.sha1()
    h.update(np.round(structure.lattice.matrix, decimals).tobytes())
    h.update(",".join(str(site.specie) for site in structure).encode())
    h.update(np.round(np.mod(structure.frac_coords, 1.0), decimals).tobytes())
    return h.hexdigest()[:20]

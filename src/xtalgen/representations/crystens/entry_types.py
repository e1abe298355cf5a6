"""Which quantity each position of a (4, N, N) CrysTens holds, whatever the crystal (layout in :mod:`.config`).

Used to weight the entries of a training loss by type: the same position holds the same kind of value
in every tensor (e.g. row 7, columns 12..N-1 are always the alpha repeats of the atom slots), only whether
the slot is filled varies.
"""

from __future__ import annotations

import numpy as np

from xtalgen.representations.crystens.config import FIRST_ATOM

#: Entry types, in the order of their integer codes in :func:`entry_type_map`. "empty" is every
#: position that is the fill value in every tensor (header corner, padding row/column 11).
ENTRY_TYPES: tuple[str, ...] = ("Z", "coordinate", "length", "angle", "spacegroup", "pair", "empty")
#: entry type of each of the 11 header rows (Z, x, y, z, a, b, c, alpha, beta, gamma, space group)
HEADER_ROW_TYPES: tuple[str, ...] = ("Z",) + ("coordinate",) * 3 + ("length",) * 3 + ("angle",) * 3 + ("spacegroup",)


def entry_type_map(size: int) -> np.ndarray:
    """Integer type code (index into :data:`ENTRY_TYPES`) of every entry of a (4, size, size) CrysTens.

    Header rows 0-10 over the atom-slot columns and their mirrored columns get the type of their row;
    the atom-slot block (layer 0 distances, layers 1-3 signed differences) is "pair"; the rest "empty".
    """
    if size <= FIRST_ATOM:
        raise ValueError(f"size must be > {FIRST_ATOM}, got {size}")
    code = {name: i for i, name in enumerate(ENTRY_TYPES)}
    layer = np.full((size, size), code["empty"], dtype=np.int64)
    atoms = slice(FIRST_ATOM, size)
    for row, name in enumerate(HEADER_ROW_TYPES):
        layer[row, atoms] = code[name]
        layer[atoms, row] = code[name]
    layer[atoms, atoms] = code["pair"]
    return np.broadcast_to(layer, (4, size, size)).copy()

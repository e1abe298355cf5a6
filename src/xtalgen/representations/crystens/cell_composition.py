"""Atomic numbers of the cell a CrysTens encoder would write for a requested formula and space group.

A reduced formula does not fix the number of formula units per cell: the encoder (``cell="auto"``, the
bundled configs' choice) writes the spglib standard *conventional* cell when it fits in N - 12 atom
slots, otherwise the primitive one, so NaCl in Fm-3m (225) is 4 formula units (8 atoms) and SrTiO3 in
Pm-3m (221) is 1 (5 atoms). The rule used here: the smallest number of formula units whose conventional
cell can be built from the space group's Wyckoff positions (PyXtal ``Group.check_compatible``) and whose
cell, as the encoder would choose it, fits the tensor. Without a space group (or with ``cell="as_given"``)
the reduced formula itself is used. ``formula_units`` overrides the choice.
"""

from __future__ import annotations

import numpy as np

from xtalgen.representations.crystens.config import CrysTensConfig


def formula_counts(formula: str) -> dict[int, int]:
    """Reduced formula -> {Z: atoms per formula unit}; ``ValueError`` for an unparsable or non-integer formula."""
    from pymatgen.core import Composition, Element

    try:
        comp = Composition(formula)
    except Exception as exc:  # pymatgen raises several types for bad formulas
        raise ValueError(f"formula {formula!r}: cannot be parsed ({exc})") from None
    elements = comp.element_composition
    unknown = [str(el) for el in elements if not isinstance(el, Element)]
    if unknown or len(elements) == 0:
        raise ValueError(f"formula {formula!r}: not a composition of chemical elements {unknown or ''}")
    reduced, _ = elements.get_reduced_composition_and_factor()
    counts = {el.Z: float(amt) for el, amt in reduced.items()}
    if any(abs(v - round(v)) > 1e-6 or round(v) < 1 for v in counts.values()):
        raise ValueError(f"formula {formula!r}: needs whole-number amounts of each element")
    return {z: int(round(v)) for z, v in sorted(counts.items())}


def _numbers(counts: dict[int, int], units: int) -> np.ndarray:
    return np.array([z for z, c in counts.items() for _ in range(c * units)], dtype=np.int64)


def cell_numbers(
    formula: str, config: CrysTensConfig, spacegroup: int | None = None, formula_units: int | None = None
) -> np.ndarray:
    """Sorted atomic numbers of the cell for ``formula`` (in ``spacegroup``), as the encoder would order them.

    Raises ``ValueError`` naming the reason when the formula needs more atoms than the tensor's
    N - 12 slots or no Wyckoff-compatible cell of the space group fits.
    """
    counts = formula_counts(formula)
    per_unit = sum(counts.values())
    cap = config.max_atoms
    if formula_units is not None:
        if formula_units < 1:
            raise ValueError(f"formula_units: must be >= 1, got {formula_units}")
        if per_unit * formula_units > cap:
            raise ValueError(
                f"formula {formula!r} x {formula_units} formula units = {per_unit * formula_units} atoms; "
                f"a size-{config.size} CrysTens holds {cap}"
            )
        return _numbers(counts, formula_units)
    if per_unit > cap:
        raise ValueError(f"formula {formula!r}: {per_unit} atoms per formula unit; a size-{config.size} "
                         f"CrysTens holds {cap}")  # fmt: skip
    if spacegroup is None or config.cell == "as_given":
        return _numbers(counts, 1)
    if not 1 <= int(spacegroup) <= 230:
        raise ValueError(f"spacegroup: must be in 1..230, got {spacegroup}")
    from pyxtal.symmetry import Group

    group = Group(int(spacegroup))
    centring = int(group.cellsize())  # lattice points per conventional cell
    units = 1
    while per_unit * units <= cap * centring:
        conv = [c * units for c in counts.values()]
        if group.check_compatible(conv)[0]:
            fits_conv = sum(conv) <= cap
            fits_prim = all(c % centring == 0 for c in conv) and sum(conv) // centring <= cap
            if config.cell in ("conventional", "auto") and fits_conv:
                return _numbers(counts, units)
            if (config.cell == "primitive" or (config.cell == "auto" and not fits_conv)) and fits_prim:
                return _primitive(counts, units, centring)
        units += 1
    raise ValueError(
        f"formula {formula!r} in space group {spacegroup}: no cell built from its Wyckoff positions fits "
        f"{cap} atoms ({config.cell} cell); pass formula_units to choose one"
    )


def _primitive(counts: dict[int, int], units: int, centring: int) -> np.ndarray:
    return np.array([z for z, c in counts.items() for _ in range(c * units // centring)], dtype=np.int64)

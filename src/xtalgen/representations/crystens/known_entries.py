"""The CrysTens entries a generation request fixes: space group, atomic numbers, empty slots.

A request "formula F in space group S" determines, before any geometry is known (layout in :mod:`.config`):

* the space-group entries (header row 10) of every occupied atom slot, in its row and column of all
  4 layers (8 repeats per atom);
* the atomic-number entries (header row 0) of the occupied slots 0 .. A-1, atoms in the encoder's
  canonical order (ascending Z; :func:`.cell.select_cell`), again 8 repeats per atom;
* every entry of the unused slots A .. N-13 (their rows and columns in all layers) and of the padding
  row/column and the header corner: all hold ``fill_value``.

These are the entries a sampler can impute ("conditioning by replacement", Song et al. 2021;
Lugmayr et al. 2022). With a space group but no atoms the occupied slots are not known in advance:
``spacegroup_value`` is then returned for the sampler to write into the slots it currently finds present.
All values are in the normalised units of the given :class:`CrysTensConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xtalgen.representations.crystens.config import FIRST_ATOM, N_HEADER, PAD_INDEX, ROW_SG, ROW_Z, CrysTensConfig


@dataclass(frozen=True)
class KnownEntries:
    """Target values and mask, both (4, N, N); ``spacegroup_value`` is set when the slots are not known."""

    values: np.ndarray  # float32, normalised units; meaningful where mask is True
    mask: np.ndarray  # bool
    spacegroup_value: float | None = None


def known_entries(
    config: CrysTensConfig, spacegroup: int | None = None, numbers: np.ndarray | list[int] | None = None
) -> KnownEntries:
    """The entries fixed by ``spacegroup`` (1-230) and/or the cell's atomic ``numbers`` (any order; sorted).

    Raises ``ValueError`` naming the problem: a space group outside 1..230, more atoms than the
    tensor's N - 12 slots, or an atomic number outside the config's atomic-number scale.
    """
    n = config.size
    values = np.full((4, n, n), config.fill_value, dtype=np.float32)
    mask = np.zeros((4, n, n), dtype=bool)
    sg_value: float | None = None
    if spacegroup is not None:
        if not 1 <= int(spacegroup) <= 230:
            raise ValueError(f"spacegroup: must be in 1..230, got {spacegroup}")
        sg_value = float(config.spacegroup.normalise(int(spacegroup)))
    # padding and header corner are empty in every tensor
    mask[:, PAD_INDEX, :] = mask[:, :, PAD_INDEX] = True
    mask[:, :N_HEADER, :N_HEADER] = True
    if numbers is None:
        return KnownEntries(values, mask, sg_value)

    z = np.sort(np.asarray(numbers, dtype=np.int64).ravel())
    if len(z) == 0:
        raise ValueError("numbers: a cell needs at least one atom")
    if len(z) > config.max_atoms:
        raise ValueError(
            f"numbers: {len(z)} atoms do not fit a size-{config.size} CrysTens ({config.max_atoms} atom slots)"
        )
    scale = config.atomic_number
    bad = sorted({int(v) for v in z if not scale.lo <= v <= scale.hi})
    if bad:
        raise ValueError(f"numbers: Z={bad} outside the CrysTens atomic-number range {scale.lo:g}..{scale.hi:g}")
    occupied = FIRST_ATOM + np.arange(len(z))
    empty = np.arange(FIRST_ATOM + len(z), n)
    z_norm = scale.normalise(z).astype(np.float32)
    values[:, ROW_Z, occupied] = z_norm
    values[:, occupied, ROW_Z] = z_norm
    mask[:, ROW_Z, occupied] = mask[:, occupied, ROW_Z] = True
    if sg_value is not None:
        values[:, ROW_SG, occupied] = values[:, occupied, ROW_SG] = sg_value
        mask[:, ROW_SG, occupied] = mask[:, occupied, ROW_SG] = True
    mask[:, empty, :] = mask[:, :, empty] = True  # values there are already fill_value
    return KnownEntries(values, mask, None)

"""CrysTens layout and normalisation: one explicit, JSON round-trippable config used to encode and decode.

Layout of a (4, N, N) tensor (channels first), after Alverson et al., Digital Discovery 2024, sec. 3.1:

* rows/columns 0-10 are the header: Z, x, y, z, a, b, c, alpha, beta, gamma, space group;
* row/column 11 is padding;
* rows/columns 12 .. N-1 hold one atom each (at most N - 12 atoms);
* layer 0 holds pairwise distances between atoms, layers 1-3 the signed differences x_i - x_j,
  y_i - y_j, z_i - z_j (row atom minus column atom); every layer repeats the header.

Every quantity is mapped by an affine :class:`Scale` from its physical range to a normalised range
(default [-1, 1]); every empty entry (padding, header corner, absent atoms) holds ``fill_value``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from xtalgen.data.atomic import atomic_write
from xtalgen.data.versioned_json import check_format, read_json

CellChoice = Literal["auto", "conventional", "primitive", "as_given"]
Ordering = Literal["canonical", "as_given"]
DistanceKind = Literal["fractional", "cartesian"]

CELL_CHOICES: tuple[str, ...] = ("auto", "conventional", "primitive", "as_given")
ORDERINGS: tuple[str, ...] = ("canonical", "as_given")
DISTANCE_KINDS: tuple[str, ...] = ("fractional", "cartesian")

#: Names of the 11 header rows, in order.
HEADER_NAMES: tuple[str, ...] = ("Z", "x", "y", "z", "a", "b", "c", "alpha", "beta", "gamma", "spacegroup")
N_HEADER = 11
PAD_INDEX = 11
FIRST_ATOM = 12
ROW_Z, ROW_X, ROW_A, ROW_ALPHA, ROW_SG = 0, 1, 4, 7, 10

FORMAT_NAME = "xtalgen.crystens"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Scale:
    """Affine map of a physical range [lo, hi] onto the normalised range [out_lo, out_hi]."""

    lo: float
    hi: float
    out_lo: float = -1.0
    out_hi: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)) or self.hi <= self.lo:
            raise ValueError(f"Scale needs finite lo < hi, got lo={self.lo}, hi={self.hi}")
        if self.out_hi == self.out_lo:
            raise ValueError("Scale needs out_lo != out_hi")

    @property
    def slope(self) -> float:
        """Normalised units per physical unit."""
        return (self.out_hi - self.out_lo) / (self.hi - self.lo)

    def normalise(self, value: Any) -> Any:
        return self.out_lo + (np.asarray(value, dtype=np.float64) - self.lo) * self.slope

    def denormalise(self, value: Any) -> Any:
        return self.lo + (np.asarray(value, dtype=np.float64) - self.out_lo) / self.slope


def _default_distance_scale(kind: str) -> Scale:
    # fractional: the norm of an unwrapped fractional difference vector is at most sqrt(3)
    return Scale(0.0, math.sqrt(3.0)) if kind == "fractional" else Scale(0.0, 40.0)


@dataclass(frozen=True)
class CrysTensConfig:
    """Everything needed to write and read a CrysTens; saved next to tensors and models.

    Attributes:
        size: N, the tensor side; holds up to N - 12 atoms (64 as in the paper: 52 atoms; 32: 20 atoms).
        cell: which cell is encoded: ``"conventional"`` (spglib standard conventional cell),
            ``"primitive"`` (spglib standard primitive cell), ``"as_given"`` (the input cell), or
            ``"auto"`` (conventional if it fits in N - 12 atoms, otherwise primitive).
        ordering: ``"canonical"`` sorts atoms by (Z, x, y, z) so that the same crystal gives the same
            tensor whatever its site order; ``"as_given"`` keeps the input order.
        distance: layer-0 content: ``"fractional"`` (Euclidean norm of the fractional difference
            vector, as in the paper) or ``"cartesian"`` (periodic minimum-image distance in Å).
        symprec: spglib tolerance (Å) used to find the space group and standard cells when encoding.
        idealize: for the spglib cells, also symmetrise the lattice and positions at ``symprec`` (spglib's
            standardisation); ``False`` keeps the input geometry, only changing the cell and origin.
        angle_tolerance: spglib angle tolerance (degrees).
        fill_value: normalised value of every empty entry.
        atomic_number, coordinate, length, angle, spacegroup, difference, pair_distance: the scales of
            Z, fractional coordinates, lattice lengths (Å), lattice angles (degrees), space group
            number, signed fractional differences and layer-0 distances (fractional units or Å).
    """

    size: int = 64
    cell: CellChoice = "auto"
    ordering: Ordering = "canonical"
    distance: DistanceKind = "fractional"
    symprec: float = 0.1
    idealize: bool = True
    angle_tolerance: float = 5.0
    fill_value: float = -1.0
    # Z = 1..94 (H..Pu, every element in the Materials Project); Z = 1 sits 0.1 above the fill value
    # so empty slots and hydrogen stay apart under noise while Z keeps as much resolution as possible.
    atomic_number: Scale = Scale(1.0, 94.0, -0.9, 1.0)
    coordinate: Scale = Scale(0.0, 1.0)
    length: Scale = Scale(0.0, 60.0)
    angle: Scale = Scale(0.0, 180.0)
    spacegroup: Scale = Scale(1.0, 230.0)
    difference: Scale = Scale(-1.0, 1.0)
    pair_distance: Scale = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.pair_distance is None:
            object.__setattr__(self, "pair_distance", _default_distance_scale(self.distance))
        if not isinstance(self.size, int) or self.size < FIRST_ATOM + 1:
            raise ValueError(f"size must be an integer > {FIRST_ATOM}, got {self.size!r}")
        for name, allowed in (("cell", CELL_CHOICES), ("ordering", ORDERINGS), ("distance", DISTANCE_KINDS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.symprec <= 0:
            raise ValueError(f"symprec must be > 0 Å, got {self.symprec}")
        z_empty = self.atomic_number.denormalise(self.fill_value)
        if z_empty >= 1.0:
            raise ValueError("atomic_number scale must put Z=1 strictly above fill_value")

    # --- derived ---------------------------------------------------------------------------
    @property
    def max_atoms(self) -> int:
        """Largest number of atoms a tensor of this size holds (N - 12)."""
        return self.size - FIRST_ATOM

    @property
    def presence_threshold(self) -> float:
        """Normalised Z level halfway between an empty slot and hydrogen."""
        return 0.5 * (self.fill_value + float(self.atomic_number.normalise(1.0)))

    def header_scales(self) -> tuple[Scale, ...]:
        """The scale of each of the 11 header rows, in layout order."""
        c, ln, an = self.coordinate, self.length, self.angle
        return (self.atomic_number, c, c, c, ln, ln, ln, an, an, an, self.spacegroup)

    def header_affine(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lo, out_lo, slope) arrays of shape (11,) for vectorised header (de)normalisation."""
        scales = self.header_scales()
        return (
            np.array([s.lo for s in scales]),
            np.array([s.out_lo for s in scales]),
            np.array([s.slope for s in scales]),
        )

    def with_empty_gap(self, gap: float) -> CrysTensConfig:
        """A copy whose every quantity starts ``gap`` above ``fill_value`` (same physical ranges, ``out_hi`` kept).

        With the default scales only Z has a gap (0.1); a fractional coordinate of 0, a zero difference
        and the self-distance map onto the fill value, and 5 Å lattice lengths onto -0.83, so an empty slot
        and a filled one differ in most header entries by less than the noise a generator leaves. A gap
        (e.g. 0.5) makes every entry of a filled slot tell "present" from "empty" (docs/models/crystens.md).
        """
        gap = float(gap)
        if not 0.0 <= gap < 2.0 or not math.isfinite(gap):
            raise ValueError(f"empty gap must be in [0, 2) normalised units, got {gap}")
        names = ("atomic_number", "coordinate", "length", "angle", "spacegroup", "difference", "pair_distance")
        changes = {}
        for name in names:
            scale: Scale = getattr(self, name)
            out_lo = self.fill_value + gap
            if out_lo >= scale.out_hi:
                raise ValueError(f"empty gap {gap}: {name} would start at {out_lo}, not below its top {scale.out_hi}")
            changes[name] = replace(scale, out_lo=out_lo)
        return replace(self, **changes)

    @property
    def empty_gap(self) -> float:
        """Smallest normalised distance between ``fill_value`` and the bottom of any quantity's range."""
        scales = (*self.header_scales(), self.difference, self.pair_distance)
        return min(min(s.out_lo, s.out_hi) - self.fill_value for s in scales)

    def with_options(self, **changes: Any) -> CrysTensConfig:
        """A copy with some fields changed (the distance scale follows ``distance`` unless given)."""
        if "distance" in changes and "pair_distance" not in changes:
            changes["pair_distance"] = _default_distance_scale(changes["distance"])
        return replace(self, **changes)

    # --- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {"format": FORMAT_NAME, "version": FORMAT_VERSION, **d}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrysTensConfig:
        """Rebuild a config from :meth:`to_dict` output; unknown keys are an error."""
        check_format(data, FORMAT_NAME, FORMAT_VERSION, "a CrysTens config")
        d = {k: v for k, v in data.items() if k not in ("format", "version")}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown CrysTens config key(s): {unknown}")
        for f in fields(cls):
            if f.name in d and isinstance(d[f.name], dict):
                d[f.name] = Scale(**d[f.name])
        return cls(**d)

    def to_json(self, path: str | Path) -> Path:
        """Write the config as JSON (atomically); return the path."""
        target = Path(path)
        with atomic_write(target) as fh:
            json.dump(self.to_dict(), fh, indent=2)
            fh.write("\n")
        return target

    @classmethod
    def from_json(cls, path: str | Path) -> CrysTensConfig:
        data = read_json(path, "a CrysTens config")
        if "config" in data and "format" not in data:  # metadata file written by batch encoding
            data = data["config"]
        return cls.from_dict(data)

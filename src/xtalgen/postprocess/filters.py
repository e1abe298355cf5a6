"""Validity filters for post-processed candidates; each returns a :class:`FilterOutcome`.

Distance rule: every pair of atoms i ≠ j (periodic minimum image, including an atom and its own
periodic images) must satisfy ``d_ij ≥ f · (r_i + r_j)`` with r the atomic radius (Å, :mod:`.radii`)
and ``f = DEFAULT_DISTANCE_FACTOR = 0.5``. Calibration on 5,000 random Materials Project structures
(``benchmarks/pgcgm_postprocess_calibration.py``, numbers in ``docs/benchmarks/pgcgm_postprocess.md``):
the smallest ratio d_ij / (r_i + r_j) per structure has median 0.94 and 0.1 % quantile 0.61; 4,999
of 5,000 pass f = 0.5 (the exception, mp-799536 Li7VO5F, has Li–Li at 1.42 Å, ratio 0.489). f = 0.5
thus accepts real crystals while rejecting atoms at half their contact distance or closer, a
deliberately loose bound for unrelaxed generated structures.

Space-group rule: spglib at ``symprec`` Å must find exactly the requested number.
Formula size (optional): the reduced formula may have at most ``max_atoms`` atoms. A base site that lands on
a high-multiplicity position gives a composition like SmMnO12 or Rb(HgO2)6 that no known crystal of those
elements has; for PGCGM's MP-ternary training materials the 99th percentile is 10.65 atoms per reduced
formula (98.6 % have ≤ 9), see docs/models/pgcgm.md.
Cell size (optional): the primitive cell (spglib at ``symprec``) may have at most ``max_sites`` atoms, the
largest cell the model saw in training (20 for the MP ≤ 20-site sets).
Condition formula (optional): the reduced composition must equal the one the sampling condition asked for
(a general PGCGM template's elements × Wyckoff multiplicities); a conventional cell and its primitive cell,
or any other multiple, have the same reduced composition.
Charge neutrality (optional): SMACT's ``smact_validity`` with the Pauling electronegativity test and
the SMACT-14 oxidation states (the CDVAE convention: single elements and all-metal alloys pass).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from pymatgen.core import Composition, Lattice, Structure

from xtalgen.data.radii import atomic_radius
from xtalgen.data.structure_checks import MIN_INTERATOMIC_DISTANCE

DEFAULT_DISTANCE_FACTOR = 0.5
DEFAULT_SYMPREC = 0.1

#: Rejection reasons (exact strings used in results and reports).
REASON_TOO_CLOSE = "atoms too close"
REASON_SPACEGROUP = "space group changed"
REASON_CHARGE = "not charge neutral"
REASON_FORMULA = "formula too large"
REASON_CELL = "cell too large"
REASON_CONDITION_FORMULA = "formula differs from the condition"


@dataclass(frozen=True)
class FilterOutcome:
    """Result of one filter: ``passed`` (None if not run), the rejection reason, a detail, and
    ``values``: numbers the filter measured, reported as extra summary columns."""

    name: str
    passed: bool | None
    reason: str = ""
    detail: str = ""
    values: dict[str, float] = field(default_factory=dict)


_COMBOS = np.array([c for c in itertools.product((-1, 0, 1), repeat=3) if any(c)], dtype=np.float64)


def shortest_lattice_vector(lattice) -> float:
    """Length in Å of the shortest non-zero lattice vector of a pymatgen Lattice."""
    return _shortest_of_matrix(np.asarray(lattice.matrix, dtype=np.float64).tobytes())


@lru_cache(maxsize=64)
def _shortest_of_matrix(matrix_bytes: bytes) -> float:
    """:func:`shortest_lattice_vector` of a row matrix given as its float64 bytes (a candidate's cell is asked
    for this several times)."""
    lattice = Lattice(np.frombuffer(matrix_bytes, dtype=np.float64).reshape(3, 3))
    reduced = np.asarray(lattice.get_lll_reduced_lattice().matrix)
    return float(np.linalg.norm(_COMBOS @ reduced, axis=1).min())


def _distance_ratios(structure: Structure) -> tuple[float, str, float, float, float]:
    """:func:`distance_ratios_arrays` of a Structure."""
    symbols = [site.specie.symbol for site in structure]
    return distance_ratios_arrays(structure.lattice, symbols, structure.frac_coords)


def distance_ratios_arrays(
    lattice: Lattice | np.ndarray, symbols: Sequence[str], frac: np.ndarray
) -> tuple[float, str, float, float, float]:
    """Smallest d_ij / (r_i + r_j) of a cell given as a Lattice (or row matrix (3, 3) Å), symbols (N,) and
    fractional coords (N, 3): overall with a description, among same-element pairs (incl. an atom and its own
    periodic image), among pairs of different elements (inf when there are none); then the shortest distance
    itself (Å, periodic images included). No Structure is built."""
    lattice = lattice if isinstance(lattice, Lattice) else Lattice(np.asarray(lattice, dtype=np.float64))
    radii = np.array([atomic_radius(s) for s in symbols])
    self_len = shortest_lattice_vector(lattice)
    i_self = int(radii.argmax())
    best, where = self_len / (2 * radii[i_self]), f"{symbols[i_self]}{i_self} and its periodic image"
    same_best, other_best, shortest = best, np.inf, self_len
    if len(symbols) > 1:
        frac = np.asarray(frac, dtype=np.float64)
        dist = np.asarray(lattice.get_all_distances(frac, frac))
        ratio = dist / (radii[:, None] + radii[None, :])
        np.fill_diagonal(ratio, np.inf)
        np.fill_diagonal(dist, np.inf)
        shortest = min(shortest, float(dist.min()))
        i, j = np.unravel_index(int(ratio.argmin()), ratio.shape)
        if ratio[i, j] < best:
            best = float(ratio[i, j])
            where = f"{symbols[i]}{i}-{symbols[j]}{j} at {dist[i, j]:.3f} Å"
        arr = np.asarray(symbols)
        same = arr[:, None] == arr[None, :]
        same_best = min(same_best, float(ratio[same].min()))
        if (~same).any():
            other_best = float(ratio[~same].min())
    return float(best), where, float(same_best), other_best, float(shortest)


def min_distance_ratio(structure: Structure) -> tuple[float, str]:
    """Smallest d_ij / (r_i + r_j) over all pairs (incl. periodic self-images) and a description."""
    best, where, *_ = _distance_ratios(structure)
    return best, where


def check_min_distance(
    structure: Structure, factor: float = DEFAULT_DISTANCE_FACTOR, *, ratios: tuple | None = None
) -> FilterOutcome:
    """Pass when every pair satisfies d_ij ≥ factor · (r_i + r_j) (see module docstring) and no two atoms are
    closer than :data:`~xtalgen.data.structure_checks.MIN_INTERATOMIC_DISTANCE` (0.5 Å, the structural-validity
    floor; with hydrogen's 0.25 Å radius the ratio alone lets H–H at 0.37 Å through).

    ``values`` holds the smallest ratio among same-element pairs and among pairs of different elements
    (which kind of clash rejected a candidate). ``ratios``: :func:`distance_ratios_arrays` of the same cell,
    already computed (``structure`` is then not read and may be None).
    """
    ratio, where, same, other, shortest = _distance_ratios(structure) if ratios is None else ratios
    values = {"min_ratio_same_element": round(same, 4), "min_ratio_other_elements": round(other, 4)}
    if ratio >= factor and shortest < MIN_INTERATOMIC_DISTANCE:
        detail = f"two atoms {shortest:.3f} Å apart (< {MIN_INTERATOMIC_DISTANCE} Å)"
        return FilterOutcome("min_distance", False, REASON_TOO_CLOSE, detail, values=values)
    if ratio >= factor:
        return FilterOutcome("min_distance", True, detail=f"min d/(ri+rj) = {ratio:.3f}", values=values)
    detail = f"{where}: d/(ri+rj) = {ratio:.3f} < {factor}"
    return FilterOutcome("min_distance", False, REASON_TOO_CLOSE, detail, values=values)


def symmetry_dataset(structure: Structure, symprec: float = DEFAULT_SYMPREC):
    """spglib's symmetry dataset of ``structure`` at ``symprec`` Å, or None when spglib fails."""
    return symmetry_dataset_arrays(
        structure.lattice.matrix, structure.frac_coords, [site.specie.Z for site in structure], symprec
    )


def symmetry_dataset_arrays(matrix: np.ndarray, frac: np.ndarray, numbers: Sequence[int],
                            symprec: float = DEFAULT_SYMPREC):  # fmt: skip
    """:func:`symmetry_dataset` of a cell given as a row lattice matrix (3, 3) Å, fractional coords (N, 3) and
    atomic numbers (N,), without a Structure."""
    import spglib

    cell = (np.asarray(matrix), np.asarray(frac), np.array(numbers, dtype=np.int64))
    try:
        return spglib.get_symmetry_dataset(cell, symprec=symprec)
    except Exception:  # spglib raises assorted errors on degenerate cells
        return None


@lru_cache(maxsize=4096)
def _composition_of_counts(counts: tuple[tuple[str, int], ...]) -> Composition:
    return Composition({symbol: float(n) for symbol, n in counts})


def composition_of(symbols: Sequence[str]) -> Composition:
    """The composition a Structure with these element symbols (N,) reports (float amounts, elements in order of
    first appearance), without building it; cached, so it must not be modified."""
    return _composition_of_counts(tuple(Counter(symbols).items()))


def _composition(cell: Structure | Composition) -> Composition:
    return cell if isinstance(cell, Composition) else cell.composition


def find_spacegroup(structure: Structure, symprec: float = DEFAULT_SYMPREC) -> int | None:
    """Space-group number found by spglib at ``symprec`` Å, or None when spglib fails."""
    ds = symmetry_dataset(structure, symprec)
    return None if ds is None else int(ds.number)


def check_spacegroup(
    structure: Structure, spacegroup: int, symprec: float = DEFAULT_SYMPREC, found: int | None = None
) -> FilterOutcome:
    """Pass when spglib at ``symprec`` Å finds space group ``spacegroup`` (``found``: precomputed)."""
    found = find_spacegroup(structure, symprec) if found is None else found
    if found is None:
        return FilterOutcome("spacegroup", False, REASON_SPACEGROUP, f"spglib failed at symprec={symprec}")
    if int(found) == int(spacegroup):
        return FilterOutcome("spacegroup", True, detail=f"{found} at symprec={symprec}")
    return FilterOutcome(
        "spacegroup", False, REASON_SPACEGROUP, f"found {found}, expected {spacegroup} (symprec={symprec})"
    )


def check_charge_neutral(structure: Structure | Composition) -> FilterOutcome:
    """Pass when SMACT finds a charge-neutral assignment of oxidation states (see module docstring)."""
    from smact.screening import smact_validity

    comp = _composition(structure)
    try:
        ok = smact_validity(comp, use_pauling_test=True, include_alloys=True, oxidation_states_set="smact14")
    except Exception as exc:  # SMACT lacks data for some elements
        return FilterOutcome("charge_neutral", False, REASON_CHARGE, f"SMACT failed: {exc}")
    if ok:
        return FilterOutcome("charge_neutral", True)
    detail = f"{comp.reduced_formula}: no neutral assignment"
    return FilterOutcome("charge_neutral", False, REASON_CHARGE, detail)


def check_formula_size(structure: Structure | Composition, max_atoms: int) -> FilterOutcome:
    """Pass when the reduced formula has at most ``max_atoms`` atoms (see module docstring)."""
    reduced = _composition(structure).reduced_composition
    size = float(reduced.num_atoms)
    values = {"formula_atoms": size}
    if size <= max_atoms:
        return FilterOutcome("formula_size", True, values=values)
    detail = f"{reduced.reduced_formula}: {size:g} atoms per formula unit > {max_atoms}"
    return FilterOutcome("formula_size", False, REASON_FORMULA, detail, values)


def check_cell_size(n_primitive_sites: int | None, max_sites: int) -> FilterOutcome:
    """Pass when the primitive cell has at most ``max_sites`` atoms (None: spglib found none → fail)."""
    values = {"primitive_sites": n_primitive_sites}
    if n_primitive_sites is None:
        return FilterOutcome("cell_size", False, REASON_CELL, "spglib found no primitive cell", values)
    if n_primitive_sites <= max_sites:
        return FilterOutcome("cell_size", True, values=values)
    detail = f"{n_primitive_sites} atoms in the primitive cell > {max_sites}"
    return FilterOutcome("cell_size", False, REASON_CELL, detail, values)


def check_condition_formula(structure: Structure | Composition, expected: str) -> FilterOutcome:
    """Pass when the reduced composition equals that of ``expected`` (a formula, any multiple of it)."""
    want = Composition(expected).reduced_composition
    got = _composition(structure).reduced_composition
    if got == want:
        return FilterOutcome("condition_formula", True)
    detail = f"{got.reduced_formula}, condition {want.reduced_formula}"
    return FilterOutcome("condition_formula", False, REASON_CONDITION_FORMULA, detail)

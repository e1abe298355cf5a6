"""Snapping base sites onto special positions: exact special positions, bounded moves, real crystals unchanged."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from xtalgen.data.radii import atomic_radius
from xtalgen.representations.basesites.expand import expand_positions, expand_to_structure
from xtalgen.representations.basesites.snap import orbit_size, snap_base_sites, snap_to_special_position
from xtalgen.representations.basesites.symops import spacegroup_ops


def _cubic(a: float) -> np.ndarray:
    return np.asarray(Lattice.cubic(a).matrix)


def test_site_off_a_pm3m_corner_snaps_exactly_onto_it() -> None:
    # 0.03 off 1b in a 4 Å cube: images 0.17-0.24 Å apart, well inside one O radius (0.6 Å)
    x, move = snap_to_special_position([0.53, 0.5, 0.5], spacegroup_ops(221), _cubic(4.0), atomic_radius("O"))
    assert np.allclose(x, [0.5, 0.5, 0.5], atol=1e-12)
    assert move == pytest.approx(0.12, abs=1e-9)


def test_site_near_a_mirror_plane_keeps_its_free_coordinates() -> None:
    # Pm-3m (0.31, 0.17, 0.02): only the mirror z -> -z maps it close (0.16 Å); it lands on 24k (x, y, 0)
    x, move = snap_to_special_position([0.31, 0.17, 0.02], spacegroup_ops(221), _cubic(4.0), 0.6)
    assert np.allclose(x, [0.31, 0.17, 0.0], atol=1e-12)
    assert move == pytest.approx(0.08, abs=1e-9)
    pos, _ = expand_positions(x[None], spacegroup_ops(221), _cubic(4.0))
    assert len(pos) == 24  # the orbit of Wyckoff 24k, not 48 images in pairs 0.16 Å apart


def test_perturbed_fd3m_site_snaps_to_8a_and_hexagonal_site_to_2c() -> None:
    ops = spacegroup_ops(227)
    start = np.array([0.012, -0.005, 0.008]) % 1.0  # 0.12 Å off 8a (0, 0, 0) (origin choice 1), 8 Å cell
    x, _ = snap_to_special_position(start, ops, _cubic(8.0), atomic_radius("Si"))
    pos, _ = expand_positions(x[None], ops, _cubic(8.0))
    assert len(pos) == 8  # (before: 192 images in a cloud)
    assert len(expand_positions(start[None], ops, _cubic(8.0))[0]) == 192
    hexagonal = np.asarray(Lattice.hexagonal(3.0, 5.0).matrix)
    x, _ = snap_to_special_position([0.34, 0.66, 0.26], spacegroup_ops(194), hexagonal, atomic_radius("Mg"))
    assert np.allclose(x, [1 / 3, 2 / 3, 0.25], atol=1e-12)


def test_sites_far_from_special_positions_and_translation_clashes_are_left_alone() -> None:
    general = np.array([0.13, 0.27, 0.41])
    x, move = snap_to_special_position(general, spacegroup_ops(221), _cubic(6.0), 0.6)
    assert move == 0.0 and np.array_equal(x, general)
    # Fm-3m, Cs (r = 2.6 Å) in a 3 Å cell: the centring images are 2.1 Å away and no point is fixed by a
    # translation, so there is no special position to snap to (the distance filter rejects it later)
    start = np.array([0.11, 0.23, 0.37])
    x, move = snap_to_special_position(start, spacegroup_ops(225), _cubic(3.0), atomic_radius("Cs"))
    assert move == 0.0 and np.array_equal(x, start)


def test_real_crystals_are_unchanged_and_keep_their_space_group() -> None:
    cases = [  # (space group, lattice, species, base sites): SrTiO3 perovskite, spinel MgAl2O4 (origin
        # choice 1, the standard setting here), wurtzite ZnO
        (221, Lattice.cubic(3.905), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]),
        (227, Lattice.cubic(8.08), ["Mg", "Al", "O"], [[0.25] * 3, [0.625] * 3, [0.3874] * 3]),
        (186, Lattice.hexagonal(3.25, 5.21), ["Zn", "O"], [[1 / 3, 2 / 3, 0.0], [1 / 3, 2 / 3, 0.382]]),
    ]
    for sg, lattice, species, sites in cases:
        coords, moves = snap_base_sites(species, np.array(sites, float), spacegroup_ops(sg), lattice.matrix)
        assert np.all(moves < 1e-9), (sg, moves)
        structure = expand_to_structure(species, coords, sg, lattice.parameters)
        assert len(structure) == {221: 5, 227: 56, 186: 4}[sg]
        assert SpacegroupAnalyzer(structure, symprec=0.01).get_space_group_number() == sg


def test_snapped_candidate_has_exact_symmetry_and_moves_bounded_by_the_threshold() -> None:
    rng = np.random.default_rng(3)
    ops = spacegroup_ops(225)
    lattice = Lattice.cubic(5.6)
    for _ in range(20):
        start = rng.uniform(0, 1, (3, 3))
        coords, moves = snap_base_sites(["Na", "Cl", "K"], start, ops, lattice.matrix)
        radii = np.array([atomic_radius(e) for e in ("Na", "Cl", "K")])
        assert np.all(moves < radii)
        for k in np.flatnonzero(moves > 0):  # a snapped site: every image is the site itself or ≥ r away
            images = ops[:, :3, :3] @ coords[k] + ops[:, :3, 3] - coords[k]
            images -= np.round(images)
            dist = np.linalg.norm(images @ lattice.matrix, axis=1)
            assert np.all((dist < 1e-3) | (dist >= radii[k]))
    mask = np.array([True, False])
    out, moves = snap_base_sites(["O", ""], [[0.53, 0.5, 0.5], [0.51, 0.5, 0.5]], spacegroup_ops(221),
                                 _cubic(4.0), site_mask=mask)  # fmt: skip
    assert np.allclose(out[0], 0.5) and np.allclose(out[1], [0.51, 0.5, 0.5]) and moves[1] == 0.0
    with pytest.raises(ValueError, match="2 species for 1 base sites"):
        snap_base_sites(["O", "Na"], [[0.1, 0.2, 0.3]], spacegroup_ops(221), _cubic(4.0))


def test_snapping_a_structure_built_from_images_gives_one_atom_per_orbit() -> None:
    # pymatgen's own symmetrisation of the snapped expansion finds Pm-3m with one atom per orbit
    coords, _ = snap_base_sites(["Ba", "Ti", "O"], [[0.02, 0.99, 0.01], [0.51, 0.48, 0.5], [0.5, 0.52, 0.03]],
                                spacegroup_ops(221), _cubic(4.0))  # fmt: skip
    structure = expand_to_structure(["Ba", "Ti", "O"], coords, 221, [4.0, 4.0, 4.0, 90, 90, 90])
    assert isinstance(structure, Structure)
    assert structure.composition.reduced_formula == "BaTiO3" and len(structure) == 5
    assert SpacegroupAnalyzer(structure, symprec=1e-3).get_space_group_number() == 221


# --- The simple reference implementation of template snapping (all-pairs orbit count, no caches, every threshold
# tried); the fast code in src must give bit-identical positions and moves.


def _ref_offsets(frac: np.ndarray, ops: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    diff = ops[:, :3, :3] @ frac + ops[:, :3, 3] - frac
    diff -= np.round(diff)
    return diff, np.linalg.norm(diff @ matrix, axis=1)


def _ref_special(frac: np.ndarray, ops: np.ndarray, matrix: np.ndarray, threshold: float) -> tuple[np.ndarray, float]:
    x0 = np.asarray(frac, dtype=np.float64).reshape(3)
    x0 = x0 - np.floor(x0)
    x = x0.copy()
    for _ in range(50):
        diff, dist = _ref_offsets(x, ops, matrix)
        step = diff[dist < threshold].mean(axis=0)
        if np.linalg.norm(step @ matrix) < 1e-10:
            break
        x = x + step
    diff, dist = _ref_offsets(x, ops, matrix)
    moved = x - x0
    moved -= np.round(moved)
    move = float(np.linalg.norm(moved @ matrix))
    if np.any(dist[dist < threshold] > 1e-3) or move >= threshold:
        return x0, 0.0
    return x - np.floor(x), move


def _ref_orbit(frac: np.ndarray, ops: np.ndarray, matrix: np.ndarray, tol: float = 0.01) -> int:
    images = frac + _ref_offsets(frac, ops, matrix)[0]
    d = images[:, None, :] - images[None, :, :]
    d -= np.round(d)
    close = np.linalg.norm(d @ matrix, axis=-1) < tol
    return int((close.argmax(axis=1) == np.arange(len(images))).sum())


def _ref_grown(x: np.ndarray, ops: np.ndarray, matrix: np.ndarray, mult: int, start: float) -> np.ndarray | None:
    stop = 0.5 * float(np.linalg.norm(matrix, axis=1).min())
    for threshold in np.geomspace(max(start, 1e-3), max(stop, start * 1.01), 12):
        y, move = _ref_special(x, ops, matrix, float(threshold))
        if move > 0 and _ref_orbit(y, ops, matrix) == mult:
            return y
    return None


def _ref_distance(a: np.ndarray, b: np.ndarray, matrix: np.ndarray) -> float:
    d = a - b
    d -= np.round(d)
    return float(np.linalg.norm(d @ matrix))


def _ref_multiplicity(frac, ops, matrix, mult, start, occupied):  # noqa: ANN001, ANN202
    x0 = np.asarray(frac, dtype=np.float64).reshape(3)
    x0 = x0 - np.floor(x0)
    if _ref_orbit(x0, ops, matrix) == mult:
        return x0, 0.0
    y = _ref_grown(x0, ops, matrix, mult, start)
    if y is not None and len(occupied) and _ref_distance_min(y, occupied, matrix) < 0.5:
        offsets = np.array(list(itertools.product((0.0, 0.25, -0.25, 0.5), repeat=3)))[1:]
        found = [z for z in (_ref_grown(x0 + o, ops, matrix, mult, start) for o in offsets)
                 if z is not None and _ref_distance_min(z, occupied, matrix) >= 0.5]  # fmt: skip
        y = min(found, key=lambda z: _ref_distance(z, x0, matrix)) if found else y
    if y is None:
        return x0, 0.0
    return y - np.floor(y), _ref_distance(y, x0, matrix)


def _ref_distance_min(frac: np.ndarray, occupied: np.ndarray, matrix: np.ndarray) -> float:
    d = occupied - frac
    d -= np.round(d)
    return float(np.linalg.norm(d @ matrix, axis=1).min())


def _ref_template(species, coords, ops, matrix, mult):  # noqa: ANN001, ANN202
    start = [atomic_radius(e) for e in species]
    first = [_ref_multiplicity(coords[k], ops, matrix, int(mult[k]), start[k], np.zeros((0, 3)))[1]
             for k in range(len(coords))]  # fmt: skip
    out, moves, occupied = coords.copy(), np.zeros(len(coords)), np.zeros((0, 3))
    for k in sorted(range(len(coords)), key=lambda k: first[k]):
        out[k], moves[k] = _ref_multiplicity(coords[k], ops, matrix, int(mult[k]), start[k], occupied)
        images = ops[:, :3, :3] @ out[k] + ops[:, :3, 3]
        occupied = np.concatenate([occupied, images - np.floor(images)])
    return out, moves


def _random_lattice(sg: int, rng: np.random.Generator, compatible: bool) -> np.ndarray:
    """A lattice (3, 3) Å of the group's crystal system (or, with ``compatible`` False, a triclinic one)."""
    a, b, c = rng.uniform(3, 9, 3)
    alpha, beta, gamma = rng.uniform(70, 110, 3)
    if compatible and sg >= 3:  # monoclinic (b unique), orthorhombic, tetragonal, hexagonal axes, cubic
        alpha, gamma = 90.0, (120.0 if 143 <= sg <= 194 else 90.0)
        beta = beta if sg < 16 else 90.0
        b = a if sg >= 75 else b
        c = a if sg >= 195 else c
    return np.asarray(Lattice.from_parameters(a, b, c, alpha, beta, gamma).matrix)


def test_template_snapping_matches_the_reference_bit_for_bit_on_random_groups_and_sites() -> None:
    rng = np.random.default_rng(11)
    snapped = 0
    for _ in range(120):
        sg = int(rng.integers(1, 231))
        ops = spacegroup_ops(sg)
        matrix = _random_lattice(sg, rng, compatible=rng.random() < 0.85)
        k = int(rng.integers(1, 5))
        coords = rng.random((k, 3))
        for i in range(k):  # most sites near a special position, as generated sites are
            if rng.random() < 0.6:
                coords[i] = _ref_special(coords[i], ops, matrix, 2.5)[0] + rng.normal(0, 0.01, 3)
        mult = np.array([_ref_orbit(_ref_special(c, ops, matrix, float(rng.uniform(0.5, 3)))[0], ops, matrix)
                         for c in coords])  # fmt: skip
        species = [str(e) for e in rng.choice(["O", "Ti", "Sr", "Li", "Co"], k)]
        for c in coords:
            assert orbit_size(c, ops, matrix) == _ref_orbit(c, ops, matrix)
        want = _ref_template(species, coords, ops, matrix, mult)
        got = snap_base_sites(species, coords, ops, matrix, multiplicity=mult)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1]), (sg, coords, mult)
        snapped += int((want[1] > 0).sum())
    assert snapped > 100  # the comparison covers real snaps, not only sites left alone


@pytest.mark.parametrize("gap", [0.0, 0.001, 0.004, 0.0099, 0.0101, 0.015, 0.03])
def test_orbit_size_near_its_tolerance_falls_back_to_the_pair_count(gap: float) -> None:
    # Pm: the mirror image of (x, y, z) is (x, -y, z), 2 y b Å away; gaps between tol/4 and 2 tol are counted pairwise
    matrix = np.asarray(Lattice.from_parameters(4.0, 5.0, 6.0, 90, 97, 90).matrix)
    frac = np.array([0.3, gap / (2 * 5.0), 0.7])
    assert orbit_size(frac, spacegroup_ops(6), matrix) == _ref_orbit(frac, spacegroup_ops(6), matrix)
    assert orbit_size(frac, spacegroup_ops(6), matrix) == (1 if gap < 0.01 else 2)

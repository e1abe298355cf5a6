"""pymatgen's CrystalNN neighbour weights (``CrystalNN.get_nn_data``) without its per-site object overhead.

CrystalNN (Zimmermann & Jain, RSC Adv. 2020) finds a site's neighbours from the Voronoi cell of the
site, tessellated from every atom within ``search_cutoff`` (7 Å) of it. pymatgen builds a
``PeriodicNeighbor`` object for each of those ~100-300 atoms, loops in Python over every ridge of
the whole tessellation to find the site's own facets, computes each facet's solid angle and volume
with small numpy calls per triangle, and (in ``VoronoiNN``) also works out which facets are adjacent,
which CrystalNN never uses. That bookkeeping is ~3/4 of the cost of a site.

:class:`CrystalNNSites` does the same computation per structure with arrays:

* the qhull input is built exactly as pymatgen builds it (``Lattice.get_points_in_sphere``, stable
  sort by distance, the same per-point ``frac @ matrix`` product), so ``scipy.spatial.Voronoi`` sees
  bit-identical points in the same order and returns the same tessellation;
* the site's facets are taken from ``ridge_points`` in pymatgen's order, and solid angles and volumes
  are evaluated for all facet triangles at once with pymatgen's formulas, fan triangulation and
  summation order, with dot products that round like its per-vector ``np.dot``
  (:mod:`xtalgen.evaluation.rounding`): the weights come out bit-identical, so neighbours whose
  weights tie are ordered as pymatgen orders them (some order parameters, e.g. bcc, depend on it);
* the weight chain (porous adjustment, electronegativity, distance cutoffs, rounding to 3 decimals,
  semicircle CN probabilities) repeats pymatgen's operations in pymatgen's order; the growing search
  radius on a failed tessellation is reproduced too.

Only the default, composition-agnostic setting is handled here (``cation_anion=False``, ordered
structures); anything else goes to pymatgen itself (:func:`nn_data`). Equality with
``CrystalNN.get_nn_data`` is tested in ``tests/evaluation/test_crystal_nn.py`` on real MP structures.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymatgen.core import Structure
from scipy.spatial import Voronoi

from xtalgen.evaluation.rounding import rowdot, rows_times_matrix


@dataclass(frozen=True)
class NNData:
    """CrystalNN's result for one site: CN -> probability, and CN -> the neighbours' cartesian
    coordinates (Å, shape (cn, 3), in pymatgen's order) and site indices in the structure."""

    cn_weights: dict[int, float]
    cn_coords: dict[int, np.ndarray]
    cn_indices: dict[int, np.ndarray]


def supported(cnn: Any, structure: Structure) -> bool:
    """True when :class:`CrystalNNSites` reproduces ``cnn.get_nn_data`` for ``structure``."""
    return (
        not cnn.cation_anion
        and cnn.fingerprint_length is None
        and structure.is_ordered
        and all(structure.lattice.pbc)
        and len(structure) > 0
    )


class _Pathological(RuntimeError):
    """pymatgen's error for an unbounded Voronoi cell (its message contains "vertex")."""


class CrystalNNSites:
    """CrystalNN neighbour data for the sites of one ordered, periodic structure (see the module doc).

    Per-structure quantities (coordinates, electronegativities, radii, the maximum search radius) are
    computed once and shared by every :meth:`nn_data` call."""

    def __init__(self, structure: Structure, cnn: Any) -> None:
        from pymatgen.core.local_env import _get_default_radius, _get_radius

        self.structure = structure
        self.cnn = cnn
        self.lattice = structure.lattice
        self.matrix = structure.lattice.matrix
        self.frac = structure.frac_coords
        self.cart = [site.coords for site in structure]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            by_species: dict[Any, tuple[float, float, float]] = {}
            for site in structure:
                sp = site.specie
                if sp not in by_species:
                    by_species[sp] = (float(sp.X), _get_radius(site), _get_default_radius(site))
            values = [by_species[site.specie] for site in structure]
        self.x = [v[0] for v in values]
        self.radius = [v[1] for v in values]
        self.default_radius = [v[2] for v in values]
        corners = [[1, 1, 1], [-1, 1, 1], [1, -1, 1], [1, 1, -1]]
        self.max_cutoff = max(np.linalg.norm(self.lattice.get_cartesian_coords(c)) for c in corners) + 0.01

    # --- VoronoiNN.get_voronoi_polyhedra + _extract_nn_info ----------------------------------------
    def _points(self, n: int, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
        """Cartesian coordinates (Å) and site indices of every atom within ``cutoff`` of site ``n``,
        nearest first: pymatgen's ``Structure.get_sites_in_sphere`` sorted by distance."""
        found = self.lattice.get_points_in_sphere(self.frac, self.cart[n], cutoff, zip_results=False)
        fcoords, dists, indices, _ = found
        if len(dists) == 0:
            return np.zeros((0, 3)), np.zeros(0, dtype=int)
        order = np.argsort(dists, kind="stable")
        coords = rows_times_matrix(fcoords[order], self.matrix)  # PeriodicNeighbor.coords, point by point
        return coords, np.asarray(indices)[order]

    def _cell(self, n: int, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(neighbour coordinates, neighbour site indices, solid angles, facet areas) of the Voronoi
        facets of site ``n``, in pymatgen's facet order."""
        coords, indices = self._points(n, cutoff)
        voro = Voronoi(coords)  # qhull errors are RuntimeErrors: the caller grows the radius as pymatgen does
        ridge_points = voro.ridge_points
        rows = np.nonzero((ridge_points[:, 0] == 0) | (ridge_points[:, 1] == 0))[0]
        ridge_vertices = voro.ridge_vertices
        facets = [ridge_vertices[r] for r in rows.tolist()]
        for vind in facets:
            if -1 in vind:
                raise _Pathological("This structure is pathological, infinite vertex in the Voronoi construction")
        if not facets:
            raise ValueError("No Voronoi neighbors found for site - try increasing cutoff")
        other = np.where(ridge_points[rows, 0] == 0, ridge_points[rows, 1], ridge_points[rows, 0])
        centre = coords[0]
        vertices = voro.vertices
        # fan triangles (v0, v_i, v_i+1), i = 1 .. k-2, of every facet, in order
        tri_facet, a, b, c = [], [], [], []
        for f, vind in enumerate(facets):
            for i in range(1, len(vind) - 1):
                tri_facet.append(f)
                a.append(vind[0])
                b.append(vind[i])
                c.append(vind[i + 1])
        d0 = vertices[a] - centre
        di = vertices[b] - centre
        dj = vertices[c] - centre
        r0, ri, rj = np.sqrt(rowdot(d0, d0)), np.sqrt(rowdot(di, di)), np.sqrt(rowdot(dj, dj))
        tp = np.abs(rowdot(d0, np.cross(di, dj)))
        de = r0 * ri * rj + rj * rowdot(d0, di) + ri * rowdot(d0, dj) + r0 * rowdot(di, dj)
        with np.errstate(divide="ignore", invalid="ignore"):
            angle = np.where(de == 0, np.where(tp > 0, 0.5 * math.pi, -0.5 * math.pi), np.arctan(tp / de))
        angle = np.where(angle > 0, angle, angle + math.pi) * 2
        # tetrahedra (centre, v0, v_i, v_i+1): vol_tetra(vt1, vt2, vt3, vt4) = |(1-4) . ((2-4) x (3-4))| / 6
        v4 = vertices[c]
        vol = np.abs(rowdot(centre - v4, np.cross(vertices[a] - v4, vertices[b] - v4))) / 6
        tri_facet_arr = np.asarray(tri_facet, dtype=int)
        solid = np.bincount(tri_facet_arr, weights=angle, minlength=len(facets))
        volume = np.bincount(tri_facet_arr, weights=vol, minlength=len(facets))
        sep = centre - coords[other]
        face_dist = np.sqrt(rowdot(sep, sep)) / 2
        area = 3 * volume / face_dist
        return coords[other], indices[other], solid, area

    def _voronoi(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_cell` with pymatgen's retry: on a failed tessellation the search radius doubles,
        up to the cell's longest diagonal."""
        cutoff = float(self.cnn.search_cutoff)
        while True:
            try:
                return self._cell(n, cutoff)
            except RuntimeError as exc:
                if cutoff >= self.max_cutoff:
                    if exc.args and "vertex" in str(exc.args[0]):
                        raise RuntimeError(str(exc.args[0])) from None
                    raise RuntimeError("Error in Voronoi neighbor finding; max cutoff exceeded") from None
                cutoff = min(cutoff * 2, self.max_cutoff + 0.001)

    # --- CrystalNN.get_nn_data ---------------------------------------------------------------------
    def nn_data(self, n: int) -> NNData:
        """``CrystalNN.get_nn_data(structure, n)`` for site ``n`` (see :class:`NNData`)."""
        from pymatgen.core.local_env import CrystalNN

        cnn = self.cnn
        coords, indices, solid, area = self._voronoi(n)
        keep = solid > 0.0  # VoronoiNN: weight > tol * max_weight with tol = 0
        coords, indices, solid, area = coords[keep], indices[keep], solid[keep], area[keep]
        weight = solid / solid.max()
        if cnn.porous_adjustment:
            weight = weight * (solid / area)
        if cnn.x_diff_weight > 0:
            x1 = self.x[n]
            chem = []
            for j in indices.tolist():
                x2 = self.x[j]
                if math.isnan(x1) or math.isnan(x2):
                    chem.append(1)
                else:
                    chem.append(1 + cnn.x_diff_weight * math.sqrt(abs(x1 - x2) / 3.3))
            weight = weight * np.asarray(chem, dtype=float)
        order = _sorted_desc(weight)
        coords, indices, weight = coords[order], indices[order], weight[order]
        if weight[0] == 0:
            return _empty()
        weight = weight / weight[0]
        if cnn.distance_cutoffs:
            r1 = self.radius[n]
            centre = self.cart[n]
            low_off, high_off = cnn.distance_cutoffs
            dist_weight = []
            for k, j in enumerate(indices.tolist()):
                r2 = self.radius[j]
                diameter = r1 + r2 if r1 > 0 and r2 > 0 else self.default_radius[n] + self.default_radius[j]
                dist = np.linalg.norm(centre - coords[k])
                cutoff_low = diameter + low_off
                cutoff_high = diameter + high_off
                if dist <= cutoff_low:
                    dist_weight.append(1.0)
                elif dist < cutoff_high:
                    dist_weight.append((math.cos((dist - cutoff_low) / (cutoff_high - cutoff_low) * math.pi) + 1) * 0.5)
                else:
                    dist_weight.append(0.0)
            weight = weight * np.asarray(dist_weight, dtype=float)
        order = _sorted_desc(weight)
        coords, indices, weight = coords[order], indices[order], weight[order]
        if weight[0] == 0:
            return _empty()
        weight = np.round(weight, 3)
        keep = weight > 0
        coords, indices, weight = coords[keep], indices[keep], weight[keep]
        dist_bins: list[float] = []
        for w in weight.tolist():
            if not dist_bins or dist_bins[-1] != w:
                dist_bins.append(w)
        dist_bins.append(0)
        cn_weights: dict[int, float] = {}
        cn_coords: dict[int, np.ndarray] = {}
        cn_indices: dict[int, np.ndarray] = {}
        for idx, val in enumerate(dist_bins):
            if val != 0:
                sel = weight >= val
                cn = int(sel.sum())
                cn_coords[cn] = coords[sel]
                cn_indices[cn] = indices[sel]
                cn_weights[cn] = CrystalNN._semicircle_integral(dist_bins, idx)
        cn0_weight = 1 - sum(cn_weights.values())
        if cn0_weight > 0:
            cn_coords[0] = np.zeros((0, 3))
            cn_indices[0] = np.zeros(0, dtype=int)
            cn_weights[0] = cn0_weight
        return NNData(cn_weights, cn_coords, cn_indices)


def _sorted_desc(weight: np.ndarray) -> np.ndarray:
    """Indices that sort ``weight`` like Python's stable ``sorted(..., reverse=True)``."""
    values = weight.tolist()
    return np.asarray(sorted(range(len(values)), key=values.__getitem__, reverse=True), dtype=int)


def _empty() -> NNData:
    return NNData({0: 1.0}, {0: np.zeros((0, 3))}, {0: np.zeros(0, dtype=int)})


def nn_data(structure: Structure, n: int, cnn: Any) -> NNData:
    """``cnn.get_nn_data(structure, n)`` as :class:`NNData`: the array path when :func:`supported`,
    else pymatgen's own method."""
    if supported(cnn, structure):
        return CrystalNNSites(structure, cnn).nn_data(n)
    data = cnn.get_nn_data(structure, n)
    return NNData(
        dict(data.cn_weights),
        {cn: np.array([d["site"].coords for d in info]).reshape(-1, 3) for cn, info in data.cn_nninfo.items()},
        {cn: np.array([d.get("site_index", -1) for d in info], dtype=int) for cn, info in data.cn_nninfo.items()},
    )

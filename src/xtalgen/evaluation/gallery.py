"""Render crystal structures as small 3-D images (atoms in the unit cell) with matplotlib."""

from __future__ import annotations

import itertools
from functools import lru_cache
from pathlib import Path

import numpy as np
from pymatgen.core import Structure


@lru_cache(maxsize=1)
def _jmol_colours() -> dict[str, tuple[float, float, float]]:
    """Jmol element colours from pymatgen's colour table (grey when unavailable)."""
    import pymatgen.vis
    import yaml

    try:
        table = yaml.safe_load((Path(pymatgen.vis.__file__).parent / "ElementColorSchemes.yaml").read_text())
        return {el: tuple(c / 255 for c in rgb) for el, rgb in table["Jmol"].items()}
    except (OSError, KeyError, yaml.YAMLError):
        return {}


def render_structure(structure: Structure, path: str | Path, title: str = "") -> Path:
    """Draw the cell edges and atoms (size ~ atomic radius, Jmol colours); save a PNG and return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(3.2, 3.4))
    ax = fig.add_subplot(projection="3d")
    m = structure.lattice.matrix
    for a, b in itertools.combinations(itertools.product((0, 1), repeat=3), 2):
        if sum(x != y for x, y in zip(a, b, strict=True)) == 1:
            p, q = np.array(a) @ m, np.array(b) @ m
            ax.plot(*zip(p, q, strict=True), color="0.4", lw=0.8)
    colours = _jmol_colours()
    coords = np.mod(structure.frac_coords, 1.0) @ m
    shown: dict[str, tuple[float, float, float]] = {}
    for site, xyz in zip(structure, coords, strict=True):
        el = site.specie.symbol
        radius = float(site.specie.atomic_radius or 1.0)
        colour = colours.get(el, (0.6, 0.6, 0.6))
        ax.scatter(*xyz, s=120 * radius**2, color=colour, edgecolors="k", linewidths=0.3, depthshade=True)
        shown[el] = colour
    ax.set_axis_off()
    extent = np.ptp(np.vstack([coords, m, np.zeros((1, 3))]), axis=0).max()
    center = (m.sum(axis=0)) / 2
    for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), center, strict=True):
        setter(c - extent / 2, c + extent / 2)
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=el) for el, c in shown.items()]
    ax.legend(handles=handles, loc="lower left", fontsize=7, frameon=False, ncol=min(4, len(handles)))
    ax.set_title(title or structure.composition.reduced_formula, fontsize=9)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out

"""Read a structure from JSON without instantiating any class the file names.

``Structure.from_dict`` decodes site properties with monty's ``MontyDecoder``, which imports any
installed module named in an ``"@module"`` key and calls the named class: a structure file could run
code on import. Here only the data of a pymatgen ``Structure`` dict is read (lattice matrix, species
and fractional or Cartesian coordinates of each site); properties, labels and every other key are
ignored, and a top-level ``@module``/``@class`` naming anything but a pymatgen Structure is refused.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from pymatgen.core import Composition, Element, Lattice, Structure

from xtalgen.data.records import EntryRejected

_STRUCTURE_CLASSES = {("pymatgen.core.structure", "Structure"), ("pymatgen.core.structure", "IStructure")}


def structures_from_json(text: str) -> list[Structure]:
    """Structures in a JSON text: one pymatgen Structure dict, or a list of them."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise EntryRejected("unparseable", f"not JSON: {exc}") from None
    items = data if isinstance(data, list) else [data]
    return [structure_from_dict(item, k if isinstance(data, list) else None) for k, item in enumerate(items)]


def structure_from_dict(data: Any, index: int | None = None) -> Structure:
    """Build a Structure from the plain data of a pymatgen ``Structure.as_dict()`` (nothing is decoded)."""
    where = "" if index is None else f"item {index}: "
    if not isinstance(data, dict):
        raise EntryRejected("not a structure", f"{where}expected a JSON object, got {type(data).__name__}")
    named = (data.get("@module"), data.get("@class"))
    if (named[0] is not None or named[1] is not None) and named not in _STRUCTURE_CLASSES:
        what = f"{where}@module/@class {named[0]}/{named[1]} is not a pymatgen Structure"
        raise EntryRejected("not a structure", what)
    lattice, sites = data.get("lattice"), data.get("sites")
    if not isinstance(lattice, dict) or not isinstance(sites, list):
        raise EntryRejected("not a structure", f"{where}a structure needs a 'lattice' object and a 'sites' list")
    try:
        matrix = np.asarray(lattice["matrix"], dtype=float).reshape(3, 3)
        species = [_composition(site) for site in sites]
        if all(isinstance(site, dict) and "abc" in site for site in sites):
            coords = np.asarray([site["abc"] for site in sites], dtype=float).reshape(len(sites), 3)
            cartesian = False
        else:
            coords = np.asarray([site["xyz"] for site in sites], dtype=float).reshape(len(sites), 3)
            cartesian = True
    except EntryRejected:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        what = f"{where}malformed structure data: {type(exc).__name__}: {exc}"
        raise EntryRejected("not a structure", what) from None
    if not np.isfinite(matrix).all() or not np.isfinite(coords).all():
        raise EntryRejected("non-finite numbers", f"{where}lattice or coordinates hold NaN or infinity")
    return Structure(Lattice(matrix), species, coords, coords_are_cartesian=cartesian)


def _composition(site: Any) -> Composition:
    if not isinstance(site, dict) or not isinstance(site.get("species"), list) or not site["species"]:
        raise EntryRejected("not a structure", "a site needs a non-empty 'species' list")
    amounts: dict[Element, float] = {}
    for sp in site["species"]:
        symbol = sp.get("element") if isinstance(sp, dict) else None
        if not isinstance(symbol, str) or not Element.is_valid_symbol(symbol):
            raise EntryRejected("unsupported element", f"{symbol!r} is not a chemical element")
        occu = float(sp.get("occu", 1.0))
        el = Element(symbol)
        amounts[el] = amounts.get(el, 0.0) + occu
    return Composition(amounts)

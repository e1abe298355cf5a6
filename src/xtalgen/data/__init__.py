"""Reading structures, preparing cached datasets, element features. Imports nothing else of xtalgen.

Names are imported lazily (PEP 562) so that ``import xtalgen.data.atomic`` and similar light modules do
not pay for pymatgen/spglib at start-up (it matters in every process of a DDP run).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_SYMPREC": "xtalgen.data.symmetry",
    "ELEMENT_FEATURE_NAMES": "xtalgen.data.elements",
    "PreparedDataset": "xtalgen.data.dataset",
    "ReadReport": "xtalgen.data.records",
    "Rejection": "xtalgen.data.records",
    "StructureReadError": "xtalgen.data.records",
    "StructureRecord": "xtalgen.data.records",
    "SymmetryInfo": "xtalgen.data.symmetry",
    "analyse_symmetry": "xtalgen.data.symmetry",
    "element_features": "xtalgen.data.elements",
    "load_dataset": "xtalgen.data.dataset",
    "read_structures": "xtalgen.data.readers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'xtalgen.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__

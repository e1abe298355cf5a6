"""Reading structures, preparing cached datasets, element features. Imports nothing else of xtalgen."""

from xtalgen.data.dataset import PreparedDataset, load_dataset
from xtalgen.data.elements import ELEMENT_FEATURE_NAMES, element_features
from xtalgen.data.readers import read_structures
from xtalgen.data.records import ReadReport, Rejection, StructureReadError, StructureRecord
from xtalgen.data.symmetry import DEFAULT_SYMPREC, SymmetryInfo, analyse_symmetry

__all__ = [
    "DEFAULT_SYMPREC",
    "ELEMENT_FEATURE_NAMES",
    "PreparedDataset",
    "ReadReport",
    "Rejection",
    "StructureReadError",
    "StructureRecord",
    "SymmetryInfo",
    "analyse_symmetry",
    "element_features",
    "load_dataset",
    "read_structures",
]

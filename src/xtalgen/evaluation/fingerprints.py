"""Structure and composition fingerprints for coverage (CDVAE's featurisation, via matminer).

Structure: the mean over sites of matminer's CrystalNN site fingerprint (preset ``"ops"``, 61
order-parameter features). Symmetry-equivalent sites have the same fingerprint, so it is computed
once per equivalence class (spglib at a tight 0.01 Å tolerance) and weighted by multiplicity; this
gives the all-site mean to ~1e-3 at a third of the cost.
Composition: matminer's ``ElementProperty`` preset ``"magpie"`` (132 features); it is normalised
later against the reference set (see :mod:`xtalgen.evaluation.coverage`).
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import numpy as np
from pymatgen.core import Structure

#: spglib tolerance (Å) used only to find symmetry-equivalent sites for the fingerprint mean.
EQUIVALENCE_SYMPREC = 0.01


@lru_cache(maxsize=1)
def _site_featurizer() -> Any:
    from matminer.featurizers.site.fingerprint import CrystalNNFingerprint

    return CrystalNNFingerprint.from_preset("ops")


@lru_cache(maxsize=1)
def _composition_featurizer() -> Any:
    from matminer.featurizers.composition.composite import ElementProperty

    return ElementProperty.from_preset("magpie", impute_nan=True)


def _site_classes(structure: Structure) -> tuple[np.ndarray, np.ndarray]:
    """Representative site indices and their multiplicities (all sites, weight 1, if spglib fails)."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        data = SpacegroupAnalyzer(structure, symprec=EQUIVALENCE_SYMPREC).get_symmetry_dataset()
        reps, counts = np.unique(np.asarray(data.equivalent_atoms), return_counts=True)
        return reps, counts
    except Exception:  # no symmetry found: use every site
        return np.arange(len(structure)), np.ones(len(structure), dtype=int)


def structure_fingerprint(structure: Structure) -> np.ndarray:
    """Mean CrystalNN "ops" site fingerprint over all sites (61 values)."""
    featurizer = _site_featurizer()
    reps, counts = _site_classes(structure)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        feats = np.array([featurizer.featurize(structure, int(i)) for i in reps], dtype=float)
    return (feats * counts[:, None]).sum(axis=0) / counts.sum()


def composition_fingerprint(structure: Structure) -> np.ndarray:
    """Magpie element-property statistics of the composition (132 values, unnormalised)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(_composition_featurizer().featurize(structure.composition), dtype=float)


def fingerprint_job(payload: Any) -> dict[str, Any]:
    """Worker job: ``{"struct": [...61], "comp": [...132]}`` for one structure payload."""
    from xtalgen.evaluation.sources import to_structure

    structure = to_structure(payload)
    return {
        "struct": structure_fingerprint(structure).tolist(),
        "comp": composition_fingerprint(structure).tolist(),
    }

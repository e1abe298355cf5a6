"""The PyXtal baseline in the family registry: kind ``pyxtal-random``, no checkpoint, draws from training data."""

from __future__ import annotations

from xtalgen.pipelines.families import Family, register
from xtalgen.pipelines.pyxtal.sample import PyXtalOptions, check_pyxtal, sample_pyxtal

FAMILY = register(Family(
    kind="pyxtal-random",
    summary="baseline: random symmetric crystals (PyXtal) with compositions and space groups of training data",
    options=PyXtalOptions,
    sample=sample_pyxtal,
    needs_checkpoint=False,
    check=check_pyxtal,
))  # fmt: skip

"""Static CHGNet energies (eV/atom) of many structures, predicted in batches.

The energy is CHGNet's own prediction, exactly as :func:`xtalgen.postprocess.relax.static_energy`
returns it for one structure (the number E_hull uses for generated samples): no correction is added
by xtalgen. CHGNet 0.3.0 was trained on MPtrj energies that already include the Materials Project
2020 compatibility corrections, so its raw output is on that (MP2020-corrected) scale; applying the
corrections again would count them twice. Graphs are batched (cheaper per structure; cost in
docs/benchmarks.md); batched and single predictions agree to float32 rounding (< 1e-6 eV/atom).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

from pymatgen.core import Structure

from xtalgen.postprocess.relax import DEFAULT_MODEL, chgnet_model

#: One result per structure: (energy in eV/atom or None, error message or None).
EnergyResult = tuple[float | None, str | None]


def _predict(structures: Sequence[Structure], batch_size: int, model_name: str) -> list[float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = chgnet_model(model_name).predict_structure(list(structures), task="e", batch_size=batch_size)
    if isinstance(out, dict):  # CHGNet returns a bare dict for a one-element list
        out = [out]
    return [float(o["e"]) for o in out]


def batch_static_energies(
    structures: Sequence[Structure],
    *,
    batch_size: int = 32,
    model_name: str = DEFAULT_MODEL,
    on_batch: Callable[[int], None] | None = None,
) -> list[EnergyResult]:
    """CHGNet energy (eV/atom) of each structure as given, ``batch_size`` graphs per forward pass.

    A batch that fails is redone one structure at a time, so one bad structure costs only its own
    entry: its result is ``(None, "<error>")``. Non-finite energies are failures too.
    ``on_batch(n)`` is called after every ``n`` structures (progress bars).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    results: list[EnergyResult] = []
    for start in range(0, len(structures), batch_size):
        batch = structures[start : start + batch_size]
        try:
            energies: list[EnergyResult] = [(e, None) for e in _predict(batch, batch_size, model_name)]
        except Exception:
            energies = [_one(s, model_name) for s in batch]
        results.extend(
            (e, None) if e is not None and math.isfinite(e) else (None, err or f"non-finite energy {e}")
            for e, err in energies
        )
        if on_batch is not None:
            on_batch(len(batch))
    return results


def _one(structure: Structure, model_name: str) -> EnergyResult:
    try:
        return _predict([structure], 1, model_name)[0], None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]

"""``xtalgen evaluate --properties``: the property-distributions metric from the command's flags."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from xtalgen.cli.output_paths import fail

PROPERTIES_HELP = ("With --stability: formation energy, E_hull, magnetic moment, bulk modulus and density of the "
                   "relaxed samples vs relaxed training (else test) structures, K-S per property.")  # fmt: skip
PROPERTIES_N_HELP = "Reference structures relaxed for --properties (seeded subset, --stability-seed)."


def with_properties(settings: Any, properties: bool, n: int, seed: int, model: object | None,
                    reference_energies: str, train: Path | None, test: Path | None) -> Any:  # fmt: skip
    """``settings`` with the property-distributions metric (references: --train, else --test); unchanged
    without --properties. Exits with one line when --stability or a reference set is missing."""
    if not properties:
        return settings
    from xtalgen.evaluation.property_distributions import PropertyDistributions

    console = Console()
    if model is None:
        raise fail(console, "--properties uses the relaxations of --stability; add --stability")
    if train is None and test is None:
        raise fail(console, "--properties compares with relaxed training or test structures; pass --train or --test")
    try:
        metric = PropertyDistributions(model, reference="train" if train is not None else "test",  # type: ignore[arg-type]
                                       n_reference=n, seed=seed, reference_energies=reference_energies)  # fmt: skip
    except (FileNotFoundError, ValueError) as exc:
        raise fail(console, f"--properties: {exc}") from None
    return replace(settings, properties=metric)

"""The report's property-distributions section: a table of medians and K–S per property, and what they are."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

from xtalgen.evaluation.property_distributions import PROPERTIES, finite_values

#: What the property distributions are, beside the paper's (shown with the table).
PROPERTY_NOTE = (
    "Computed with the stability potential after relaxation, for the samples and for a seeded subset of the "
    "reference structures alike: formation energy against the elemental references of the same potential, "
    "E_hull, mean |magnetic moment| per site (CHGNet's prediction), bulk modulus from a Birch–Murnaghan fit of "
    "static energies at ±2 and ±4 % volume (fractional coordinates kept), density of the relaxed cell. The "
    "CrysTens paper's Fig. 7 values are CGCNN predictions, a surrogate model trained on another dataset "
    "(Materials Project DFT), so the two sets of numbers are not directly comparable."
)


def property_rows(result: Any) -> list[tuple[str, int, int, float, float, float]]:
    """(property label, n generated, n reference, median generated, median reference, K–S) per property;
    empty when the property distributions were not computed."""
    ref = result.reference_properties
    if ref is None:
        return []
    m, rows = result.metrics, []
    for key, column, label in PROPERTIES:
        n_gen, n_ref = len(finite_values(result.per_sample, column)), len(finite_values(ref, column))
        rows.append((label, n_gen, n_ref, m.get(f"properties.median.{key}", math.nan),
                     m.get(f"properties.reference_median.{key}", math.nan), m.get(f"properties.ks.{key}", math.nan)))
    return rows


def property_section(result: Any, fmt: Callable[[float], str]) -> str:
    """The property-distributions table with its note (empty without --properties); ``fmt`` formats a number."""
    rows = property_rows(result)
    if not rows:
        return ""
    ref = "test" if result.meta.get("property_reference") == "test" else "training"
    body = "".join(f"<tr><td>{html.escape(label)}</td><td>{g}</td><td>{r}</td><td>{fmt(mg)}</td><td>{fmt(mr)}</td>"
                   f"<td>{fmt(ks)}</td></tr>" for label, g, r, mg, mr, ks in rows)  # fmt: skip
    return (f'<h2>Property distributions</h2><table class="properties"><tr><th>property</th><th>generated</th>'
            f"<th>{ref}</th><th>median generated</th><th>median {ref}</th><th>K–S</th></tr>{body}</table>"
            f"<p>{html.escape(PROPERTY_NOTE)}</p>")  # fmt: skip

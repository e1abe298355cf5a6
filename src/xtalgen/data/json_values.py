"""Values made ready for a JSON file: the one rule every JSON/JSON-lines writer of xtalgen follows.

Dict keys become text, tuples and numpy arrays become lists, numpy scalars become Python numbers,
non-finite floats (NaN, ±inf) become ``null`` (strict JSON has no NaN), timestamps become their text.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def json_ready(value: Any) -> Any:
    """``value`` with every part a plain JSON value (see the module docstring); other objects pass as they are."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "isoformat") and not isinstance(value, str):  # datetime, pandas Timestamp
        return str(value)
    return value

"""The one rule for values written to JSON files (caches, reports, relaxation and screening records)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from xtalgen.data.json_values import json_ready


def test_values_become_strict_json() -> None:
    value = {
        1: np.float32(0.5), "arr": np.arange(3), "nested": ({"x": float("nan")}, [np.int64(4), -math.inf]),
        "when": pd.Timestamp("2026-01-02 03:04:05"), "text": "NaN", "none": None, "flag": np.bool_(True),
    }  # fmt: skip
    out = json_ready(value)
    assert out == {"1": 0.5, "arr": [0, 1, 2], "nested": [{"x": None}, [4, None]], "when": "2026-01-02 03:04:05",
                   "text": "NaN", "none": None, "flag": True}  # fmt: skip
    assert type(out["arr"][0]) is int and type(out["flag"]) is bool
    json.dumps(out, allow_nan=False)  # strict JSON: no NaN / Infinity tokens

"""Read a user's CSV(.gz) table with one-line errors that name the file (empty, not UTF-8, malformed).

Columns that hold names rather than numbers (ids, formulas, element lists, CIF text, notes:
:data:`TEXT_COLUMNS`) are read as strings with only an empty cell as missing: pandas' default missing
markers include ``"NaN"``, ``"NA"`` and ``"None"``, which are also formulas (sodium nitride's reduced
formula is ``NaN``; Materials Project mp-1009221, mp-1080032, mp-1179882). Other columns keep pandas'
default missing markers.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

#: Columns read as text (formulas such as "NaN" stay formulas).
TEXT_COLUMNS = frozenset({
    "id", "material_id", "name", "formula", "pretty_formula", "reduced_formula", "full_formula", "composition",
    "elements", "chemsys", "cif", "e_hull_decomposition", "reason", "struct_reason", "e_hull_note",
})  # fmt: skip
#: pandas' default missing-value markers (``pandas.read_csv``, parameter ``na_values``), kept for
#: the columns that are not text.
DEFAULT_NA = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
              "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")  # fmt: skip


def read_csv_table(
    path: str | os.PathLike[str], *, text_columns: frozenset[str] = TEXT_COLUMNS, **kwargs: Any
) -> pd.DataFrame:
    """``pandas.read_csv(path, **kwargs)`` with the ``text_columns`` present read as strings (only an empty
    cell is missing there); a file that is empty, not UTF-8 or not CSV raises ValueError with a one-line
    message naming ``path``. Callers that set ``keep_default_na`` or ``na_values`` themselves get exactly
    what they asked for."""
    if text_columns and "keep_default_na" not in kwargs and "na_values" not in kwargs:
        header = [str(c) for c in _read(path, nrows=0).columns]
        text = [c for c in header if c in text_columns]
        if text:
            kwargs["keep_default_na"] = False
            kwargs["na_values"] = {c: [""] if c in text else list(DEFAULT_NA) for c in header}
            if kwargs.get("dtype") is None or isinstance(kwargs.get("dtype"), dict):
                kwargs["dtype"] = {**dict.fromkeys(text, str), **(kwargs.get("dtype") or {})}
    return _read(path, **kwargs)


def _read(path: str | os.PathLike[str], **kwargs: Any) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: empty CSV file (no header line)") from None
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start : exc.start + 1].hex()
        raise ValueError(f"{path}: not UTF-8 text (byte 0x{byte} at offset {exc.start}); save it as UTF-8, "
                         f"e.g. iconv -f latin1 -t utf-8") from None  # fmt: skip
    except pd.errors.ParserError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: not a readable CSV table ({first})") from None
    except (OSError, EOFError) as exc:  # e.g. a corrupt .csv.gz
        raise ValueError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from None

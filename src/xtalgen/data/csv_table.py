"""Read a user's CSV(.gz) table with one-line errors that name the file (empty, not UTF-8, malformed)."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd


def read_csv_table(path: str | os.PathLike[str], **kwargs: Any) -> pd.DataFrame:
    """``pandas.read_csv(path, **kwargs)``; a file that is empty, not UTF-8 or not CSV raises ValueError
    with a one-line message naming ``path``."""
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

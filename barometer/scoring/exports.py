"""CSV cells that a spreadsheet cannot run: every CSV the service or `barometer score --out` writes
passes its cells through `safe_cell` (or `safe_frame`, which applies it to text columns).

CRM text (account names, ids, reasons) ends up in managers' spreadsheets. A text cell starting with
`=`, `+`, `-`, `@`, a tab or a carriage return is read there as a formula (`=HYPERLINK(...)`), so it
gets a leading single quote, as OWASP recommends against CSV injection. Only text is changed:
numbers, including negative ones, stay numbers. Lines end in CRLF (RFC 4180), so that the CSV
writer quotes any cell holding a carriage return or a newline: no cell can start a row of its own.
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LINE_END = "\r\n"


def safe_cell(value):
    """`value` unchanged, or with a leading `'` when it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with `safe_cell` applied to every text (object or string) column."""
    out = frame.copy()
    for column in out.columns:
        dtype = out[column].dtype
        if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype):
            out[column] = out[column].map(safe_cell)
    return out

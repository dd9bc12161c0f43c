"""Files users download: CSV that a spreadsheet opens without running anything it holds."""

from __future__ import annotations

import pandas as pd

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Text that a spreadsheet would evaluate, prefixed with a quote so it is shown as text.

    >>> neutralise('=HYPERLINK("http://x")'), neutralise("webinar"), neutralise(-3)
    ('\\'=HYPERLINK("http://x")', 'webinar', -3)
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame) -> str:
    """`frame` as CSV text with formula-like text cells (and headers) neutralised; numbers stay numbers."""
    text_columns = frame.select_dtypes(include=["object", "string"]).columns
    safe = frame.assign(**{c: frame[c].map(neutralise) for c in text_columns})
    safe.columns = [neutralise(str(c)) for c in safe.columns]
    return safe.to_csv(index=False)

"""The one way identifiers reach SQL: user-supplied values are always parameters, names are quoted here."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """Quote a column or table name for DuckDB, whatever characters it holds.

    >>> quote_ident('Became an "MQL" date')
    '"Became an ""MQL"" date"'
    """
    if "\x00" in name:
        raise ValueError("a column name cannot contain a NUL character")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Quote a string as a SQL literal, for the few places DuckDB takes no parameter (table functions' options)."""
    if "\x00" in text:
        raise ValueError("text for SQL cannot contain a NUL character")
    return "'" + text.replace("'", "''") + "'"

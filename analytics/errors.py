"""The errors the command line and the pages turn into plain messages (exit codes: DESIGN.md)."""

from __future__ import annotations


class BadInput(ValueError):
    """Input a user can fix: a file, a row, a column or an option. Exit status 2.

    The message names the file, the row and the column where there is one, e.g.
    "events.csv, row 17 (line 18), column 'occurred_at': '31/02/2024' is not a date or time".
    """

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None, column: str | None = None):
        where = ", ".join(
            part
            for part in (
                file,
                f"row {row} (line {row + 1})" if row is not None else None,
                f"column '{column}'" if column is not None else None,
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.row = row
        self.column = column


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be opened or written: its folder is read-only, its disk is full, or another
    process holds it. Exit status 3."""


class WarehouseBusy(WarehouseUnavailable):
    """The warehouse stayed held by another writer for longer than we wait."""

"""Backups: a consistent copy of the warehouse while the dashboard runs, and a restore that checks first.

A backup is taken through a read-only connection, so it waits for a running import to finish and no
import can start halfway through the copy; DuckDB copies every table and sequence into a new file.
A restore accepts only a DuckDB file holding a warehouse of a schema version this program knows, keeps
the warehouse it replaces beside it, and swaps the files in one rename.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb

from analytics.errors import BadInput
from analytics.schema import DATA_TABLES, LATEST_VERSION, schema_version
from analytics.sql import quote_ident, quote_literal
from analytics.warehouse import DEFAULT_TIMEOUT_SECONDS, db_path, reader, writer


def backup(
    out: str | os.PathLike[str], path: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS, on_wait: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Write a consistent copy of the warehouse to `out` (which must not exist); return its row counts."""
    target = Path(out)
    if target.exists():
        raise BadInput(f"{target} already exists; choose a new file for the backup")
    target.parent.mkdir(parents=True, exist_ok=True)
    with reader(path, timeout=timeout, on_wait=on_wait) as con:
        source = con.execute("SELECT current_database()").fetchone()[0]
        con.execute(f"ATTACH {quote_literal(str(target))} AS backup_copy (READ_WRITE)")
        try:
            con.execute(f"COPY FROM DATABASE {quote_ident(source)} TO backup_copy")
            return {t: con.execute(f"SELECT count(*) FROM backup_copy.{t}").fetchone()[0] for t in DATA_TABLES}
        finally:
            con.execute("DETACH backup_copy")


def check_backup(file: str | os.PathLike[str]) -> int:
    """The schema version of a backup file; BadInput when it is not a warehouse this program can open."""
    candidate = Path(file)
    if not candidate.is_file():
        raise BadInput("file not found", file=candidate.name)
    try:
        con = duckdb.connect(str(candidate), read_only=True)
    except duckdb.Error as error:
        raise BadInput(f"is not a DuckDB database: {str(error).splitlines()[0]}", file=candidate.name) from error
    try:
        version = schema_version(con)
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    finally:
        con.close()
    if not 1 <= version <= LATEST_VERSION or not set(DATA_TABLES) <= tables:
        raise BadInput(f"is not a warehouse of a schema version this program knows (found version {version}, "
                       f"known 1 to {LATEST_VERSION})", file=candidate.name)
    return version


def restore(
    file: str | os.PathLike[str], path: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS, on_wait: Callable[[str], None] | None = None,
) -> Path | None:
    """Replace the warehouse with backup `file`; return where the replaced warehouse was kept (None: none)."""
    check_backup(file)
    target = db_path(path)
    staged = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(file, staged)
    kept = None
    with writer(target, timeout=timeout, on_wait=on_wait):
        pass  # waits until no one else holds the warehouse, and checkpoints it
    if target.exists():
        kept = target.with_name(f"{target.stem}.before-restore-{datetime.now():%Y%m%d-%H%M%S}{target.suffix}")
        os.replace(target, kept)
    Path(f"{target}.wal").unlink(missing_ok=True)
    os.replace(staged, target)
    with writer(target, timeout=timeout, on_wait=on_wait):
        pass  # an older backup is brought up to the current schema
    return kept

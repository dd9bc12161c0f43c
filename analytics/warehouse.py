"""Opening the warehouse: where it lives, one writer at a time, readers that never block for long.

DuckDB lets one process write a database file, and a file held for writing cannot be opened by another
process at all. So nothing holds the warehouse open between interactions: every command and every
dashboard rerun opens it, does its work and closes it. A connection that finds the file held waits
(saying so once through `on_wait`) and gives up with `WarehouseBusy` after `timeout` seconds.
"""

from __future__ import annotations

import errno
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from analytics.errors import WarehouseBusy, WarehouseUnavailable
from analytics.schema import LATEST_VERSION, migrate, schema_version

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = PROJECT_ROOT / "data" / "warehouse.duckdb"
DEFAULT_TIMEOUT_SECONDS = 120.0

_LOCK_MESSAGES = ("could not set lock", "different configuration", "conflicting lock")
# A write that found no room: the disk is full, a quota is used up, or the file reached a size limit.
_NO_ROOM = tuple(os.strerror(code) for code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG))


def db_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The warehouse file: `explicit` if given, else `$ANALYTICS_DB`, else `data/warehouse.duckdb`."""
    chosen = explicit or os.environ.get("ANALYTICS_DB") or DEFAULT_DB
    return Path(chosen).expanduser()


def _is_lock_conflict(error: duckdb.Error) -> bool:
    text = str(error).lower()
    return any(message in text for message in _LOCK_MESSAGES)


def _holder(error: duckdb.Error) -> str:
    pid = re.search(r"PID (\d+)", str(error))
    return f"process {pid.group(1)}" if pid else "another connection"


def _open(
    path: Path, read_only: bool, timeout: float, on_wait: Callable[[str], None] | None
) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + timeout
    delay = 0.05
    told = False
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            con.execute("SET TimeZone = 'UTC'")
            # DuckDB's own terminal bar is no designed report and would land in redirected output; long
            # work reports through analytics.progress instead (which reads query_progress()).
            con.execute("SET enable_progress_bar_print = false")
            return con
        except (duckdb.IOException, duckdb.ConnectionException) as error:
            if not _is_lock_conflict(error):
                raise
            holder = _holder(error)
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"the warehouse {path} is still in use by {holder} after {timeout:.0f} s; "
                    "try again when it has finished"
                ) from error
            if on_wait and not told:
                on_wait(f"Waiting for the warehouse {path}: it is in use by {holder} ...")
                told = True
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)


@contextmanager
def writer(
    path: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection to an up-to-date warehouse, created if missing, closed on exit.

    A write that finds no room (disk full, quota, file size limit) raises WarehouseUnavailable naming the file.
    """
    target = db_path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        con = _open(target, read_only=False, timeout=timeout, on_wait=on_wait)
    except (OSError, duckdb.IOException) as error:
        raise WarehouseUnavailable(f"the warehouse {target} cannot be opened for writing: {error}") from error
    try:
        migrate(con)
        yield con
    except duckdb.IOException as error:
        reason = next((r for r in _NO_ROOM if r in str(error)), None)
        if reason is None:
            raise
        # DuckDB rolls back the transaction whose write failed; every write here is one transaction.
        raise WarehouseUnavailable(
            f"the warehouse {target} could not be written: there is no space left for it ({reason}), so "
            "the change was rolled back. Free some disk space and try again") from error
    finally:
        con.close()


@contextmanager
def reader(
    path: str | os.PathLike[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
    memory_limit: str | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; a missing or outdated warehouse is first created or migrated.

    `memory_limit` ("1GB") caps what DuckDB's operators hold before they spill to disk; None: DuckDB's
    default, 80% of the machine's memory.
    """
    target = db_path(path)
    if not target.exists():
        with writer(target, timeout, on_wait):
            pass
    con = _open(target, read_only=True, timeout=timeout, on_wait=on_wait)
    if schema_version(con) != LATEST_VERSION:
        con.close()
        with writer(target, timeout, on_wait):
            pass
        con = _open(target, read_only=True, timeout=timeout, on_wait=on_wait)
    try:
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        yield con
    finally:
        con.close()


def data_version(path: str | os.PathLike[str] | None = None) -> tuple[int, int]:
    """A cheap fingerprint of the warehouse file (modification time, size) for caching query results."""
    target = db_path(path)
    stamps = [(p.stat().st_mtime_ns, p.stat().st_size) for p in (target, Path(f"{target}.wal")) if p.exists()]
    return (max((s[0] for s in stamps), default=0), sum(s[1] for s in stamps))

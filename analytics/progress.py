"""Progress reports for long work (imports, the demo, the weekly report), free of any user interface.

A `Progress` is a callback taking the fraction done (0..1) and what is happening, in words. Long
operations accept one as `progress=` and call it between their steps, ending with 1.0; the command line
turns the calls into one line updated in place, the pages into `st.progress`.

A single long statement reports within its step through `watched`: the statement runs on a worker
thread while this thread polls DuckDB's `query_progress()` (which needs `enable_progress_bar` on; its
terminal printing stays off) and calls the callback, so a callback that updates a page runs on the
caller's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import duckdb

Progress = Callable[[float, str], None]
T = TypeVar("T")
POLL_SECONDS = 0.1


def silent(fraction: float, step: str) -> None:
    """A Progress that reports nowhere."""


def part(progress: Progress | None, start: float, end: float) -> Progress:
    """A Progress for a sub-task whose 0..1 maps onto `start`..`end` of `progress`."""
    report = progress or silent

    def scaled(fraction: float, step: str) -> None:
        report(start + (end - start) * min(max(fraction, 0.0), 1.0), step)

    return scaled


def quiet_progress_bar(con: duckdb.DuckDBPyConnection) -> None:
    """Keep DuckDB's query progress measurable but never printed to the terminal."""
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")


def watched(con: duckdb.DuckDBPyConnection, work: Callable[[], T], progress: Progress | None, step: str,
            start: float, end: float, statements: int = 1) -> T:
    """Run `work` (statements on `con`) reporting `step` from `start` to `end` as DuckDB measures it.

    When `work` runs several long statements, `statements` says how many: each then gets an equal share,
    and a new one is noticed when DuckDB's progress starts again from lower down.
    """
    report = progress or silent
    report(start, step)
    if progress is None:
        return work()
    quiet_progress_bar(con)
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # noqa: BLE001 - re-raised on the caller's thread
            outcome["error"] = error

    worker = threading.Thread(target=run, name="duckdb-watched", daemon=True)
    worker.start()
    reported, previous, done = start, -1.0, 0
    try:
        while worker.is_alive():
            worker.join(POLL_SECONDS)
            percent = con.query_progress()
            if previous >= 0 and (percent < 0 or percent < previous - 1):
                done = min(done + 1, statements - 1)  # the statement ended; the next one runs
            previous = percent
            if worker.is_alive() and percent >= 0:
                fraction = start + (end - start) * (done + min(percent, 100.0) / 100.0) / statements
                if fraction > reported:
                    reported = fraction
                    report(fraction, step)
    except BaseException:
        con.interrupt()
        worker.join()
        raise
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    report(end, step)
    return outcome["value"]  # type: ignore[return-value]

"""Benchmarks: `python -m bench [--events 1M,10M] [--with-50m] [--engine both]` prints sizes and timings, asserts nothing.

For each size it builds a demo warehouse of about that many events, exports its events to CSV and
Parquet and times importing them into a fresh warehouse (journey table included), then a small import
into that warehouse (the journeys of the leads it touches are refreshed). In a separate process, as the
dashboard would, it times the analytics cold (first run on a fresh connection) and warm (second run),
without and with the shared filters, next to a plain `GROUP BY lead_id` over the events, and reports
that process's peak memory. Last, it checks the funnel against the exact reference (the same funnel
computed from the events, windows and re-entries included) and an idiomatic pandas funnel.

With `--engine both` it then copies the warehouse into ClickHouse (chdb, the ClickHouse engine in a
process of its own), times the same queries there the same way, prints both engines side by side in one
table, and checks that the funnel's counts are equal on both.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import duckdb

from analytics import demo, imports, journeys
from analytics.filters import Filters
from analytics.warehouse import reader, writer
from bench.queries import (
    Timing,
    check_engines,
    check_funnel,
    copy_into_clickhouse,
    events_per_lead,
    measure_clickhouse,
    measure_queries,
    side_by_side,
    timed,
    timing_lines,
)

SMALL_IMPORT = 10_000  # events of existing leads in the follow-up import


def _in_child(function: Callable, *args: object) -> object:
    """Run `function(*args)` in a fresh process, so its memory and caches are its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def _measure_imports(folder: Path, path: Path) -> None:
    with reader(path) as con:
        for suffix, copy in (("csv", "(FORMAT csv)"), ("parquet", "(FORMAT parquet)")):
            con.execute(f"COPY events TO '{folder / f'events.{suffix}'}' {copy}")
        con.execute(f"COPY (SELECT lead_id, 'meeting' AS stage, occurred_at + INTERVAL 1 MINUTE AS occurred_at "
                    f"FROM events WHERE stage = 'lead' ORDER BY lead_id LIMIT {SMALL_IMPORT}) "
                    f"TO '{folder / 'more.csv'}' (FORMAT csv)")
    for suffix in ("csv", "parquet"):
        with duckdb.connect() as con:
            con.execute("SET enable_progress_bar = false")
            seconds, _ = timed(partial(
                con.execute, f"CREATE TABLE t AS SELECT * FROM read_{suffix}('{folder / f'events.{suffix}'}')"))
        print(f"read {suffix:9s}: plain DuckDB read into a table {seconds:.1f} s (the floor an import is compared with)")
        target = folder / f"import-{suffix}.duckdb"
        with writer(target) as con:
            seconds, result = timed(partial(imports.import_file, con, "events", folder / f"events.{suffix}"))
            print(f"import {suffix:7s}: {result.rows_added:,} rows in {seconds:.1f} s = {result.rows_added / seconds:,.0f} "
                  "rows/s, journeys included")
            if suffix == "csv":
                con.execute("BEGIN TRANSACTION")
                rebuild, _ = timed(partial(journeys.rebuild, con))
                con.execute("COMMIT")
                print(f"journeys     : built for every lead in {rebuild:.1f} s (part of the import above)")
                seconds, result = timed(partial(imports.import_file, con, "events", folder / "more.csv"))
                print(f"small import : {result.rows_added:,} events of existing leads in {seconds:.2f} s, "
                      "their journeys refreshed")
        target.unlink()


def _compare_engines(path: Path, folder: Path, filtered: Filters, duck: list[Timing]) -> None:
    """Copy the warehouse into chdb, time the same queries there and print both engines side by side."""
    url, database = f"chdb://{folder / 'chdb'}", "bench"
    seconds, peak = _in_child(copy_into_clickhouse, str(path), url, database)
    print(f"copied into ClickHouse (chdb, {url}) in {seconds:.1f} s; peak RSS of the copying process {peak:,.0f} MB")
    on_clickhouse, peak = _in_child(measure_clickhouse, url, database, filtered)
    print("\n".join(side_by_side(duck, on_clickhouse)))
    print(f"peak RSS of the ClickHouse querying process (chdb in it): {peak:,.0f} MB")
    print(_in_child(check_engines, str(path), url, database))
    shutil.rmtree(folder / "chdb")


def run(target_events: int, folder: Path, engines: str) -> None:
    leads = max(1_000, int(target_events / events_per_lead()))
    path = folder / f"bench-{target_events}.duckdb"
    with writer(path) as con:
        seconds, summary = timed(lambda: demo.generate(con, leads=leads, seed=1))
    print(f"\n== {summary.events:,} events, {summary.leads:,} leads: demo generated in {seconds:.1f} s")
    _measure_imports(folder, path)
    timings, peak, filtered = _in_child(measure_queries, str(path))
    print("\n".join(timing_lines(timings)))
    print(f"peak RSS of the querying process: {peak:,.0f} MB")
    print("\n".join(_in_child(check_funnel, str(path))))
    if engines == "both":
        _compare_engines(path, folder, filtered, timings)
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="1M,10M", help="comma-separated sizes, e.g. 200k,1M,10M")
    parser.add_argument("--with-50m", action="store_true", help="also 50 million events")
    parser.add_argument("--engine", choices=("duckdb", "both"), default="duckdb",
                        help="both: also copy each warehouse into ClickHouse (chdb) and time the queries there, "
                             "side by side with DuckDB")
    args = parser.parse_args()
    sizes = [int(float(s[:-1]) * {"k": 1e3, "m": 1e6}[s[-1].lower()]) if s[-1].isalpha() else int(s)
             for s in args.events.split(",")] + ([50_000_000] if args.with_50m else [])
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        for size in sizes:
            run(size, Path(folder), args.engine)


if __name__ == "__main__":
    main()

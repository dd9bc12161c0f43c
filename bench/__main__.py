"""Benchmarks: `python -m bench [--events 1M,10M] [--with-50m]` prints sizes and timings, asserts nothing.

For each size it builds a demo warehouse (about 7 events per lead), exports its events to CSV and
Parquet and times importing them into a fresh warehouse, then times the analytics cold (first run on a
fresh connection) and warm (second run), next to a plain `GROUP BY lead_id` over the events measured in
the same run, and the same funnel written the idiomatic pandas way, checking both give the same counts.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from analytics import channels, cohorts, demo, funnel, imports, time_to_convert
from analytics.filters import Filters
from analytics.warehouse import reader, writer

EVENTS_PER_LEAD = 5.2  # what the demo generates on average by its end date


def _timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pandas_funnel(con: duckdb.DuckDBPyConnection, stages: tuple[str, ...]) -> list[int]:
    """Strict ordered funnel without windows, the way an analyst writes it in pandas."""
    events = con.execute("SELECT lead_id, stage, occurred_at FROM events WHERE stage IN (SELECT unnest(?))",
                         [list(stages)]).df()
    first = events.groupby(["lead_id", "stage"])["occurred_at"].min().unstack()
    reached = first[stages[0]].notna()
    counts = [int(reached.sum())]
    previous = first[stages[0]]
    for stage in stages[1:]:
        reached &= first[stage].notna() & (first[stage] >= previous)
        previous = first[stage].where(reached)
        counts.append(int(reached.sum()))
    return counts


def run(target_events: int, folder: Path) -> None:
    leads = max(1_000, int(target_events / EVENTS_PER_LEAD))
    path = folder / f"bench-{target_events}.duckdb"
    with writer(path) as con:
        seconds, summary = _timed(lambda: demo.generate(con, leads=leads, seed=1))
    print(f"\n== {summary.events:,} events, {summary.leads:,} leads: demo generated in {seconds:.1f} s")

    with reader(path) as con:
        for suffix, copy in (("csv", "(FORMAT csv)"), ("parquet", "(FORMAT parquet)")):
            con.execute(f"COPY events TO '{folder / f'events.{suffix}'}' {copy}")
    for suffix in ("csv", "parquet"):
        with duckdb.connect() as con:
            seconds, _ = _timed(lambda: con.execute(
                f"CREATE TABLE t AS SELECT * FROM read_{suffix}('{folder / f'events.{suffix}'}')"))
        print(f"read {suffix:9s}: plain DuckDB read into a table {seconds:.1f} s (the floor an import is compared with)")
        target = folder / f"import-{suffix}.duckdb"
        with writer(target) as con:
            seconds, result = _timed(lambda: imports.import_file(con, "events", folder / f"events.{suffix}"))
        print(f"import {suffix:7s}: {result.rows_added:,} rows in {seconds:.1f} s = {result.rows_added / seconds:,.0f} rows/s")
        target.unlink()

    spec = funnel.FunnelSpec(by="channel")
    filters = Filters()
    queries: dict[str, Callable[[duckdb.DuckDBPyConnection], object]] = {
        "group by lead_id": lambda c: c.execute("SELECT lead_id, count(*) FROM events GROUP BY lead_id").fetchall(),
        "funnel (4 stages, windows, by channel)": lambda c: funnel.funnel(c, spec, filters),
        "time to convert mql -> sql by channel": lambda c: time_to_convert.time_to_convert(
            c, time_to_convert.ConversionSpec("mql", "sql", by="channel"), filters),
        "cohorts lead -> sql per month": lambda c: cohorts.cohorts(
            c, time_to_convert.ConversionSpec("lead", "sql"), filters),
        "channel costs": lambda c: channels.channel_comparison(c, filters),
    }
    baseline = None
    for name, query in queries.items():
        with reader(path) as con:
            cold, _ = _timed(lambda: query(con))
            warm, _ = _timed(lambda: query(con))
        baseline = baseline or warm
        print(f"{name:40s} cold {cold:6.2f} s  warm {warm:6.2f} s  ({warm / baseline:4.1f}x group by)  "
              f"peak RSS {_peak_mb():,.0f} MB")

    with reader(path) as con:
        stages = ("lead", "mql", "sql", "won")
        seconds, by_pandas = _timed(lambda: pandas_funnel(con, stages))
        no_windows = funnel.FunnelSpec(stages=stages, windows={s: None for s in stages[1:]})
        by_sql = funnel.funnel(con, no_windows, filters)["count"].tolist()
    print(f"pandas funnel (no windows) {seconds:.2f} s ({seconds / baseline:.1f}x group by); "
          f"counts {'equal' if by_pandas == by_sql else 'DIFFER'}: {by_pandas} vs SQL {by_sql}")
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="1M,10M", help="comma-separated sizes, e.g. 200k,1M,10M")
    parser.add_argument("--with-50m", action="store_true", help="also 50 million events")
    args = parser.parse_args()
    sizes = [int(float(s[:-1]) * {"k": 1e3, "m": 1e6}[s[-1].lower()]) if s[-1].isalpha() else int(s)
             for s in args.events.split(",")] + ([50_000_000] if args.with_50m else [])
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        for size in sizes:
            run(size, Path(folder))


if __name__ == "__main__":
    main()

"""The analytics `python -m bench` times, run in a process of their own (as the dashboard runs them), and
the checks of the funnel against its references."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from unittest.mock import patch

import duckdb

from analytics import channels, cohorts, demo, funnel, schema, time_to_convert
from analytics.filters import Filters
from analytics.warehouse import reader

Query = Callable[[duckdb.DuckDBPyConnection, Filters], object]
GROUP_BY = "group by lead_id"  # the floor: one plain pass over the events
QUERIES: dict[str, Query] = {
    GROUP_BY: lambda c, f: c.execute("SELECT lead_id, count(*) FROM events GROUP BY lead_id").fetchall(),
    "funnel (4 stages, windows, by channel)": lambda c, f: funnel.funnel(c, funnel.FunnelSpec(by="channel"), f),
    "time to convert mql -> sql by channel": lambda c, f: time_to_convert.time_to_convert(
        c, time_to_convert.ConversionSpec("mql", "sql", by="channel"), f),
    "cohorts lead -> sql per month": lambda c, f: cohorts.cohorts(c, time_to_convert.ConversionSpec("lead", "sql"), f),
    "channel costs": lambda c, f: channels.channel_comparison(c, f),
    # Every figure of the time-to-convert page after a filter change (it was six queries).
    "time-to-convert page mql -> sql by channel": lambda c, f: time_to_convert.conversion_report(
        c, time_to_convert.ConversionSpec("mql", "sql", by="channel"), f),
}


def events_per_lead() -> float:
    """How many events per lead the demo generates today, from a small demo in memory."""
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        schema.migrate(con)
        summary = demo.generate(con, leads=5_000, seed=1)
    return summary.events / summary.leads


def timed(action: Callable[[], object]) -> tuple[float, object]:
    """Seconds `action` takes, and its result."""
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def peak_mb() -> float:
    """This process's peak resident memory in MB. Linux's VmHWM, not ru_maxrss: a process started from a
    large one (the benchmark after its imports) inherits that one's peak in ru_maxrss across exec."""
    status = Path("/proc/self/status")
    if status.exists():
        line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
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


def shared_filters(con: duckdb.DuckDBPyConnection) -> Filters:
    """Every filter of the filter bar at once: a year of entries, two channels, their campaigns, an as-of date."""
    today = date.today()
    chosen = ("webinar", "display")
    campaigns = [r[0] for r in con.execute(
        "SELECT DISTINCT campaign_id FROM campaigns WHERE list_contains(?, channel)", [list(chosen)]).fetchall()]
    return Filters(since=today - timedelta(days=450), until=today - timedelta(days=90), channels=chosen,
                   campaigns=tuple(campaigns), as_of=today - timedelta(days=30))


@dataclass(frozen=True)
class Timing:
    """One query's cold (first run on a fresh connection) and warm (second run) seconds; `source` says whether
    the analytics answered from the journeys table or the events ("" for the GROUP BY floor)."""

    query: str
    source: str
    cold: float
    warm: float


def _answered_from(con: Any) -> str:
    return "[journeys]" if funnel._journey_units_query(con, funnel.FunnelSpec(), Filters()) else "[events]"


def _time_queries(connection: Callable[[], AbstractContextManager], filtered: Filters) -> list[Timing]:
    """Every query of `QUERIES`, unfiltered and with `filtered`, each on a fresh connection from `connection()`."""
    with connection() as con:
        source = _answered_from(con)
    timings = []
    for name, query in QUERIES.items():
        variants = (("", Filters()),) if name == GROUP_BY else (("", Filters()), (" + filters", filtered))
        for label, filters in variants:
            with connection() as con:
                cold, _ = timed(partial(query, con, filters))
                warm, _ = timed(partial(query, con, filters))
            timings.append(Timing(name + label, "" if name == GROUP_BY else source, cold, warm))
    return timings


def measure_queries(path: str) -> tuple[list[Timing], float, Filters]:
    """Cold and warm times of each query on the DuckDB warehouse `path`, unfiltered and filtered; this
    process's peak RSS in MB; and the filters used (for the same run on ClickHouse)."""
    with reader(path) as con:
        filtered = shared_filters(con)
    return _time_queries(partial(reader, path), filtered), peak_mb(), filtered


def measure_clickhouse(url: str, database: str, filtered: Filters) -> tuple[list[Timing], float]:
    """The same queries on ClickHouse `database` at `url` (chdb in this process): cold is the first run of a
    query in this process, as ClickHouse's caches live as long as the engine; and the peak RSS in MB."""
    from analytics.clickhouse.connection import connect

    return _time_queries(partial(connect, url, database), filtered), peak_mb()


def timing_lines(timings: list[Timing]) -> list[str]:
    """One engine's timings, one line per query, with the cold time as a multiple of the GROUP BY floor's."""
    floor = timings[0].cold
    return [f"{t.query:50s} {t.source:10s} cold {t.cold:6.2f} s  warm {t.warm:6.3f} s  "
            f"(cold {t.cold / floor:4.2f}x group by)" for t in timings]


def side_by_side(duck: list[Timing], ch: list[Timing]) -> list[str]:
    """Both engines' timings of the same queries as one Markdown table (seconds; x: the cold time as a multiple
    of that engine's GROUP BY floor)."""
    lines = ["| query | DuckDB cold | DuckDB warm | ClickHouse cold | ClickHouse warm | warm CH / DuckDB |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for d, c in zip(duck, ch, strict=True):
        source = f" {d.source}/{c.source}" if d.source else ""
        lines.append(f"| {d.query}{source} | {d.cold:.2f} ({d.cold / duck[0].cold:.1f}x) | {d.warm:.3f} "
                     f"| {c.cold:.2f} ({c.cold / ch[0].cold:.1f}x) | {c.warm:.3f} | {c.warm / d.warm:.1f} |")
    return lines


def copy_into_clickhouse(path: str, url: str, database: str) -> tuple[float, float]:
    """Seconds to copy the DuckDB warehouse `path` into ClickHouse, and this process's peak RSS in MB."""
    from analytics.clickhouse.load import copy_to_clickhouse

    seconds, ch = timed(lambda: copy_to_clickhouse(path, url, database))
    ch.close()
    return seconds, peak_mb()


def check_engines(path: str, url: str, database: str) -> str:
    """Whether the funnel by channel (every stage count per channel) is the same on DuckDB and ClickHouse."""
    from analytics.clickhouse.connection import connect

    spec = funnel.FunnelSpec(by="channel")
    with reader(path) as con:
        duck = funnel.funnel(con, spec, Filters())
    with connect(url, database) as ch:
        seconds, on_clickhouse = timed(lambda: funnel.funnel(ch, spec, Filters()))
    columns = ["group", "stage", "count", "dropoff", "unfinished"]
    same = duck[columns].astype(str).equals(on_clickhouse[columns].astype(str))
    return (f"funnel by channel on ClickHouse ({seconds:.2f} s): counts per channel and stage "
            f"{'EQUAL' if same else 'DIFFER FROM'} DuckDB's: {duck.groupby('step')['count'].sum().tolist()}")


def check_funnel(path: str) -> list[str]:
    """The funnel from the journeys against the same funnel from the events, and pandas' funnel."""
    with reader(path) as con:
        spec = funnel.FunnelSpec(by="channel")
        fast = funnel.funnel(con, spec, Filters())
        with patch("analytics.funnel._journey_units_query", return_value=None):
            seconds, exact = timed(lambda: funnel.funnel(con, spec, Filters()))
        same = fast.equals(exact)
        stages = ("lead", "mql", "sql", "won")
        pandas_seconds, by_pandas = timed(lambda: pandas_funnel(con, stages))
        no_windows = funnel.FunnelSpec(stages=stages, windows={s: None for s in stages[1:]})
        by_sql = funnel.funnel(con, no_windows, Filters())["count"].tolist()
    totals = fast.groupby("step")["count"].sum().tolist()
    return [
        (f"funnel from the events (the general path) {seconds:.2f} s; per channel and stage the journey funnel "
         f"{'EQUALS' if same else 'DIFFERS FROM'} it: {totals}"),
        (f"pandas funnel (no windows) {pandas_seconds:.2f} s; counts {'equal' if by_pandas == by_sql else 'DIFFER'}: "
         f"{by_pandas} vs SQL {by_sql}"),
    ]

"""Property tests: the SQL funnel, from the journey table and from the events, against a plain-Python
reference on random small event logs."""

from __future__ import annotations

import calendar
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import replace
from datetime import date, datetime, timedelta
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import journeys
from analytics.durations import Duration
from analytics.filters import Filters
from analytics.funnel import FunnelSpec, _journey_units_query, funnel, funnel_over_time
from tests.analytics.conftest import insert_events, insert_leads

BASE = datetime(2024, 1, 25)  # the logs span Jan 25 - Mar 5, so "1mo" from Jan 29-31 clamps to Feb 29
LEADS = ["L0", "L1", "L2"]  # few leads and few instants: ties and re-entry are common
CHANNELS = [None, "", " ", "ads", "web"]
WINDOWS = [None, Duration(), Duration(seconds=86_400), Duration(seconds=10 * 86_400), Duration(months=1)]
STAGE_LISTS = [("lead", "mql", "sql", "won"), ("lead", "mql", "sql"), ("mql", "sql", "won")]


# The reference: the rules of analytics/funnel.py's docstring, written directly over Python lists.


def add(moment: datetime, duration: Duration) -> datetime:
    """Calendar months (day clamped to the month's end), then exact seconds."""
    month_index = moment.month - 1 + duration.months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day) + timedelta(seconds=duration.seconds)


def clean(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def reference(events, leads, spec: FunnelSpec, filters: Filters, by: str | None) -> dict[tuple[str, int], tuple]:
    """(group, step) -> (units reaching the step, units stuck before it still inside the window)."""
    as_of = filters.as_of_end
    windows = spec.transition_windows
    n_steps = len(spec.stages)
    lead_rows = {lead["lead_id"]: lead for lead in leads}
    unit_of = (
        (lambda lead_id: lead_id)
        if spec.unit == "lead"
        else (lambda lead_id: clean(lead_rows.get(lead_id, {}).get("account_id")))
    )
    seen = defaultdict(list)
    for lead_id, stage, moment, channel in events:
        if moment < as_of and unit_of(lead_id) is not None:
            seen[unit_of(lead_id)].append((moment, stage, channel))
    result: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for unit, unit_events in seen.items():
        steps = [(moment, spec.stages.index(stage) + 1) for moment, stage, _ in unit_events if stage in spec.stages]
        present = {index for _, index in steps}

        def occurrences(step: int) -> list[datetime]:
            implied = spec.mode == "implied" and step not in present
            return [moment for moment, index in steps if index == step or (implied and index > step)]

        if not occurrences(1):
            continue
        entry = min(occurrences(1))
        if (filters.start and entry < filters.start) or (filters.end and entry >= filters.end):
            continue
        reached: dict[int, set[datetime]] = defaultdict(set)

        def walk(step: int, moment: datetime) -> None:  # every path, depth first
            if moment in reached[step]:
                return
            reached[step].add(moment)
            if step < n_steps:
                window = windows[step - 1]
                for later in occurrences(step + 1):
                    if moment <= later and (window is None or later <= add(moment, window)):
                        walk(step + 1, later)

        walk(1, entry)
        furthest = max(step for step in reached if reached[step])
        window = windows[furthest - 1] if furthest < n_steps else None
        still_open = window is not None and max(add(moment, window) for moment in reached[furthest]) >= as_of
        group = first_touch(unit, seen[unit], leads, spec, by) if by else "all"
        if filters.channels and first_touch(unit, seen[unit], leads, spec, "channel") not in filters.channels:
            continue
        for step in range(1, furthest + 1):
            result[group, step][0] += 1
        if still_open:
            result[group, furthest + 1][1] += 1
    return {key: tuple(value) for key, value in result.items()}


def first_touch(unit, unit_events, leads, spec: FunnelSpec, column: str) -> str:
    for _, value in sorted((moment, clean(channel)) for moment, _, channel in unit_events if clean(channel)):
        return value
    key = "lead_id" if spec.unit == "lead" else "account_id"
    own = [lead for lead in leads if clean(lead.get(key)) == unit]
    own.sort(key=lambda lead: (lead.get("created_at") is None, lead.get("created_at") or BASE, lead["lead_id"]))
    return next((clean(lead.get(column)) for lead in own if clean(lead.get(column))), "(none)")


def steps_total(table) -> object:
    """Count and unfinished per step, summed over groups and periods."""
    return table.groupby("step")[["count", "unfinished"]].sum().astype("int64")


# Random logs


moments = st.builds(
    lambda day, hour: BASE + timedelta(days=day, hours=hour), st.integers(0, 40), st.sampled_from([0, 0, 12])
)
event_rows = st.lists(
    st.tuples(
        st.sampled_from(LEADS), st.sampled_from(["lead", "mql", "sql", "won", "visit"]), moments, st.sampled_from(CHANNELS)
    ),
    max_size=20,
)
lead_rows = st.lists(
    st.fixed_dictionaries(
        {
            "lead_id": st.sampled_from(LEADS),
            "channel": st.sampled_from(CHANNELS),
            "account_id": st.sampled_from([None, "", "A", "B"]),
            "created_at": st.one_of(st.none(), moments),
        }
    ),
    max_size=3,
    unique_by=lambda lead: lead["lead_id"],
)
days = st.builds(lambda offset: BASE.date() + timedelta(days=offset), st.integers(-2, 42))


@st.composite
def specs(draw) -> FunnelSpec:
    stages = draw(st.sampled_from(STAGE_LISTS))
    return FunnelSpec(
        stages=stages,
        windows={stage: draw(st.sampled_from(WINDOWS)) for stage in stages[1:]},
        mode=draw(st.sampled_from(["strict", "implied"])),
        unit=draw(st.sampled_from(["lead", "account"])),
    )


filter_sets = st.builds(
    Filters,
    since=st.one_of(st.none(), days),
    until=st.one_of(st.none(), days),
    channels=st.sampled_from([(), ("ads",), ("web", "(none)")]),
    as_of=st.one_of(days, st.just(date(2030, 1, 1))),
)


@pytest.mark.parametrize("path", ["journeys", "events"])
@settings(max_examples=60, deadline=None)
@given(events=event_rows, leads=lead_rows, spec=specs(), filters=filter_sets)
def test_sql_funnel_matches_the_reference_and_groups_add_up(shared_con, path, events, leads, spec, filters):
    con = shared_con
    con.execute("DELETE FROM events; DELETE FROM leads")
    insert_events(con, *events)
    insert_leads(con, *leads)
    journeys.rebuild(con)
    # The journey table answers every lead-unit funnel of these stages; the events answer everything.
    assert (_journey_units_query(con, spec, filters) is not None) == (spec.unit == "lead")
    with patch("analytics.funnel._journey_units_query", return_value=None) if path == "events" else nullcontext():
        total = funnel(con, spec, filters)
        groups = funnel(con, replace(spec, by="channel"), filters)
        over_time = funnel_over_time(con, replace(spec, period="month"), filters)

    for table, by in ((total, None), (groups, "channel")):
        got = {
            (row.group, row.step): (row.count, 0 if row.step == 1 else row.unfinished)
            for row in table.itertuples()
            if row.count or (row.step > 1 and row.unfinished)
        }
        assert got == reference(events, leads, spec, filters, by)
        # Counts never increase along the funnel.
        assert (table.groupby("group")["count"].diff().dropna() <= 0).all()

    # The groups, and the entry periods, add up to the whole funnel.
    whole = steps_total(total)
    assert steps_total(groups).reindex(whole.index, fill_value=0).equals(whole)
    assert steps_total(over_time).reindex(whole.index, fill_value=0).equals(whole)

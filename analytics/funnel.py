"""The funnel engine: how many units reach each stage, per group and per entry period.

The rules are DESIGN.md's "Funnel semantics" and "Contract details"; where those leave room:

- Entry: a unit enters at t1, its earliest first-stage event seen as of the as-of date. The date range
  selects units whose t1 is in [filters.start, filters.end); a unit whose first entry is before the range
  is not an entrant of the range, even if it re-enters inside it. The path always starts at t1.
- Path: step k is reached by an occurrence of stage k at time o when some reachable occurrence r of step
  k-1 has r <= o <= r + window(k) (equal timestamps are in order, the limit itself counts). The unit's
  furthest step is the deepest step with any such path, so re-entry never double counts and the path that
  gets furthest wins (the earliest occurrence is not always the one that gets furthest: an MQL renewed
  in August can reach SQL in September when the January MQL's window has closed).
- Strict mode: only an event of stage k is an occurrence of step k, so a skipped stage stops the unit.
  Implied mode fills in stages a unit has no event of (up to the as-of date): for such a stage every
  event of a later stage is also an occurrence of it, at its own time. A lead with an SQL but no MQL event
  counts as MQL at its SQL time; a unit with no first-stage event enters at its first later-stage event.
  Stages the unit does have are used as recorded, so their dates keep their order and windows (a won
  six months after a recorded SQL is still outside the 5-month window).
- Events after the as-of date do not exist; steps after the range end count.
- Unfinished at step k: units whose furthest step is k-1 and whose window to step k, measured from their
  latest reachable step k-1 time, ends at or after the as-of instant (they could still convert). A
  transition without a window has no maturity: its non-converters count as dropped, none as unfinished;
  give a window (e.g. `mql=30d`) to track it.
- Over time: a period is finished when period end (the first instant of the next period) plus every
  window along the funnel, added in order, is at or before the as-of instant; a transition without a
  window adds nothing. Until then some of its units may still convert.
- Breakdown and the channel / campaign filters use first touch: the first non-empty value (blank counts
  as empty; ties in time broken by the value) among the unit's events up to the as-of date, else the
  leads table (for an account, its earliest-created lead with a value), else "(none)". Lead-only
  attributes (seniority, account_id, keys of leads.attributes) come from the leads table. The filters
  match the same labels, so "(none)" can be selected.
- Account unit: events of leads without an account are left out.

Two ways to the same units. The journey table (`analytics.journeys`: per lead, each funnel stage's
earliest time and, for a repeated stage, all its times; first touch with its time) answers lead-unit
funnels over the funnel stages broken down by a lead column, when it matches the events; everything else
(accounts, other stage names, imported attributes) groups the events, one window pass per step. Both give
the same rows (unit_id, grp, entered_at, reached, last_at, open) because:

- Entry: t1 is the minimum of step 1's times before the as-of instant A, and the minimum of a set is
  before A exactly when some element is: the earliest time, kept in the journey, decides. In implied
  mode without a step-1 event before A, it is the least of the later stages' earliest times before A.
- First touch: the journey keeps the lead's first non-empty value over all its events, (t*, v*). If
  t* < A it is also the first among the events before A; if not, no event before A has a value and
  both ways fall back to the leads table.
- Path, list form: with R1 = {t1} and R_k = {o in step k's times : o < A and some r in R_(k-1) has
  r <= o <= r + window(k)}, R_k is, by induction, exactly the set of step-k occurrences the events path
  marks reachable; reached is the deepest non-empty R_k, last_at is max R_reached, and open says some
  r in R_reached has r + window(reached + 1) >= A (the events path's maximum deadline, the same test).
- Path, plain form (strict mode, each stage of the funnel at most once, i.e. no times lists): R_k is
  empty or {o_k}, and it is {o_k} exactly when R_(k-1) = {o_(k-1)} and o_k < A and o_(k-1) <= o_k <=
  o_(k-1) + window(k). So the unit stops before the first step failing that test, last_at is o_reached,
  and no list is read. Most leads take this form; re-entries and implied mode take the list form.
`tests/analytics/test_funnel_properties.py` checks both ways against a plain-Python reference, and
`tests/analytics/test_journeys.py` checks that every unit gets the same row both ways.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from analytics import journeys
from analytics.durations import Duration, funnel_windows
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.names import label
from analytics.schema import FUNNEL_STAGES
from analytics.sql import quote_ident

Mode = Literal["strict", "implied"]
Unit = Literal["lead", "account"]
Period = Literal["week", "month"]

LEAD_COLUMNS = ("channel", "campaign_id", "seniority", "account_id")
EVENT_COLUMNS = ("channel", "campaign_id")  # lead columns that events carry too: first touch reads them
NONE_GROUP = "(none)"
ALL_GROUP = "all"
COLUMNS = [
    "group", "stage", "step", "count", "dropoff", "rate_from_previous", "rate_from_first",
    "ci_low", "ci_high", "unfinished",
]  # fmt: skip
_PERIOD_LENGTH = {"week": Duration(seconds=7 * 86_400), "month": Duration(months=1)}


@dataclass(frozen=True)
class FunnelSpec:
    """Which funnel to count: stages in order, window overrides keyed by to-stage, and the options."""

    stages: tuple[str, ...] = ("lead", "mql", "sql", "won")
    windows: Mapping[str, Duration | None] = field(default_factory=dict)
    mode: Mode = "strict"
    by: str | None = None
    unit: Unit = "lead"
    period: Period | None = None

    def __post_init__(self) -> None:
        if len(self.stages) < 2 or not all(isinstance(s, str) and s.strip() for s in self.stages):
            raise BadInput(f"a funnel needs at least two named stages, got {list(self.stages)}")
        if len(set(self.stages)) != len(self.stages):
            raise BadInput(f"each stage may appear once in a funnel, got {' -> '.join(self.stages)}")
        for option, value, allowed in (
            ("mode", self.mode, ("strict", "implied")),
            ("unit", self.unit, ("lead", "account")),
            ("period", self.period, ("week", "month", None)),
        ):
            if value not in allowed:
                raise BadInput(f"{option} must be one of {', '.join(map(str, allowed))}, got '{value}'")
        funnel_windows(self.stages, self.windows)

    @property
    def transition_windows(self) -> tuple[Duration | None, ...]:
        """The window into each step 2..K (None: no limit)."""
        return funnel_windows(self.stages, self.windows)


def wilson_interval(successes: ArrayLike, trials: ArrayLike, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of successes / trials, element-wise; NaN where there are no trials."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)  # clip: rounding at 0 and n
    return np.where(n > 0, low, math.nan), np.where(n > 0, high, math.nan)


def funnel(con: duckdb.DuckDBPyConnection, spec: FunnelSpec, filters: Filters) -> pd.DataFrame:
    """Units reaching each stage of `spec`, per group: one row per (group, stage).

    Columns: group ("all" without `by`), stage, step (1-based), count, dropoff (from the step before),
    rate_from_previous, rate_from_first (fractions, NaN without a denominator), ci_low / ci_high (95%
    Wilson interval of rate_from_previous), unfinished. Groups by entrants, largest first.
    """
    table = _step_counts(con, spec, filters, {"grp": "grp"})
    if table.empty and spec.by is None:
        steps = np.arange(1, len(spec.stages) + 1)
        table = pd.DataFrame({"grp": ALL_GROUP, "step": steps, "count": 0, "unfinished": np.where(steps > 1, 0, None)})
    return _with_rates(table, spec, [])[COLUMNS]


def funnel_over_time(con: duckdb.DuckDBPyConnection, spec: FunnelSpec, filters: Filters) -> pd.DataFrame:
    """The funnel per entry period (`spec.period`): `funnel`'s columns after `period`, plus `finished`.

    `period` is the ISO date of the period's first day (weeks start on Monday). `finished` is true once
    period end + the windows along the funnel <= the as-of instant (module docstring); rates of
    unfinished periods can still grow.
    """
    if spec.period is None:
        raise BadInput("conversion over time needs a period: week or month")
    horizon, params = _PERIOD_LENGTH[spec.period].add_sql("date_trunc($period, entered_at)", "period")
    for step, window in enumerate(spec.transition_windows, start=2):
        if window is not None:
            horizon, window_params = window.add_sql(horizon, f"w{step}")
            params |= window_params
    keys = {
        "period": "strftime(date_trunc($period, entered_at), '%Y-%m-%d')",
        "finished": f"{horizon} <= $as_of",
        "grp": "grp",
    }
    table = _step_counts(con, spec, filters, keys, params | {"period": spec.period})
    return _with_rates(table, spec, ["period"])[["period", *COLUMNS, "finished"]]


def dropped_leads(con: duckdb.DuckDBPyConnection, spec: FunnelSpec, filters: Filters, step: int,
                  limit: int | None = None) -> pd.DataFrame:
    """Units that reached step `step` - 1 but not step `step` (1-based), earliest entrants first, for a CSV
    download; only the first `limit` of them when given (a page shows a few: `funnel`'s drop-off and
    unfinished at `step` count them all).

    Columns: lead_id (account_id for the account unit), group, entered_at, last_step_at (the latest time
    it reached step `step` - 1 on a valid path), unfinished (still inside its window to `step`).
    """
    if not 2 <= step <= len(spec.stages):
        raise BadInput(f"step must be between 2 and {len(spec.stages)} for {' -> '.join(spec.stages)}, got {step}")
    units, params = _units_query(con, spec, filters)
    dropped = con.execute(
        f"""
        WITH units AS ({units})
        SELECT unit_id, grp, entered_at, last_at AS last_step_at, open AS unfinished
        FROM units WHERE reached = $previous_step
        ORDER BY entered_at, unit_id{'' if limit is None else ' LIMIT $limit'}
        """,
        params | {"previous_step": step - 1} | ({} if limit is None else {"limit": limit}),
    ).df()
    return dropped.rename(columns={"unit_id": f"{spec.unit}_id", "grp": "group"})


def largest_dropoff(table: pd.DataFrame, spec: FunnelSpec | None = None) -> str:
    """One plain sentence naming the step with the largest drop-off of a `funnel` table (all groups).

    With the table's `spec`, a step without a window says that recent units count as dropped.
    """
    totals = table.groupby("step").agg(stage=("stage", "first"), count=("count", "sum"), open=("unfinished", "sum"))
    if totals.empty or totals["count"].iloc[0] == 0:
        return "No one entered the funnel in this selection."
    drops = totals["count"].shift(1) - totals["count"]
    if drops.max() <= 0:
        return f"Everyone who entered reached {label(totals['stage'].iloc[-1])}: there is no drop-off."
    step = drops.idxmax()
    before, after = totals.loc[step - 1], totals.loc[step]
    drop = int(drops[step])
    sentence = (
        f"The largest drop-off is from {label(before['stage'])} to {label(after['stage'])}: {drop:,} of "
        f"{before['count']:,} ({drop / before['count']:.0%}) did not get to {label(after['stage'])}"
    )
    still_open = int(after["open"])
    sentence = f"{sentence}, {still_open:,} of them still inside their window." if still_open else f"{sentence}."
    if spec is not None and spec.transition_windows[step - 2] is None:
        sentence += (f" {label(before['stage'])} → {label(after['stage'])} has no time limit, so recent units that may still get "
                     "there count as dropped: give it a window to track them.")
    return sentence


def _check_by(con: duckdb.DuckDBPyConnection, by: str) -> None:
    """A breakdown must be a lead column or a key some lead has in `attributes`."""
    if by in LEAD_COLUMNS:
        return
    rows = con.execute("SELECT DISTINCT unnest(map_keys(attributes)) FROM leads ORDER BY 1").fetchall()
    keys = [row[0] for row in rows]
    if by not in keys:
        known = ", ".join([*LEAD_COLUMNS, *keys])
        raise BadInput(f"cannot break the funnel down by '{by}': it is not a lead attribute (known: {known})")


def _attribute_sql(name: str) -> tuple[str | None, str]:
    """(expression over events `e` or None, expression over leads `l`): the cleaned value of `name`."""
    if name in LEAD_COLUMNS:
        column = quote_ident(name)
        from_events = f"NULLIF(TRIM(e.{column}), '')" if name in EVENT_COLUMNS else None
        return from_events, f"NULLIF(TRIM(l.{column}), '')"
    return None, "NULLIF(TRIM(l.attributes[$by_key::VARCHAR]), '')"


def _units_query(con: duckdb.DuckDBPyConnection, spec: FunnelSpec, filters: Filters) -> tuple[str, dict]:
    """SQL with one row per entrant: unit_id, grp, entered_at, reached (furthest step), last_at, open.

    `last_at` is the latest time the unit reached its furthest step; `open` says it is still inside the
    window to the next step at the as-of instant. Read from the journey table where it answers `spec`,
    else from the events (module docstring).
    """
    return _journey_units_query(con, spec, filters) or _event_units_query(con, spec, filters)


def _journey_units_query(
    con: duckdb.DuckDBPyConnection, spec: FunnelSpec, filters: Filters
) -> tuple[str, dict] | None:
    """`_units_query` from the journey table, each row followed by the lead's journey columns
    (`analytics.journeys`); None where the table cannot answer `spec`: an account unit, a stage it does
    not keep, a breakdown by an imported attribute, or a table that does not match the events."""
    if spec.unit != "lead" or not set(spec.stages) <= set(FUNNEL_STAGES) or spec.by not in (None, *LEAD_COLUMNS):
        return None
    if not journeys.is_current(con):
        return None
    n_steps = len(spec.stages)
    params: dict[str, object] = {"as_of": filters.as_of_end}
    windows = dict(enumerate(spec.transition_windows, start=2))  # step -> window into it

    def due(step: int, time_sql: str) -> str:
        """SQL for the deadline to reach `step` from step - 1 at `time_sql`."""
        sql, window_params = windows[step].add_sql(time_sql, f"w{step}")
        params.update(window_params)
        return sql

    first = [quote_ident(f"{stage}_at") for stage in spec.stages]  # each stage's earliest time
    every = [journeys.times_sql(stage) for stage in spec.stages]  # all its times, as a list
    entry = f"CASE WHEN {first[0]} < $as_of THEN {first[0]} END"
    if spec.mode == "implied":  # without a step-1 event, the earliest event of a later step
        later = ", ".join(f"CASE WHEN {t} < $as_of THEN {t} END" for t in first[1:])
        entry = f"CASE WHEN {first[0]} < $as_of THEN {first[0]} ELSE least({later}) END"
    alias = _attribute_aliases(spec, filters)
    labels = "".join(f", coalesce({journeys.attribute_sql(name)}, $none) AS {alias[name]}" for name in alias)
    params |= {"none": NONE_GROUP} if alias else {}
    chosen = ["entered_at IS NOT NULL", *_entry_range(filters, "entered_at", params),
              *_attribute_filters(filters, alias, params)]
    # The plain path serves strict mode for leads with each stage at most once (no times lists).
    simple = " AND ".join(f"{quote_ident(f'{stage}_times')} IS NULL" for stage in spec.stages)
    ctes = [f"""entrants AS (
        SELECT * FROM (
            SELECT lead_id AS unit_id, {entry} AS entered_at, {simple if spec.mode == 'strict' else 'false'} AS simple
                   {labels}, * EXCLUDE (lead_id)
            FROM journeys)
        WHERE {' AND '.join(chosen)})"""]

    # The list path: r_k lists every occurrence of step k that a path from the entry reaches.
    occurrences = list(every)
    if spec.mode == "implied":  # a stage without an event occurs at every event of the later steps
        for k in range(n_steps - 1):
            occurrences[k] = f"CASE WHEN {first[k]} < $as_of THEN {every[k]} ELSE flatten([{', '.join(every[k + 1:])}]) END"
    ctes.append("p1 AS (SELECT *, CASE WHEN NOT simple THEN [entered_at] END AS r1 FROM entrants)")
    for step, window in windows.items():
        within = "r <= o" if window is None else f"r <= o AND o <= {due(step, 'r')}"
        ctes.append(f"""p{step} AS (
            SELECT *, CASE WHEN NOT simple THEN list_filter({occurrences[step - 1]},
                lambda o: o < $as_of AND list_bool_or(list_transform(r{step - 1}, lambda r: {within}))) END AS r{step}
            FROM p{step - 1})""")

    # The plain path: step k is reached when its one time is before the as-of instant, at or after the
    # time of step k-1 and within the window; the unit stops before the first step that is not.
    at = ["entered_at", *first[1:]]  # the time of each step, on the plain path
    stops = " ".join(
        f"WHEN {at[k - 1]} IS NULL OR {at[k - 1]} >= $as_of OR {at[k - 1]} < {at[k - 2]}"
        + (f" OR {at[k - 1]} > {due(k, at[k - 2])}" if windows[k] is not None else "")
        + f" THEN {k - 1}"
        for k in windows
    )
    furthest = " ".join(f"WHEN len(r{k}) > 0 THEN {k}" for k in range(n_steps, 1, -1))
    ctes.append(f"""judged AS (
        SELECT *, CASE WHEN simple THEN CASE {stops} ELSE {n_steps} END ELSE CASE {furthest} ELSE 1 END END AS reached
        FROM p{n_steps})""")
    last_at = " ".join(
        f"WHEN {k} THEN CASE WHEN simple THEN {at[k - 1]} ELSE list_max(r{k}) END" for k in range(1, n_steps + 1)
    )
    is_open = " ".join(
        f"WHEN {k - 1} THEN CASE WHEN simple THEN {due(k, at[k - 2])} >= $as_of "
        f"ELSE list_bool_or(list_transform(r{k - 1}, lambda r: {due(k, 'r')} >= $as_of)) END"
        for k, window in windows.items() if window is not None
    )
    internal = ", ".join(["simple", *alias.values(), *(f"r{k}" for k in range(1, n_steps + 1))])
    sql = f"""
        WITH {', '.join(ctes)}
        SELECT unit_id, {alias[spec.by] if spec.by else f"'{ALL_GROUP}'"} AS grp, entered_at, reached,
               CASE reached {last_at} END AS last_at,
               {f'coalesce(CASE reached {is_open} END, false)' if is_open else 'false'} AS open,
               * EXCLUDE (unit_id, entered_at, reached, {internal})
        FROM judged"""
    return sql, params


def _attribute_aliases(spec: FunnelSpec, filters: Filters) -> dict[str, str]:
    """The attributes a query needs (the breakdown, the filtered ones), each with its column alias."""
    names = dict.fromkeys(
        ([spec.by] if spec.by else [])
        + (["channel"] if filters.channels else [])
        + (["campaign_id"] if filters.campaigns else [])
    )
    return {name: f"a{i}" for i, name in enumerate(names)}


def _entry_range(filters: Filters, entered_sql: str, params: dict[str, object]) -> list[str]:
    """Conditions on the entry time `entered_sql` for the date range; adds their parameters."""
    conditions = []
    if filters.start is not None:
        conditions.append(f"{entered_sql} >= $start")
        params["start"] = filters.start
    if filters.end is not None:
        conditions.append(f"{entered_sql} < $end")
        params["end"] = filters.end
    return conditions


def _attribute_filters(filters: Filters, alias: Mapping[str, str], params: dict[str, object]) -> list[str]:
    """Conditions of the channel and campaign filters on the first-touch columns `alias`; adds their parameters."""
    conditions = []
    if filters.channels:
        conditions.append(f"list_contains($channels, {alias['channel']})")
        params["channels"] = list(filters.channels)
    if filters.campaigns:
        conditions.append(f"list_contains($campaigns, {alias['campaign_id']})")
        params["campaigns"] = list(filters.campaigns)
    return conditions


def _event_units_query(con: duckdb.DuckDBPyConnection, spec: FunnelSpec, filters: Filters) -> tuple[str, dict]:
    """`_units_query` from the events: one window pass per step over every event of the units."""
    if spec.by is not None:
        _check_by(con, spec.by)
    n_steps = len(spec.stages)
    windows = spec.transition_windows
    params: dict[str, object] = {"stages": list(spec.stages), "as_of": filters.as_of_end}

    def occurs(step: int) -> str:
        if spec.mode == "strict":
            return f"idx = {step}"
        return f"(idx = {step} OR (idx > {step} AND present & {1 << step} = 0))"

    alias = _attribute_aliases(spec, filters)
    if spec.by is not None and spec.by not in LEAD_COLUMNS:
        params["by_key"] = spec.by

    if spec.unit == "lead":
        unit_events = "SELECT e.lead_id AS unit_id, e.* FROM events e WHERE e.occurred_at < $as_of"
        unit_leads = "SELECT l.lead_id AS unit_id, l.* FROM leads l"
    else:
        unit_events = """
            SELECT a.account_id AS unit_id, e.* FROM events e
            JOIN (SELECT lead_id, max(NULLIF(TRIM(account_id), '')) AS account_id FROM leads GROUP BY lead_id) a
              ON a.lead_id = e.lead_id AND a.account_id IS NOT NULL
            WHERE e.occurred_at < $as_of"""
        unit_leads = "SELECT NULLIF(TRIM(l.account_id), '') AS unit_id, l.* FROM leads l WHERE unit_id IS NOT NULL"

    # Implied mode: a bit set of the stages each unit has an event of (bit k for step k).
    present = "" if spec.mode == "strict" else ", bit_or(1::BIGINT << idx) OVER (PARTITION BY unit_id) AS present"
    entry_range = ["true", *_entry_range(filters, "min(t)", params)]

    ctes = [
        f"unit_events AS ({unit_events})",
        f"""ev AS (
            SELECT unit_id, occurred_at AS t, list_position($stages, stage) AS idx{present}
            FROM unit_events WHERE list_contains($stages, stage))""",
        f"""entry AS (
            SELECT unit_id, min(t) AS t1 FROM ev WHERE {occurs(1)}
            GROUP BY unit_id HAVING {' AND '.join(entry_range)})""",
    ]
    if alias:
        ctes += _attribute_ctes(list(alias), alias, unit_leads)
        chosen = ["true", *_attribute_filters(filters, alias, params)]
        group = alias[spec.by] if spec.by else f"'{ALL_GROUP}'"
        ctes.append(f"entrants AS (SELECT unit_id, t1, {group} AS grp FROM attrs WHERE {' AND '.join(chosen)})")
    else:
        ctes.append(f"entrants AS (SELECT unit_id, t1, '{ALL_GROUP}' AS grp FROM entry)")

    # One window pass per step: an occurrence reaches step k when a reachable step k-1 at or before it
    # (peers included) has a deadline at or after it.
    ctes.append(f"""s1 AS (
        SELECT ev.*, ({occurs(1)} AND ev.t = en.t1) AS r1
        FROM ev JOIN entrants en USING (unit_id) WHERE ev.t >= en.t1)""")
    deadlines: dict[int, str] = {}  # step k-1 -> its deadline for step k, over column t
    for step, window in enumerate(windows, start=2):
        if window is None:
            reachable = f"bool_or(r{step - 1}) OVER earlier"
        else:
            deadlines[step - 1], window_params = window.add_sql("t", f"w{step}")
            params |= window_params
            reachable = f"t <= max(CASE WHEN r{step - 1} THEN {deadlines[step - 1]} END) OVER earlier"
        ctes.append(f"""s{step} AS (
            SELECT *, coalesce({occurs(step)} AND {reachable}, false) AS r{step} FROM s{step - 1}
            WINDOW earlier AS (PARTITION BY unit_id ORDER BY t RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))""")

    furthest = " ".join(f"WHEN r{k} THEN {k}" for k in range(n_steps, 0, -1))
    lasts = ", ".join(f"max(t) FILTER (WHERE r{k}) AS last{k}" for k in range(1, n_steps + 1))
    dues = "".join(f", max({sql}) FILTER (WHERE r{k}) AS due{k}" for k, sql in deadlines.items())
    ctes.append(f"""steps AS (
        SELECT unit_id, max(CASE {furthest} ELSE 0 END) AS reached, {lasts}{dues}
        FROM s{n_steps} GROUP BY unit_id)""")
    last_at = " ".join(f"WHEN {k} THEN last{k}" for k in range(1, n_steps + 1))
    is_open = " ".join(f"WHEN {k} THEN due{k} >= $as_of" for k in deadlines)
    sql = f"""
        WITH {', '.join(ctes)}
        SELECT steps.unit_id, entrants.grp, entrants.t1 AS entered_at, steps.reached,
               CASE steps.reached {last_at} END AS last_at,
               {f'CASE steps.reached {is_open} ELSE false END' if deadlines else 'false'} AS open
        FROM steps JOIN entrants USING (unit_id)"""
    return sql, params


def _attribute_ctes(attributes: list[str], alias: Mapping[str, str], unit_leads: str) -> list[str]:
    """CTEs `touch`, `lead_values` and `attrs`: each entrant's first-touch value of each attribute, as `alias`.

    Needs the CTEs `unit_events` and `entry`; `unit_leads` selects the leads with their unit_id.
    """
    sources = {name: _attribute_sql(name) for name in attributes}
    touched = [name for name in attributes if sources[name][0] is not None]
    ctes = []
    if touched:
        cleaned = ", ".join(f"{sources[name][0]} AS {alias[name]}" for name in touched)
        firsts = ", ".join(
            f"arg_min({alias[n]}, (occurred_at, {alias[n]})) FILTER (WHERE {alias[n]} IS NOT NULL) AS {alias[n]}"
            for n in touched
        )
        ctes.append(f"""touch AS (
            SELECT unit_id, {firsts}
            FROM (SELECT e.unit_id, e.occurred_at, {cleaned} FROM unit_events e) JOIN entry USING (unit_id)
            GROUP BY unit_id)""")
    cleaned = ", ".join(f"{sources[name][1]} AS {alias[name]}" for name in attributes)
    firsts = ", ".join(
        f"first({alias[n]} ORDER BY created_at NULLS LAST, lead_id) FILTER (WHERE {alias[n]} IS NOT NULL) AS {alias[n]}"
        for n in attributes
    )
    ctes.append(f"""lead_values AS (
        SELECT unit_id, {firsts}
        FROM (SELECT l.unit_id, l.created_at, l.lead_id, {cleaned} FROM ({unit_leads}) l) JOIN entry USING (unit_id)
        GROUP BY unit_id)""")
    values = ", ".join(
        f"coalesce({f'touch.{alias[n]}, ' if n in touched else ''}lead_values.{alias[n]}, '{NONE_GROUP}') AS {alias[n]}"
        for n in attributes
    )
    joins = ("LEFT JOIN touch USING (unit_id) " if touched else "") + "LEFT JOIN lead_values USING (unit_id)"
    ctes.append(f"attrs AS (SELECT entry.unit_id, entry.t1, {values} FROM entry {joins})")
    return ctes


def _step_counts(
    con: duckdb.DuckDBPyConnection,
    spec: FunnelSpec,
    filters: Filters,
    keys: Mapping[str, str],
    extra_params: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """Per `keys` (name -> SQL over the units) and step: count reaching the step, unfinished before it."""
    units, params = _units_query(con, spec, filters)
    names = ", ".join(keys)
    key_sql = ", ".join(f"{sql} AS {name}" for name, sql in keys.items())
    return con.execute(
        f"""
        WITH units AS ({units}),
        per_reached AS (
            SELECT {key_sql}, reached, count(*) AS n, count(*) FILTER (WHERE open) AS n_open
            FROM units GROUP BY ALL)
        SELECT {names}, step,
               coalesce(sum(n) FILTER (WHERE reached >= step), 0) AS count,
               CASE WHEN step > 1 THEN coalesce(sum(n_open) FILTER (WHERE reached = step - 1), 0) END AS unfinished
        FROM per_reached, generate_series(1, $n_steps) AS steps(step)
        GROUP BY {names}, step
        """,
        params | dict(extra_params or {}) | {"n_steps": len(spec.stages)},
    ).df()


def _with_rates(table: pd.DataFrame, spec: FunnelSpec, outer_keys: list[str]) -> pd.DataFrame:
    """Add stage, drop-off, rates and Wilson intervals to step counts; sort groups by entrants."""
    table = table.rename(columns={"grp": "group"}).sort_values([*outer_keys, "group", "step"], ignore_index=True)
    by_group = table.groupby([*outer_keys, "group"], sort=False)["count"]
    previous = by_group.shift(1)
    first = by_group.transform("first")
    low, high = wilson_interval(table["count"], previous.fillna(0))
    table = table.assign(
        stage=table["step"].map(dict(enumerate(spec.stages, start=1))),
        count=table["count"].astype("int64"),
        dropoff=(previous - table["count"]).astype("Int64"),
        rate_from_previous=table["count"] / previous.where(previous > 0),
        rate_from_first=table["count"] / first.where(first > 0),
        ci_low=low,
        ci_high=high,
        unfinished=table["unfinished"].astype("Int64"),
        entrants=first,
    )
    order = [*outer_keys, "entrants", "group", "step"]
    ascending = [True] * len(outer_keys) + [False, True, True]
    return table.sort_values(order, ascending=ascending, ignore_index=True).drop(columns="entrants")

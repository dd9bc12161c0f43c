"""The weekly meeting: one week against the week before, in figures and in a few plain sentences.

The same `week_summary` feeds the Overview page, the presentation slides, `python -m analytics weekly` and the
HTML report, so they always show the same numbers. What the figures mean:

- The week: a calendar week, Monday 00:00 to the next Monday 00:00, named by its ISO week (2026-W46).
  The default is the last complete week: the latest week that ends at or before the as-of instant.
- The as-of date: the given one (default today), or the day of the latest event when the data ends
  earlier (an export from last Tuesday is seen as of last Tuesday, so its last week is not read as empty);
  the end of that day is the instant everything is seen from. The week before is seen from exactly seven
  days earlier, so both weeks have had the same time: a week not over yet is compared with the same days of
  the week before.
- Activity in the week (what a weekly meeting reports): `leads` are the funnel entrants of the week (their
  first `lead` event falls in it: the funnel engine's entry); `mql`, `sql` and `won` count the leads whose
  first event of that stage fell in the week, whenever they entered and whether or not they passed the
  earlier stages (a CRM's "became an MQL date"); `won_value` is the sum of those won events' values;
  `spend` is the campaigns' spend on the days of the week (pro rata for rows spanning several days, as on
  the Channels page); `cost_per_sql` is spend / SQLs of the week.
- Stage rates: each week's entrants at the same age. Lead -> MQL, MQL -> SQL and SQL -> won are the funnel's
  rates from the previous step (strict order, default windows) of the leads that entered in the week, seen
  at the as-of instant, against the leads of the week before seen seven days earlier. Each change has a
  two-proportion test (`abstats.compare_proportions`: z-test, Fisher's exact test for small counts) with
  the three p-values Holm-adjusted; a change is "beyond normal week-to-week noise" when the adjusted
  p-value is below 0.05. The largest change is the largest difference in percentage points among those
  beyond noise, else among all that could be tested.
- Channel and campaign filters select leads by first touch (as everywhere); spend by the campaigns' channel
  and campaign. The entry date range of the filter bar does not apply: the week is the range.
- The channel table: per first-touch channel, the week's entrants and the spend of the week by the campaigns'
  channel (the leads and spend columns `channel_comparison` gives for the week), and the same for the week
  before; a channel with only spend, or only leads, is listed too.
- Experiments have no dates in the warehouse: they are listed with their results as imported; one has
  reached a verdict when a variant differs significantly from control.
- Unfinished cohorts: monthly entry cohorts of the last eighteen months whose leads may still convert (the
  month's end plus the funnel's windows is after the as-of instant, `funnel_over_time`'s `finished`).

`week_summary` is `summary_of` three parts a page caches apart: `week_figures` (the week and the filters),
`experiment_verdicts` (neither) and `recent_cohorts` (the filters and the as-of date, not the week).
`leads_per_week` is the Overview's other chart: the selection's new leads per entry week and channel.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

import duckdb
import pandas as pd

from analytics import abstats, experiments, journeys
from analytics.abstats import Proportion
from analytics.channels import spend_sql
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.funnel import NONE_GROUP, FunnelSpec, _units_query, funnel, funnel_over_time

CURRENCY = "$"  # amounts carry no currency in the warehouse: the sign they are shown with (as on Channels)
ALPHA = 0.05
COHORT_MONTHS = 18
STAGES = ("lead", "mql", "sql", "won")
STAGE_NAMES = {"lead": "Lead", "mql": "MQL", "sql": "SQL", "won": "won"}
KPI_LABELS = {
    "leads": "Leads", "mql": "MQLs", "sql": "SQLs", "won": "Won deals", "won_value": "Won value",
    "spend": "Spend", "cost_per_sql": "Cost per SQL",
}  # fmt: skip
MONEY = ("won_value", "spend", "cost_per_sql")
LOWER_IS_BETTER = ("spend", "cost_per_sql")  # for the colour of a change, never for its sign

_WEEK = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)


# --- weeks --------------------------------------------------------------------------------------


def parse_week(text: str) -> date:
    """The Monday of an ISO week written like 2026-W46 (or 2026W46); BadInput otherwise.

    >>> parse_week("2026-W46")
    datetime.date(2026, 11, 9)
    """
    found = _WEEK.match(str(text))
    if not found:
        raise BadInput(f"'{text}' is not an ISO week like 2026-W46")
    try:
        return date.fromisocalendar(int(found[1]), int(found[2]), 1)
    except ValueError as error:
        raise BadInput(f"'{text}' is not an ISO week: {found[1]} has no week {int(found[2])}") from error


def iso_week(day: date) -> str:
    """The ISO week holding `day`, like 2026-W46.

    >>> iso_week(date(2026, 11, 15))
    '2026-W46'
    """
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_label(monday: date) -> str:
    """'9–15 Nov 2026', '26 Oct – 1 Nov 2026', '29 Dec 2025 – 4 Jan 2026'."""
    sunday = monday + timedelta(days=6)
    if monday.year != sunday.year:
        return f"{monday:%-d %b %Y} – {sunday:%-d %b %Y}"
    if monday.month != sunday.month:
        return f"{monday:%-d %b} – {sunday:%-d %b %Y}"
    return f"{monday:%-d}–{sunday:%-d %b %Y}"


def effective_as_of(con: duckdb.DuckDBPyConnection, as_of: date | None) -> date:
    """The day the figures are seen from: `as_of` (default today), or the latest event's day if earlier."""
    chosen = as_of or date.today()
    last = con.execute("SELECT max(occurred_at) FROM events WHERE occurred_at < ?",
                       [datetime.combine(chosen + timedelta(days=1), time.min)]).fetchone()[0]
    return min(chosen, last.date()) if last is not None else chosen


def last_complete_week(as_of: date) -> date:
    """The Monday of the latest week that ends at or before the end of day `as_of`.

    >>> last_complete_week(date(2026, 10, 31)), last_complete_week(date(2026, 11, 1))
    (datetime.date(2026, 10, 19), datetime.date(2026, 10, 26))
    """
    return monday_of(as_of + timedelta(days=1) - timedelta(days=7))


def available_weeks(con: duckdb.DuckDBPyConnection, as_of: date | None = None) -> list[str]:
    """ISO weeks a summary can be asked for, newest first: from the first lead's week to the last complete one."""
    end = effective_as_of(con, as_of)
    first = con.execute("SELECT min(occurred_at) FROM events WHERE stage = 'lead'").fetchone()[0]
    newest = last_complete_week(end)
    if first is None or first.date() > newest + timedelta(days=6):
        return [iso_week(newest)]
    monday, weeks = newest, []
    while monday >= monday_of(first.date()):
        weeks.append(iso_week(monday))
        monday -= timedelta(days=7)
    return weeks


# --- the result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kpi:
    """One figure of the week and of the week before (None: unknown, e.g. no spend recorded)."""

    key: str
    value: float | None
    previous: float | None

    @property
    def label(self) -> str:
        return KPI_LABELS[self.key]

    @property
    def kind(self) -> Literal["count", "money"]:
        return "money" if self.key in MONEY else "count"

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def change_pct(self) -> float | None:
        """Relative change (0.12 = +12%); None without a previous value above zero."""
        if self.change is None or not self.previous:
            return None
        return self.change / self.previous

    @property
    def text(self) -> str:
        return format_amount(self.value, self.kind)

    @property
    def previous_text(self) -> str:
        return format_amount(self.previous, self.kind)

    @property
    def change_text(self) -> str:
        """'+8 (+16%)', '−$1,200 (−9%)', 'no change', 'n/a'."""
        if self.change is None:
            return "n/a"
        if round(self.change, 2) == 0:
            return "no change"
        sign = "+" if self.change > 0 else "−"
        amount = format_amount(abs(self.change), self.kind)
        if self.change_pct is None:
            return f"{sign}{amount}"
        return f"{sign}{amount} ({sign}{abs(self.change_pct):.0%})"

    @property
    def good(self) -> bool | None:
        """Whether the change is good news (True), bad (False) or neither (None)."""
        if not self.change or round(self.change, 2) == 0:
            return None
        return (self.change < 0) if self.key in LOWER_IS_BETTER else (self.change > 0)

    def record(self) -> dict[str, Any]:
        """The figure for JSON and for the report's data attributes: money to the cent, counts whole."""
        return {"metric": self.key, "label": self.label, "value": _plain(self.value), "previous": _plain(self.previous),
                "change": _plain(self.change),
                "change_pct": None if self.change_pct is None else round(self.change_pct, 4),
                "text": self.text, "previous_text": self.previous_text, "change_text": self.change_text}


@dataclass(frozen=True)
class StageRate:
    """One stage rate of the week's entrants against the week before's at the same age, with its test."""

    from_stage: str
    to_stage: str
    units: int  # entrants of the week that reached from_stage
    converted: int  # ... and to_stage
    previous_units: int
    previous_converted: int
    p_value: float  # Holm-adjusted over the stage rates
    p_value_raw: float
    test: str | None
    reason: str | None  # why there is no test

    @property
    def transition(self) -> str:
        return f"{STAGE_NAMES[self.from_stage]} → {STAGE_NAMES[self.to_stage]}"

    @property
    def rate(self) -> float:
        return self.converted / self.units if self.units else math.nan

    @property
    def previous_rate(self) -> float:
        return self.previous_converted / self.previous_units if self.previous_units else math.nan

    @property
    def diff(self) -> float:
        return self.rate - self.previous_rate

    @property
    def beyond_noise(self) -> bool | None:
        """True when the change is beyond normal week-to-week noise, None when it cannot be tested."""
        return None if math.isnan(self.p_value) else bool(self.p_value < ALPHA)

    def sentence(self, age_days: int) -> str:
        """The change in words, e.g. 'Lead → MQL went from 31% to 22% ...; beyond normal week-to-week noise'."""
        if math.isnan(self.diff):
            return f"{self.transition}: {self.reason or 'nothing to compare'}"
        moved = ("went up" if self.diff > 0 else "went down") if round(self.diff * 100, 1) else "stayed"
        body = (f"{self.transition} {moved} from {_pct(self.previous_rate)} to {_pct(self.rate)} "
                f"({self.previous_converted:,} of {self.previous_units:,}, then {self.converted:,} of {self.units:,}; "
                f"each week's leads {age_days} days after their week began)")
        if self.beyond_noise is None:
            return f"{body}; {(self.reason or 'no test').rstrip('.').lower()}."
        verdict = "beyond" if self.beyond_noise else "within"
        return f"{body}: {verdict} normal week-to-week noise ({abstats.format_p(self.p_value)})."

    def record(self) -> dict[str, Any]:
        return {"transition": self.transition, "from_stage": self.from_stage, "to_stage": self.to_stage,
                "units": self.units, "converted": self.converted, "rate": _nan_none(self.rate),
                "previous_units": self.previous_units, "previous_converted": self.previous_converted,
                "previous_rate": _nan_none(self.previous_rate), "diff": _nan_none(self.diff),
                "p_value": _nan_none(self.p_value), "p_value_raw": _nan_none(self.p_value_raw),
                "test": self.test, "beyond_noise": self.beyond_noise, "reason": self.reason}


@dataclass(frozen=True)
class ExperimentVerdict:
    """An experiment's headline sentence and whether a variant differs significantly from control."""

    experiment: str
    metric: str
    headline: str
    decided: bool


@dataclass(frozen=True, eq=False)
class WeekSummary:
    """Everything the weekly meeting shows about one week (see the module docstring for the definitions)."""

    monday: date
    as_of: date  # the effective as-of date: the end of this day is when the figures are seen from
    complete: bool  # the week ended at or before the as-of instant
    kpis: tuple[Kpi, ...]
    stage_rates: tuple[StageRate, ...]
    largest_change: StageRate | None
    experiments: tuple[ExperimentVerdict, ...]
    cohorts: pd.DataFrame = field(repr=False)  # funnel_over_time by month, the last COHORT_MONTHS entry months
    channels: pd.DataFrame = field(repr=False)  # group, leads, spend, previous_leads, previous_spend
    sentences: tuple[str, ...] = ()
    channel_filter: tuple[str, ...] = ()
    campaign_filter: tuple[str, ...] = ()

    @property
    def week(self) -> str:
        return iso_week(self.monday)

    @property
    def label(self) -> str:
        return week_label(self.monday)

    @property
    def previous_monday(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def age_days(self) -> int:
        """Days from the week's Monday to the end of the as-of day: the age both weeks' leads are compared at."""
        return (self.as_of - self.monday).days + 1

    @property
    def is_empty(self) -> bool:
        return all(not k.value and not k.previous for k in self.kpis)

    def kpi(self, key: str) -> Kpi:
        return next(k for k in self.kpis if k.key == key)

    @property
    def unfinished_cohorts(self) -> list[str]:
        """Entry months (ISO date of the first day) whose leads may still convert, oldest first."""
        if self.cohorts.empty:
            return []
        return sorted(self.cohorts.loc[~self.cohorts["finished"].astype(bool), "period"].unique().tolist())

    def record(self) -> dict[str, Any]:
        """The whole summary as plain JSON-ready values (what `weekly --format json` prints)."""
        return {
            "week": self.week, "monday": self.monday.isoformat(),
            "sunday": (self.monday + timedelta(days=6)).isoformat(), "as_of": self.as_of.isoformat(),
            "complete": self.complete, "channels": list(self.channel_filter), "campaigns": list(self.campaign_filter),
            "kpis": [k.record() for k in self.kpis],
            "stage_rates": [r.record() for r in self.stage_rates],
            "largest_change": None if self.largest_change is None else self.largest_change.record(),
            "experiments": [{"experiment": e.experiment, "metric": e.metric, "decided": e.decided,
                             "headline": e.headline} for e in self.experiments],
            "unfinished_cohorts": self.unfinished_cohorts,
            "sentences": list(self.sentences),
        }  # fmt: skip

    def kpi_table(self) -> pd.DataFrame:
        """One row per KPI: metric, label, value, previous, change, change_pct (for CSV and the terminal)."""
        return pd.DataFrame([{k: r[k] for k in ("metric", "label", "value", "previous", "change", "change_pct")}
                             for r in (k.record() for k in self.kpis)], dtype=object)


# --- formatting ---------------------------------------------------------------------------------


def format_amount(value: float | None, kind: str = "count") -> str:
    """A count as '1,234', money as '$1,234'; 'n/a' for unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if kind == "money":
        return f"{CURRENCY}{value:,.0f}"
    return f"{value:,.0f}"


def _pct(x: float) -> str:
    if math.isnan(x):
        return "n/a"
    return f"{x:.0%}" if x >= 0.1 or x == 0 else f"{x:.1%}"


def _plain(value: float | None) -> float | int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 2) if not float(value).is_integer() else int(value)


def _nan_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


# --- the computation ----------------------------------------------------------------------------


def week_summary(
    con: duckdb.DuckDBPyConnection,
    week: date | str | None = None,
    as_of: date | None = None,
    channels: tuple[str, ...] = (),
    campaigns: tuple[str, ...] = (),
) -> WeekSummary:
    """The week holding `week` (a date in it or an ISO week string; default the last complete week) against
    the week before, seen from `as_of` (default today; capped at the data's last day). See the module docstring.

    A week that starts after the as-of date is BadInput; a week not over at the as-of date is allowed and
    marked `complete=False` (it is compared with the same days of the week before).
    """
    figures = week_figures(con, week, as_of, channels, campaigns)
    return summary_of(figures, experiment_verdicts(con), recent_cohorts(con, figures.as_of, channels, campaigns))


@dataclass(frozen=True, eq=False)
class WeekFigures:
    """The part of a `WeekSummary` that depends on the week: what `week_figures` computes."""

    monday: date
    as_of: date
    complete: bool
    kpis: tuple[Kpi, ...]
    stage_rates: tuple[StageRate, ...]
    largest_change: StageRate | None
    channels: pd.DataFrame = field(repr=False)
    channel_filter: tuple[str, ...] = ()
    campaign_filter: tuple[str, ...] = ()


def week_figures(
    con: duckdb.DuckDBPyConnection,
    week: date | str | None = None,
    as_of: date | None = None,
    channels: tuple[str, ...] = (),
    campaigns: tuple[str, ...] = (),
) -> WeekFigures:
    """`week_summary`'s figures of the week and the week before (KPIs, stage rates, channel table), without
    the experiments and cohorts, which do not depend on the week: a page caches those apart."""
    seen = effective_as_of(con, as_of)
    monday = parse_week(week) if isinstance(week, str) else monday_of(week) if week else last_complete_week(seen)
    if monday > seen:
        raise BadInput(f"the week {iso_week(monday)} starts after the as-of date {seen.isoformat()}"
                       + ("" if seen == (as_of or date.today()) else " (the data ends then)"))
    complete = monday + timedelta(days=7) <= seen + timedelta(days=1)
    channels, campaigns = tuple(channels), tuple(campaigns)
    now = _one_week(con, monday, seen, channels, campaigns)
    before = _one_week(con, monday - timedelta(days=7), seen - timedelta(days=7), channels, campaigns)
    rates = _stage_rates(now["funnel"], before["funnel"])
    return WeekFigures(monday, seen, complete, tuple(Kpi(key, now[key], before[key]) for key in KPI_LABELS), rates,
                       _largest(rates), _channel_table(now["channels"], before["channels"]), channels, campaigns)


def summary_of(figures: WeekFigures, verdicts: tuple[ExperimentVerdict, ...], cohorts: pd.DataFrame) -> WeekSummary:
    """The summary of `figures` with the experiments' verdicts and the cohorts (`recent_cohorts` seen from
    `figures.as_of` with the same filters), and its sentences."""
    summary = WeekSummary(figures.monday, figures.as_of, figures.complete, figures.kpis, figures.stage_rates,
                          figures.largest_change, verdicts, cohorts, figures.channels,
                          channel_filter=figures.channel_filter, campaign_filter=figures.campaign_filter)
    return replace(summary, sentences=tuple(summarise(summary)))


def _one_week(con: duckdb.DuckDBPyConnection, monday: date, as_of: date, channels: tuple[str, ...],
                  campaigns: tuple[str, ...]) -> dict[str, Any]:
    """One week's activity, spend, entrant funnel and channel table, seen at the end of `as_of`.

    The funnel is counted per first-touch channel once: its groups add up to the whole funnel, and their
    entrants are the channel table's leads (as `channel_comparison` counts them, beside the same spend).
    """
    filters = Filters(since=monday, until=monday + timedelta(days=6), channels=channels, campaigns=campaigns,
                      as_of=as_of)
    per_channel = funnel(con, FunnelSpec(stages=STAGES, by="channel"), filters)
    counts = per_channel.groupby("step")["count"].sum().reindex(range(1, len(STAGES) + 1), fill_value=0)
    entrants = pd.DataFrame({"stage": STAGES, "count": counts.to_numpy(dtype="int64")})
    by_channel = _leads_and_spend(con, per_channel, filters)
    spend = by_channel["spend"].sum(min_count=1)
    activity = _activity(con, monday, as_of, channels, campaigns)
    sql = activity["sql"]
    figures: dict[str, Any] = {
        "leads": int(entrants["count"].iloc[0]),
        "mql": activity["mql"], "sql": sql, "won": activity["won"], "won_value": activity["won_value"],
        "spend": None if pd.isna(spend) else round(float(spend), 2),
    }  # fmt: skip
    figures["cost_per_sql"] = (round(figures["spend"] / sql, 2) if figures["spend"] is not None and sql else None)
    return figures | {"funnel": entrants, "channels": by_channel}


def _leads_and_spend(con: duckdb.DuckDBPyConnection, per_channel: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """`channel_comparison`'s group, leads and spend columns, rows in its order: the entrants of the funnel
    `per_channel` and the spend of `filters` per channel, a channel with only one of them included."""
    ctes, params = spend_sql(filters, "channel")
    spend = con.execute(f"WITH {ctes} SELECT grp AS \"group\", round(spend, 2) AS spend FROM spend_side", params).df()
    leads = per_channel.loc[per_channel["step"] == 1, ["group", "count"]].rename(columns={"count": "leads"})
    table = leads.merge(spend, on="group", how="outer")
    table["leads"] = table["leads"].fillna(0).astype("int64")
    table["spend"] = table["spend"].astype("float64")
    return table.sort_values(["leads", "spend", "group"], ascending=[False, False, True], na_position="last",
                             ignore_index=True)


def _activity(con: duckdb.DuckDBPyConnection, monday: date, as_of: date, channels: tuple[str, ...],
              campaigns: tuple[str, ...]) -> dict[str, Any]:
    """Leads whose first MQL, SQL and won event fell in the week (up to the end of `as_of`), and the won value.

    Read from the journey table when it is current: a lead's first event of a stage before the week's end
    falls in the week exactly when its earliest one (`{stage}_at`) does, and `won_value` is that won
    event's value. The channel and campaign filters select the leads of the implied funnel by first touch;
    a lead with a stage event before the as-of instant always enters that funnel, so only its first touch
    decides, as `journeys.attribute_sql` reads it.
    """
    start = datetime.combine(monday, time.min)
    end = min(start + timedelta(days=7), datetime.combine(as_of + timedelta(days=1), time.min))
    params: dict[str, object] = {"start": start, "end": end}
    filters = Filters(channels=channels, campaigns=campaigns, as_of=as_of)
    if journeys.is_current(con):
        chosen = [f"list_contains(${key}, coalesce({journeys.attribute_sql(name)}, $none))"
                  for name, key, values in (("channel", "channels", channels), ("campaign_id", "campaigns", campaigns))
                  if values]
        params |= {"channels": list(channels)} if channels else {}
        params |= {"campaigns": list(campaigns)} if campaigns else {}
        params |= {"as_of": filters.as_of_end, "none": NONE_GROUP} if chosen else {}
        in_week = {stage: f"{stage}_at >= $start AND {stage}_at < $end" for stage in ("mql", "sql", "won")}
        rows = con.execute(
            f"""
            SELECT count(*) FILTER (WHERE {in_week['mql']}), count(*) FILTER (WHERE {in_week['sql']}),
                   count(*) FILTER (WHERE {in_week['won']}), coalesce(sum(won_value) FILTER (WHERE {in_week['won']}), 0)
            FROM journeys WHERE {' AND '.join(chosen) or 'true'}
            """,
            params,
        ).fetchone()
        return {"mql": int(rows[0]), "sql": int(rows[1]), "won": int(rows[2]), "won_value": round(float(rows[3]), 2)}
    chosen = ""
    if channels or campaigns:
        units, unit_params = _units_query(con, FunnelSpec(stages=STAGES, mode="implied"), filters)
        chosen = f"AND lead_id IN (SELECT unit_id FROM ({units}))"
        params |= unit_params
    rows = con.execute(
        f"""
        WITH firsts AS (
            SELECT lead_id, stage, min(occurred_at) AS t, arg_min(value, occurred_at) AS value
            FROM events WHERE stage IN ('mql', 'sql', 'won') AND occurred_at < $end {chosen}
            GROUP BY lead_id, stage)
        SELECT stage, count(*) AS n, coalesce(sum(value), 0) AS value
        FROM firsts WHERE t >= $start GROUP BY stage
        """,
        params,
    ).fetchall()
    found = {stage: (int(n), float(value)) for stage, n, value in rows}
    return {"mql": found.get("mql", (0, 0.0))[0], "sql": found.get("sql", (0, 0.0))[0],
            "won": found.get("won", (0, 0.0))[0], "won_value": round(found.get("won", (0, 0.0))[1], 2)}


def _stage_rates(now: pd.DataFrame, before: pd.DataFrame) -> tuple[StageRate, ...]:
    counts_now = now["count"].astype(int).tolist()
    counts_before = before["count"].astype(int).tolist()
    tests = []
    for k in range(1, len(STAGES)):
        tests.append(abstats.compare_proportions(Proportion(counts_before[k - 1], counts_before[k]),
                                                 Proportion(counts_now[k - 1], counts_now[k]), ALPHA))
    adjusted = abstats.holm([t.p_value for t in tests])
    return tuple(
        StageRate(STAGES[k - 1], STAGES[k], counts_now[k - 1], counts_now[k], counts_before[k - 1], counts_before[k],
                  adjusted[k - 1], tests[k - 1].p_value, tests[k - 1].test,
                  _why_untested(STAGES[k - 1], STAGES[k], counts_before[k - 1:k + 1], counts_now[k - 1:k + 1])
                  if math.isnan(tests[k - 1].p_value) else None)
        for k in range(1, len(STAGES))
    )


def _why_untested(from_stage: str, to_stage: str, before: list[int], now: list[int]) -> str:
    """Why two weeks' stage rates cannot be compared, in the meeting's words (abstats speaks of variants)."""
    reached = STAGE_NAMES[from_stage] if from_stage != "lead" else "entered"
    if min(before[0], now[0]) < 2:
        who = "entered" if from_stage == "lead" else f"reached {reached}"
        return f"Fewer than two leads {who} in one of the weeks, too few to compare"
    if before[1] == now[1] == 0:
        return f"Nobody went on to {STAGE_NAMES[to_stage]} in either week yet, so there is nothing to compare"
    return f"Everybody went on to {STAGE_NAMES[to_stage]} in both weeks, so there is nothing to compare"


def _largest(rates: tuple[StageRate, ...]) -> StageRate | None:
    """The largest change in points among the changes beyond noise, else among all that could be tested."""
    tested = [r for r in rates if r.beyond_noise is not None]
    pool = [r for r in tested if r.beyond_noise] or tested
    return max(pool, key=lambda r: abs(r.diff)) if pool else None


def experiment_verdicts(con: duckdb.DuckDBPyConnection) -> tuple[ExperimentVerdict, ...]:
    """Each experiment's headline on its conversion metric (else its first), decided ones first; they carry
    no dates, so no week or filter changes them."""
    listing = experiments.list_experiments(con)
    verdicts = []
    for name in listing["experiment"].drop_duplicates():
        metrics = sorted({m for row in listing.loc[listing["experiment"] == name, "metrics"] for m in row})
        metric = "conversion" if "conversion" in metrics else metrics[0]
        try:
            results = experiments.experiment_results(con, name, metric)
        except BadInput:
            continue
        decided = bool(results["significant"].fillna(False).astype(bool).any()) if len(results) else False
        verdicts.append(ExperimentVerdict(str(name), metric, experiments.headline(results), decided))
    return tuple(sorted(verdicts, key=lambda v: (not v.decided, v.experiment)))


def recent_cohorts(con: duckdb.DuckDBPyConnection, as_of: date, channels: tuple[str, ...] = (),
                   campaigns: tuple[str, ...] = ()) -> pd.DataFrame:
    """`funnel_over_time` by entry month over the last COHORT_MONTHS months up to `as_of` (an effective as-of
    date, `effective_as_of`): the same for every week seen from that date."""
    first_month = (pd.Timestamp(as_of).to_period("M") - (COHORT_MONTHS - 1)).start_time.date()
    filters = Filters(since=first_month, until=as_of, channels=channels, campaigns=campaigns, as_of=as_of)
    return funnel_over_time(con, FunnelSpec(stages=STAGES, period="month"), filters)


def leads_per_week(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """New leads per week (Monday) and channel: one row per (week, channel), weeks as dates.

    The leads are the funnel's entrants of `filters`, each in the week of its first lead event before the
    as-of instant and in its first-touch channel, so the filters select them as everywhere and the weeks
    add up to the funnel's "New leads". `partial` marks the first week (when the first lead entered after
    its Monday) and the week of the as-of instant: their bars are short because the data covers part of
    them, not because fewer leads came.
    """
    # A funnel has two stages at least: of its units only the entry time and the channel are read.
    units, params = _units_query(con, FunnelSpec(stages=("lead", "mql"), by="channel"), filters)
    return con.execute(
        f"""
        WITH units AS ({units}),
        entries AS (SELECT date_trunc('week', entered_at) AS monday, grp FROM units),
        first_entry AS (SELECT date_trunc('week', min(occurred_at)) AS first_monday, min(occurred_at) AS first_at
                        FROM events WHERE stage = 'lead' AND occurred_at < $as_of)
        SELECT monday::DATE AS week, grp AS channel, count(*) AS leads,
               monday < first_monday + INTERVAL 7 DAY AND first_at > first_monday
               OR monday + INTERVAL 7 DAY > $as_of AS partial
        FROM entries, first_entry GROUP BY ALL ORDER BY week, channel
        """,
        params,
    ).df()


def _channel_table(now: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """New leads and spend per channel in the week and the week before, busiest first."""
    columns = ["group", "leads", "spend"]
    table = now[columns].merge(before[columns], on="group", how="outer", suffixes=("", "_before"))
    table = table.rename(columns={"leads_before": "previous_leads", "spend_before": "previous_spend"})
    table[["leads", "previous_leads"]] = table[["leads", "previous_leads"]].fillna(0).astype(int)
    return table.sort_values(["leads", "spend", "group"], ascending=[False, False, True], ignore_index=True)


# --- the sentences ------------------------------------------------------------------------------


def _versus(kpi: Kpi) -> str:
    return f"week before {kpi.previous_text}"


def _more_or_fewer(kpi: Kpi) -> str:
    if kpi.change is None:
        return ""
    if kpi.change == 0:
        return ", as many as the week before"
    word = "more" if kpi.change > 0 else "fewer"
    if kpi.change_pct is None:
        return f", {abs(kpi.change):,.0f} {word} than the week before ({kpi.previous_text})"
    return f", {abs(kpi.change_pct):.0%} {word} than the week before ({kpi.previous_text})"


def summarise(summary: WeekSummary) -> list[str]:
    """A few plain sentences on the week, in the order a weekly meeting goes through them."""
    k = {kpi.key: kpi for kpi in summary.kpis}
    week_no = summary.monday.isocalendar()[1]
    partial = "" if summary.complete else (f" The week is not over at the as-of date ({summary.as_of:%-d %b}): "
                                           "these are its first days, against the same days of the week before.")
    sentences = [f"Week {week_no} ({summary.label}): {k['leads'].text} new lead{'s' if k['leads'].value != 1 else ''}"
                 f"{_more_or_fewer(k['leads'])}.{partial}"]
    won = k["won"]
    won_words = (f"{won.text} deal{'s' if won.value != 1 else ''} won" +
                 (f", worth {k['won_value'].text}" if won.value else ""))
    sentences.append(f"{k['mql'].text} leads became MQL ({_versus(k['mql'])}), {k['sql'].text} became SQL "
                     f"({_versus(k['sql'])}) and {won_words} ({_versus(won)}"
                     + (f", {k['won_value'].previous_text}" if won.previous else "") + ").")
    spend, cost = k["spend"], k["cost_per_sql"]
    if spend.value is None:
        sentences.append("No spend is recorded for the week, so there is no cost per SQL.")
    else:
        cost_words = (f"an SQL cost {cost.text} ({_versus(cost)})" if cost.value is not None
                      else "with no SQL there is no cost per SQL")
        sentences.append(f"Spend was {spend.text} ({_versus(spend)}); {cost_words}.")
    if summary.largest_change is not None:
        sentences.append("Largest change in a stage rate: " + summary.largest_change.sentence(summary.age_days))
    elif k["leads"].value or k["leads"].previous:
        sentences.append("Too few leads this week and the week before to compare stage rates.")
    decided = [e for e in summary.experiments if e.decided]
    if summary.experiments:
        if decided:
            names = ", ".join(e.experiment for e in decided)
            open_ = len(summary.experiments) - len(decided)
            sentences.append(f"{len(decided)} of {len(summary.experiments)} experiments reached a verdict ({names})"
                             + (f"; {open_} still need{'s' if open_ == 1 else ''} more data." if open_ else "."))
        else:
            sentences.append(f"None of the {len(summary.experiments)} experiments has reached a verdict yet.")
    unfinished = summary.unfinished_cohorts
    if unfinished:
        first = pd.Timestamp(unfinished[0])
        sentences.append(f"Leads that entered since {first:%B %Y} are unfinished cohorts: they can still reach SQL "
                         "and a deal, so their conversion rates will rise; a lower rate there is not a drop.")
    return sentences

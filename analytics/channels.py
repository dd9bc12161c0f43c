"""Channels and campaigns side by side: reach, spend, the funnel they feed and what each step costs.

The rules are DESIGN.md's "Channels and cost"; where it leaves room:

- Cohort: the leads of a group are the funnel engine's entrants of the date range (lead -> MQL -> SQL ->
  won, strict, default windows; first touch decides the group), and their MQL, SQL and won deals count
  whenever they happen up to the as-of date. Spend, impressions and clicks are those of the same range,
  up to the as-of date: a daily row (`date`) counts when its day is in the range; a row spanning
  `start_date`..`end_date` counts pro rata by its days inside the range; a row without any date (a summary
  export) counts only when no range is given, and is named in the group's note otherwise.
- Groups: by channel, `campaigns.channel` on the spend side and the lead's first-touch channel on the
  funnel side; by campaign, `campaign_id` on both. Missing values are "(none)". A group with spend but no
  tracked leads still appears, with zero leads.
- No denominator gives NaN ("n/a"), never 0 or inf: spend with no leads has no cost per lead (and a
  note); zero spend with leads costs 0; a group without any spend rows has unknown spend and no costs.
- `projected_won`: the won deals a group's leads are expected to bring, entrants x the Aalen-Johansen
  estimate of lead -> won from `analytics.time_to_convert` (lost competing, open leads censored), and
  `cost_per_projected_won` = spend / projected_won: a young group's honest cost per deal.
- `unfinished`: the share of the group's leads that have neither won nor been lost by the as-of date
  and can still get further: inside their window to the next stage, or, not yet MQL (a step without a
  window), entered less than the windows along the funnel (6 + 5 months by default) before the as-of
  date, the rule `funnel_over_time` uses for a finished period. Where most leads are unfinished, costs
  per SQL and per won deal will still fall.
- Tests: per step (lead -> MQL, MQL -> SQL, SQL -> won) a chi-square test of independence over the
  groups (no Yates correction) and every pair by `abstats.compare_proportions`, Holm-adjusted within the
  step. Groups with fewer than `small` units at the step's first stage are flagged, not tested or ranked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import combinations
from typing import Any, Literal, NamedTuple

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from analytics import abstats, journeys
from analytics.abstats import Proportion
from analytics.errors import BadInput
from analytics.filters import Filters
from analytics.funnel import (
    NONE_GROUP,
    FunnelSpec,
    _event_units_query,
    _journey_units_query,
)
from analytics.time_to_convert import ConversionSpec, _outcome_times, _shares_in_window

GroupBy = Literal["channel", "campaign"]

SMALL_GROUP = 30
"""Groups with fewer units than this at a step's first stage are flagged, not ranked."""

MOSTLY_OPEN = 0.5
"""A group whose `unfinished` share reaches this has mostly open leads: its later costs will fall."""

STAGES = ("lead", "mql", "sql", "won")
COUNT_COLUMN = {"lead": "leads", "mql": "mql", "sql": "sql", "won": "won"}  # the table's count of each stage
RATIOS = {  # column -> (numerator, denominator)
    "ctr": ("clicks", "impressions"),
    "impression_to_lead": ("leads", "impressions"),
    "lead_to_mql": ("mql", "leads"),
    "mql_to_sql": ("sql", "mql"),
    "sql_to_won": ("won", "sql"),
    "lead_to_sql": ("sql", "leads"),
    "lead_to_won": ("won", "leads"),
    **{f"cost_per_{stage}": ("spend", column) for stage, column in COUNT_COLUMN.items()},
    "unfinished": ("open_leads", "leads"),
    "cost_per_projected_won": ("spend", "projected_won"),
}
STEPS = (("lead", "mql", "Lead → MQL"), ("mql", "sql", "MQL → SQL"), ("sql", "won", "SQL → won"))

COLUMNS = [
    "group", "impressions", "clicks", "spend", "leads", "mql", "sql", "won", "won_value",
    "ctr", "impression_to_lead", "lead_to_mql", "mql_to_sql", "sql_to_won", "lead_to_sql", "lead_to_won",
    "cost_per_lead", "cost_per_mql", "cost_per_sql", "cost_per_won", "projected_won", "cost_per_projected_won",
    "unfinished", "small", "note",
]  # fmt: skip

STEP_COLUMNS = [
    "step", "from_stage", "to_stage", "groups", "chi2", "dof", "p_value", "best", "best_rate", "worst",
    "worst_rate", "p_best_vs_worst", "significant", "small_groups", "sentence",
]  # fmt: skip

PAIR_COLUMNS = ["step", "group_a", "group_b", "rate_a", "rate_b", "diff", "p_value_raw", "p_value", "test", "significant"]


class GroupTests(NamedTuple):
    """Differences between groups: one row per step (`STEP_COLUMNS`) and one per pair and step (`PAIR_COLUMNS`)."""

    steps: pd.DataFrame
    pairs: pd.DataFrame


def channel_comparison(con: duckdb.DuckDBPyConnection, filters: Filters, by: GroupBy = "channel") -> pd.DataFrame:
    """Reach, spend, funnel counts, rates and costs per channel (or campaign): one row per group.

    Columns (`COLUMNS`): group; impressions, clicks, spend in the range; leads, mql, sql, won and
    won_value (the value of the won deals) of the range's leads; ctr (clicks / impressions),
    impression_to_lead, lead_to_mql, mql_to_sql, sql_to_won, lead_to_sql, lead_to_won; cost_per_lead /
    mql / sql / won; unfinished (share of leads still open, see the module docstring); small (fewer than
    `SMALL_GROUP` leads); note (why a figure is n/a or needs care, in words; empty when none). NaN where
    there is no denominator. Groups by leads, then spend, largest first.
    """
    if by not in ("channel", "campaign"):
        raise BadInput(f"compare by channel or campaign, not '{by}'")
    column = "channel" if by == "channel" else "campaign_id"
    spec = FunnelSpec(stages=STAGES, by=column)
    journey = _journey_units_query(con, spec, filters)
    units, params = journey or _event_units_query(con, spec, filters)
    horizon = "entered_at"
    for step, window in enumerate(spec.transition_windows, start=2):
        if window is not None:
            horizon, window_params = window.add_sql(horizon, f"horizon{step}")
            params |= window_params
    can_move = f"(open OR (reached = 1 AND {horizon} > $as_of))"  # unqualified: only units have these columns
    if journey is not None:  # the value of the won deal at last_at, and losses, from the lead's journey
        judged = f"""
            SELECT grp, reached,
                   CASE WHEN reached = 4 THEN CASE WHEN won_times IS NULL THEN won_value
                        ELSE list_sum(list_filter(won_values, lambda v, i: won_times[i] = last_at)) END END AS won_value,
                   reached < 4 AND {journeys.first_from_sql("lost", "entered_at")} IS NULL AND {can_move} AS unfinished
            FROM units"""
    else:
        judged = f"""
            SELECT u.grp, u.reached, w.value AS won_value,
                   u.reached < 4 AND NOT EXISTS (
                       SELECT 1 FROM events e WHERE e.lead_id = u.unit_id AND e.stage = 'lost'
                         AND e.occurred_at >= u.entered_at AND e.occurred_at < $as_of)
                   AND {can_move} AS unfinished
            FROM units u
            LEFT JOIN events w ON u.reached = 4 AND w.lead_id = u.unit_id AND w.stage = 'won' AND w.occurred_at = u.last_at"""

    spend_ctes, spend_params = spend_sql(filters, column)
    table = con.execute(
        f"""
        WITH units AS ({units}),
        judged AS ({judged}),
        funnel_side AS (
            SELECT grp, count(*) AS leads,
                   count(*) FILTER (WHERE reached >= 2) AS mql,
                   count(*) FILTER (WHERE reached >= 3) AS sql,
                   count(*) FILTER (WHERE reached >= 4) AS won,
                   sum(won_value) AS won_value,
                   count(*) FILTER (WHERE unfinished) AS unfinished
            FROM judged GROUP BY grp),
        {spend_ctes}
        SELECT coalesce(f.grp, s.grp) AS "group",
               CAST(round(s.impressions) AS BIGINT) AS impressions, CAST(round(s.clicks) AS BIGINT) AS clicks,
               round(s.spend, 2) AS spend, s.undated_spend,
               coalesce(f.leads, 0) AS leads, coalesce(f.mql, 0) AS mql, coalesce(f.sql, 0) AS sql,
               coalesce(f.won, 0) AS won,
               CASE WHEN coalesce(f.won, 0) = 0 THEN 0 ELSE f.won_value END::DOUBLE AS won_value,
               coalesce(f.unfinished, 0) AS open_leads
        FROM funnel_side f FULL JOIN spend_side s ON f.grp = s.grp
        ORDER BY leads DESC, s.spend DESC NULLS LAST, "group"
        """,
        params | spend_params,
    ).df()
    return _with_rates_and_costs(table.assign(projected_won=_projected_won(con, table, filters, by)))


def total_spend(con: duckdb.DuckDBPyConnection, filters: Filters) -> float | None:
    """The spend of the range (and the channel and campaign filters): the sum of `channel_comparison`'s
    spend column, without reading the leads; None when no campaign row counts."""
    ctes, params = spend_sql(filters, "channel")
    return con.execute(f"WITH {ctes} SELECT sum(round(spend, 2)) FROM spend_side", params).fetchone()[0]


def spend_sql(filters: Filters, column: str) -> tuple[str, dict[str, object]]:
    """CTEs ending in `spend_side`: per `column` value (grp), the range's spend, impressions and clicks
    (a row spanning dates counts pro rata by its days in the range) and the spend of undated rows."""
    where, params = [], {}
    if filters.channels:
        where.append("list_contains($spend_channels, channel)")
        params["spend_channels"] = list(filters.channels)
    if filters.campaigns:
        where.append("list_contains($spend_campaigns, campaign_id)")
        params["spend_campaigns"] = list(filters.campaigns)
    last_day = (filters.as_of_end - pd.Timedelta(microseconds=1)).date()
    params |= {
        "spend_from": filters.since,
        "spend_to": min(filters.until, last_day) if filters.until else last_day,
        "ranged": filters.since is not None or filters.until is not None,
        "none": NONE_GROUP,
    }
    ctes = f"""spend_rows AS (
            SELECT {column} AS grp,
                   coalesce(date, start_date, end_date) AS first_day,
                   greatest(coalesce(date, end_date, start_date), coalesce(date, start_date, end_date)) AS last_day,
                   spend, impressions, clicks
            FROM (SELECT * REPLACE (coalesce(NULLIF(TRIM(channel), ''), $none) AS channel,
                                    coalesce(NULLIF(TRIM(campaign_id), ''), $none) AS campaign_id) FROM campaigns)
            WHERE {' AND '.join(where) or 'true'}),
        shares AS (
            SELECT *, CASE
                WHEN first_day IS NULL THEN CASE WHEN $ranged THEN 0.0 ELSE 1.0 END
                ELSE greatest(0, datediff('day', greatest(first_day, coalesce($spend_from::DATE, first_day)),
                                                 least(last_day, $spend_to::DATE)) + 1)
                     / (datediff('day', first_day, last_day) + 1) END AS share
            FROM spend_rows),
        spend_side AS (
            SELECT grp, sum(spend * share) FILTER (WHERE share > 0) AS spend,
                   sum(impressions * share) FILTER (WHERE share > 0) AS impressions,
                   sum(clicks * share) FILTER (WHERE share > 0) AS clicks,
                   sum(spend) FILTER (WHERE share = 0) AS undated_spend
            FROM shares WHERE share > 0 OR first_day IS NULL GROUP BY grp)"""
    return ctes, params


def _projected_won(con: duckdb.DuckDBPyConnection, table: pd.DataFrame, filters: Filters, by: GroupBy) -> pd.Series:
    """Won deals each group's leads are expected to bring once the open ones have converted or not:
    entrants x the Aalen-Johansen estimate of lead -> won (lost competing, open leads censored)."""
    spec = ConversionSpec("lead", "won", by="channel" if by == "channel" else "campaign_id")
    expected = _shares_in_window(_outcome_times(con, spec, filters))
    projected = (expected["entered"] * expected["p_convert_in_window"].fillna(0)).round(1)
    return table["group"].map(projected).fillna(0.0)


def with_ratios(table: pd.DataFrame, ratios: Mapping[str, tuple[str, str]]) -> pd.DataFrame:
    """`table` with a float column per entry of `ratios` (name -> numerator, denominator column), NaN
    where the denominator is missing or zero: never 0 or inf for want of a denominator."""
    table = table.copy()
    for name, (numerator, denominator) in ratios.items():
        below = table[denominator].astype(float)
        table[name] = table[numerator].astype(float) / below.where(below > 0)
    return table


def _with_rates_and_costs(table: pd.DataFrame) -> pd.DataFrame:
    table = with_ratios(table, RATIOS).assign(small=table["leads"] < SMALL_GROUP)
    table["note"] = [_note(row) for row in table.itertuples(index=False)]
    return table[COLUMNS]


def _note(row: Any) -> str:
    """Why a group's figures are n/a or need care, in plain words."""
    notes = []
    if pd.notna(row.undated_spend):
        notes.append(f"{row.undated_spend:,.2f} of spend has no dates and is left out of the date range.")
    if pd.isna(row.spend):
        notes.append("No spend recorded in the range, so its costs are n/a.")
    elif row.leads == 0 and row.spend > 0:
        notes.append("Spend but no tracked leads, so its cost per lead is n/a.")
    if row.leads and row.unfinished >= MOSTLY_OPEN:
        projected = (f" Counting the {row.projected_won:,.0f} won deals its leads are expected to bring (from how "
                     f"earlier leads converted), a won deal costs {row.cost_per_projected_won:,.0f}."
                     if pd.notna(row.cost_per_projected_won) else "")
        notes.append(f"{row.unfinished:.0%} of its leads are still open: its costs per SQL and won deal will fall."
                     + projected)
    if row.small:
        notes.append(f"Fewer than {SMALL_GROUP} leads: too few to rank.")
    return " ".join(notes)


def compare_groups(table: pd.DataFrame, small: int = SMALL_GROUP, noun: str = "channel",
                   alpha: float = 0.05) -> GroupTests:
    """Whether the groups of a `channel_comparison` table differ at each step of the funnel.

    Per step, over the groups with at least `small` units at its first stage: a chi-square test of
    independence (scipy's `chi2_contingency`, no Yates correction), every pair by
    `abstats.compare_proportions` with Holm-adjusted p-values, the best and the worst group and a
    sentence naming them and whether they differ significantly (`noun` names the groups in it).
    Degenerate steps (fewer than two groups, nobody or everybody converting) have NaN statistics and
    say why in the sentence.
    """
    steps, pairs = [], []
    for from_stage, to_stage, label in STEPS:
        units = table[COUNT_COLUMN[from_stage]].astype(int)
        converted = table[to_stage].astype(int)
        big = units >= small
        tested = pd.DataFrame({"group": table["group"], "units": units, "converted": converted})[big]
        tested = tested.assign(rate=tested["converted"] / tested["units"])
        step_pairs = _pairs(tested, label, alpha)
        pairs.append(step_pairs)
        flagged = table.loc[~big & (units > 0), "group"].tolist()
        steps.append(_step(tested, step_pairs, flagged, from_stage, to_stage, label, small, noun, alpha))
    pair_table = pd.concat(pairs, ignore_index=True) if any(len(p) for p in pairs) else _empty(PAIR_COLUMNS)
    return GroupTests(pd.DataFrame(steps, columns=STEP_COLUMNS), pair_table[PAIR_COLUMNS])


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})


def _pairs(tested: pd.DataFrame, label: str, alpha: float) -> pd.DataFrame:
    """Every pair of tested groups at one step, Holm-adjusted over the step's pairs."""
    rows = []
    for a, b in combinations(tested.itertuples(index=False), 2):
        result = abstats.compare_proportions(Proportion(a.units, a.converted), Proportion(b.units, b.converted), alpha)
        rows.append({"step": label, "group_a": a.group, "group_b": b.group, "rate_a": a.rate, "rate_b": b.rate,
                     "diff": b.rate - a.rate, "p_value_raw": result.p_value, "test": result.test})
    if not rows:
        return _empty(PAIR_COLUMNS)
    pairs = pd.DataFrame(rows)
    pairs["p_value"] = abstats.holm(pairs["p_value_raw"].tolist())
    pairs["significant"] = pairs["p_value"] < alpha
    return pairs[PAIR_COLUMNS]


def _step(tested: pd.DataFrame, pairs: pd.DataFrame, small_groups: list[str], from_stage: str, to_stage: str,
          label: str, small: int, noun: str, alpha: float) -> dict:
    """One step's row of `compare_groups`."""
    row = dict.fromkeys(STEP_COLUMNS, math.nan) | {
        "step": label, "from_stage": from_stage, "to_stage": to_stage, "groups": len(tested),
        "best": None, "worst": None, "significant": None, "small_groups": ", ".join(map(str, small_groups)),
    }  # fmt: skip
    converted, total = int(tested["converted"].sum()), int(tested["units"].sum())
    if len(tested) < 2:
        units = "leads" if from_stage == "lead" else f"{from_stage.upper()}s"
        row["sentence"] = f"{label}: fewer than two {noun}s have {small} or more {units}, so there is nothing to compare."
        return row
    if converted == 0 or converted == total:
        who = f"nobody converted in any {noun}" if converted == 0 else f"everybody converted in every {noun}"
        row["sentence"] = f"{label}: {who}, so there is nothing to compare."
        return row
    result = stats.chi2_contingency(np.column_stack([tested["converted"], tested["units"] - tested["converted"]]),
                                    correction=False)
    best = tested.loc[tested["rate"].idxmax()]
    worst = tested.loc[tested["rate"].idxmin()]
    pair = pairs[((pairs["group_a"] == best["group"]) & (pairs["group_b"] == worst["group"]))
                 | ((pairs["group_a"] == worst["group"]) & (pairs["group_b"] == best["group"]))]
    p_pair = float(pair["p_value"].iloc[0]) if len(pair) else math.nan
    significant = bool(p_pair < alpha)
    verdict = ("significant: too large to be chance" if significant
               else "not significant: it could be chance")
    units = "leads" if from_stage == "lead" else f"{from_stage.upper()}s"
    row |= {
        "chi2": float(result.statistic), "dof": int(result.dof), "p_value": float(result.pvalue),
        "best": best["group"], "best_rate": float(best["rate"]), "worst": worst["group"],
        "worst_rate": float(worst["rate"]), "p_best_vs_worst": p_pair, "significant": significant,
        "sentence": (
            f"{label}: {best['group']} converts best ({best['rate']:.1%} of {best['units']:,} {units}) and "
            f"{worst['group']} worst ({worst['rate']:.1%} of {worst['units']:,}); the difference is {verdict}."
        ),
    }  # fmt: skip
    return row

"""Message campaigns (email, SMS, push, messenger) and the nurture touches leads get before sales.

Sends (DESIGN.md, "Data model"): one row per campaign, variant and send time with its counts. Choices:

- Which sends: the date range selects sends by `sent_at`; sends after the as-of date do not exist yet;
  the campaign filter matches `campaign_id`. The channel filter does not apply: a send has a medium, not
  a channel. A send without a time counts only when no range is given.
- Rates: delivery rate = delivered / sent; open, click, conversion and unsubscribe rates are over
  delivered, or over sent where delivery is not tracked (a file of response flags: its conversion rate
  is the acceptance rate); click-to-open = clicked / opened. No denominator gives NaN, never 0.
- A campaign's period runs from its first send to `period_days` (7) after its last. Its share of leads
  is its conversions over the leads that entered the funnel (their first `lead` event) in that period;
  its share of conversions is over the conversions of every send in that period, all campaigns.
- Touches are events whose stage is not a funnel stage (lead, mql, sql, won, lost). A lead becomes SQL
  at its first `sql` event after entry, counted only if it reaches SQL in the funnel lead -> MQL -> SQL
  (strict, default window); its touches are those strictly before that moment. Seniority and the
  filters follow the funnel engine (lead attribute; first-touch channel and campaign).
"""

from __future__ import annotations

import math

import duckdb
import pandas as pd

from analytics import abstats, journeys
from analytics.abstats import Proportion
from analytics.channels import with_ratios
from analytics.filters import Filters
from analytics.funnel import NONE_GROUP, FunnelSpec, _journey_units_query, _units_query
from analytics.schema import FUNNEL_STAGES

COUNTS = ["sent", "delivered", "opened", "clicked", "converted", "unsubscribed"]
RATES = {  # rate column -> (numerator, denominator)
    "delivery_rate": ("delivered", "sent"),
    "open_rate": ("opened", "reached"),
    "click_rate": ("clicked", "reached"),
    "click_to_open_rate": ("clicked", "opened"),
    "conversion_rate": ("converted", "reached"),
    "unsubscribe_rate": ("unsubscribed", "reached"),
}
SHARES = {"share_of_leads": ("converted", "leads_in_period"), "share_of_conversions": ("converted", "conversions_in_period")}
CAMPAIGN_COLUMNS = [
    "campaign_id", "variant", "medium", "first_sent_at", "sends", *COUNTS, *RATES,
    "period_start", "period_end", "leads_in_period", "share_of_leads", "share_of_conversions",
]  # fmt: skip
VARIANT_COLUMNS = [
    "medium", "variant", "is_control", "sends", "delivered", "clicked", "converted", "click_rate",
    "conversion_rate", "click_p_value", "conversion_p_value", "best_click_rate", "best_conversion_rate",
]  # fmt: skip
SENIORITY_ORDER = ("staff", "manager", "head", "executive")
MESSAGE_SENT = "email_sent"  # a message marketing sent: its own action, not a touch of the lead
SENIOR_TOUCHES = 7  # senior buyers are said to need 7-10 touches before they talk to sales
_SUMS = ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in COUNTS)


def _sends_sql(filters: Filters, campaign: str | None = None) -> tuple[str, dict]:
    """SQL of the sends a view covers (variant and medium cleaned, "(none)" when empty), with its parameters."""
    where = ["(sent_at IS NULL OR sent_at < $as_of)"]
    params: dict[str, object] = {"as_of": filters.as_of_end, "none": NONE_GROUP}
    if filters.start is not None:
        where.append("sent_at >= $start")
        params["start"] = filters.start
    if filters.end is not None:
        where.append("sent_at < $end")
        params["end"] = filters.end
    if filters.campaigns:
        where.append("list_contains($campaigns, campaign_id)")
        params["campaigns"] = list(filters.campaigns)
    if campaign is not None:
        where.append("campaign_id = $campaign")
        params["campaign"] = campaign
    sql = f"""
        SELECT * REPLACE (coalesce(NULLIF(TRIM(variant), ''), $none) AS variant,
                          coalesce(NULLIF(TRIM(medium), ''), $none) AS medium)
        FROM sends WHERE {' AND '.join(where)}"""
    return sql, params


def _with_rates(table: pd.DataFrame, rates: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """`with_ratios` over `reached`: delivered messages, or sent ones where delivery is not tracked."""
    reached = table["delivered"].fillna(table["sent"]) if "sent" in table else table["delivered"]
    return with_ratios(table.assign(reached=reached), rates)


def _entries_sql(con: duckdb.DuckDBPyConnection) -> str:
    """SQL of the leads that entered the funnel before `$as_of` with that time (lead_id, t: the first `lead`
    event): from the journey table when it is current, whose `lead_at` is that event (one row per lead
    instead of a pass over every event), else from the events."""
    if journeys.is_current(con):
        return "SELECT lead_id, lead_at AS t FROM journeys WHERE lead_at < $as_of"
    return "SELECT lead_id, min(occurred_at) AS t FROM events WHERE stage = 'lead' AND occurred_at < $as_of GROUP BY lead_id"


def message_campaigns(con: duckdb.DuckDBPyConnection, filters: Filters, period_days: int = 7) -> pd.DataFrame:
    """Counts and rates per message campaign and variant: one row each, in order of first send.

    Columns (`CAMPAIGN_COLUMNS`): campaign_id, variant ("(none)" without one), medium (several joined by
    ", "), first_sent_at, sends (rows), sent, delivered, opened, clicked, converted, unsubscribed, the
    `RATES`, period_start / period_end (the campaign's period), leads_in_period, share_of_leads and
    share_of_conversions (module docstring).
    """
    sends, params = _sends_sql(filters)
    table = con.execute(
        f"""
        WITH chosen AS ({sends}),
        periods AS (
            SELECT campaign_id, min(sent_at) AS period_start, max(sent_at) + to_days($period_days) AS period_end
            FROM chosen GROUP BY campaign_id),
        entries AS ({_entries_sql(con)}),
        edges AS (  -- the entries before each period's start and end, counted in one sort of the entry times
            SELECT campaign_id, edge, sum(is_entry) OVER (
                       ORDER BY t, is_entry ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS entered_before
            FROM (SELECT period_start AS t, 0 AS is_entry, campaign_id, 'start' AS edge
                  FROM periods WHERE period_start IS NOT NULL
                  UNION ALL SELECT period_end, 0, campaign_id, 'end' FROM periods WHERE period_start IS NOT NULL
                  UNION ALL SELECT t, 1, NULL, NULL FROM entries)),
        period_leads AS (  -- entered at or after the start and before the end
            SELECT campaign_id, CAST(max(entered_before) FILTER (WHERE edge = 'end')
                                     - max(entered_before) FILTER (WHERE edge = 'start') AS BIGINT) AS leads_in_period
            FROM edges WHERE edge IS NOT NULL GROUP BY campaign_id),
        period_conversions AS (
            SELECT p.campaign_id, sum(s.converted) AS conversions_in_period
            FROM periods p JOIN sends s ON s.sent_at >= p.period_start AND s.sent_at < p.period_end
                                       AND s.sent_at < $as_of
            GROUP BY p.campaign_id),
        per_variant AS (
            SELECT campaign_id, variant, string_agg(DISTINCT medium, ', ' ORDER BY medium) AS medium,
                   min(sent_at) AS first_sent_at, count(*) AS sends, {_SUMS}
            FROM chosen GROUP BY campaign_id, variant)
        SELECT v.*, p.period_start, p.period_end, l.leads_in_period, c.conversions_in_period
        FROM per_variant v JOIN periods p USING (campaign_id)
        LEFT JOIN period_leads l USING (campaign_id) LEFT JOIN period_conversions c USING (campaign_id)
        ORDER BY v.first_sent_at NULLS LAST, v.campaign_id, v.variant
        """,
        params | {"period_days": period_days},
    ).df()
    return _with_rates(table, RATES | SHARES)[CAMPAIGN_COLUMNS]


def send_times(con: duckdb.DuckDBPyConnection, filters: Filters, medium: str | None = None) -> pd.DataFrame:
    """Results by send weekday and hour: one row per (weekday, hour), all 7 x 24, empty cells NaN.

    Columns: weekday (1 = Monday ... 7 = Sunday), day ("Mon" ...), hour (0-23), sends, the counts and
    the `RATES`. `medium` narrows to one medium (None: all).
    """
    sends, params = _sends_sql(filters)
    if medium is not None:
        params["medium"] = medium
    table = con.execute(
        f"""
        WITH chosen AS ({sends}),
        cells AS (
            SELECT isodow(sent_at) AS weekday, hour(sent_at) AS hour, count(*) AS sends, {_SUMS}
            FROM chosen WHERE sent_at IS NOT NULL {'AND medium = $medium' if medium is not None else ''}
            GROUP BY ALL)
        SELECT d.weekday, ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][d.weekday] AS day, h.hour,
               coalesce(c.sends, 0) AS sends, c.* EXCLUDE (weekday, hour, sends)
        FROM range(1, 8) d(weekday) CROSS JOIN range(0, 24) h(hour)
        LEFT JOIN cells c ON c.weekday = d.weekday AND c.hour = h.hour
        ORDER BY d.weekday, h.hour
        """,
        params,
    ).df()
    return _with_rates(table, RATES).drop(columns="reached")


def variant_comparison(con: duckdb.DuckDBPyConnection, filters: Filters, campaign: str | None = None) -> pd.DataFrame:
    """Click and conversion rates per variant, pooled over the campaigns of each medium (or of one
    `campaign`): one row per (medium, variant), for media with at least two named variants.

    Columns (`VARIANT_COLUMNS`): medium, variant, is_control (`abstats.default_control`), sends,
    delivered, clicked, converted, click_rate and conversion_rate (over delivered), click_p_value and
    conversion_p_value against control (Holm-adjusted with more than two variants; NaN for control),
    best_click_rate and best_conversion_rate (the highest rate of its medium).
    """
    sends, params = _sends_sql(filters, campaign)
    table = con.execute(
        f"""
        WITH chosen AS ({sends}),
        per_variant AS (
            SELECT medium, variant, count(*) AS sends,
                   CAST(sum(delivered) AS BIGINT) AS delivered, CAST(sum(clicked) AS BIGINT) AS clicked,
                   CAST(sum(converted) AS BIGINT) AS converted
            FROM chosen WHERE variant <> $none GROUP BY ALL)
        SELECT * FROM per_variant
        WHERE medium IN (SELECT medium FROM per_variant GROUP BY medium HAVING count(*) >= 2)
        ORDER BY medium, variant
        """,
        params,
    ).df()
    parts = [_compare_variants(part) for _, part in table.groupby("medium", sort=True)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in VARIANT_COLUMNS})
    return pd.concat(parts, ignore_index=True)[VARIANT_COLUMNS]


def _compare_variants(part: pd.DataFrame) -> pd.DataFrame:
    """One medium's variants against control on click and conversion rate."""
    part = _with_rates(part.reset_index(drop=True), {name: RATES[name] for name in ("click_rate", "conversion_rate")})
    control = abstats.default_control(part["variant"].tolist())
    part["is_control"] = part["variant"] == control
    for metric in ("clicked", "converted"):
        name = "click" if metric == "clicked" else "conversion"
        counted = part[["delivered", metric]].notna().all(axis=1) & (part[metric] <= part["delivered"])
        p_values = dict.fromkeys(part["variant"], math.nan)
        if counted.all():
            groups = {v: Proportion(int(d), int(c)) for v, d, c in zip(part["variant"], part["delivered"], part[metric])}
            p_values |= {v: r.p_value for v, r in abstats.compare_many(groups, control).comparisons.items()}
        part[f"{name}_p_value"] = part["variant"].map(p_values)
        rates = part[f"{name}_rate"]
        part[f"best_{name}_rate"] = rates.notna() & (rates == rates.max())
    return part


def variant_verdicts(table: pd.DataFrame) -> list[str]:
    """One sentence per medium of a `variant_comparison` table: which variant clicks best and which
    converts best, saying so plainly when they differ (two-proportion test between those two)."""
    sentences = []
    for medium, part in table.groupby("medium", sort=True):
        if part["click_rate"].isna().all() or part["conversion_rate"].isna().all():
            sentences.append(f"For {medium}, no delivered messages to compare yet.")
            continue
        clicks = part.loc[part["click_rate"].idxmax()]
        converts = part.loc[part["conversion_rate"].idxmax()]
        if clicks["variant"] == converts["variant"]:
            sentences.append(
                f"For {medium}, variant {clicks['variant']} has both the best click rate ({clicks['click_rate']:.2%}) "
                f"and the best conversion rate ({clicks['conversion_rate']:.2%}).")
            continue
        click_test = abstats.compare_proportions(Proportion(int(converts["delivered"]), int(converts["clicked"])),
                                                 Proportion(int(clicks["delivered"]), int(clicks["clicked"])))
        convert_test = abstats.compare_proportions(Proportion(int(clicks["delivered"]), int(clicks["converted"])),
                                                   Proportion(int(converts["delivered"]), int(converts["converted"])))
        sentences.append(
            f"For {medium}, variant {clicks['variant']} has the best click rate ({clicks['click_rate']:.2%} vs "
            f"{converts['click_rate']:.2%}, {abstats.format_p(click_test.p_value)}) but variant "
            f"{converts['variant']} converts best ({converts['conversion_rate']:.2%} vs "
            f"{clicks['conversion_rate']:.2%}, {abstats.format_p(convert_test.p_value)}): more clicks did not "
            "bring more conversions, so judge it by conversions.")
    return sentences



def _sql_leads_sql(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[str, dict]:
    """SQL with the entrants (unit_id, seniority, reached_sql) and, for those that reached SQL, sql_at: their
    first `sql` event at or after entry and before the as-of instant. Read from the entrants' journey columns
    when the journey table answers (`journeys.first_from_sql` is that time exactly), else from the events."""
    spec = FunnelSpec(stages=("lead", "mql", "sql"), by="seniority")
    params = {"not_touches": [*FUNNEL_STAGES, MESSAGE_SENT]}
    entrant_journeys = _journey_units_query(con, spec, filters)
    if entrant_journeys is not None:
        units, unit_params = entrant_journeys
        sql = f"""
        SELECT unit_id, grp AS seniority, reached = 3 AS reached_sql,
               CASE WHEN reached = 3 THEN {journeys.first_from_sql("sql", "entered_at")} END AS sql_at
        FROM ({units})"""
        return sql, unit_params | params
    units, unit_params = _units_query(con, spec, filters)
    sql = f"""
        WITH units AS ({units})
        SELECT u.unit_id, u.grp AS seniority, u.reached = 3 AS reached_sql,
               (SELECT min(e.occurred_at) FROM events e
                WHERE e.lead_id = u.unit_id AND e.stage = 'sql' AND e.occurred_at >= u.entered_at
                  AND e.occurred_at < $as_of AND u.reached = 3) AS sql_at
        FROM units u"""
    return sql, unit_params | params


def touches_before_sql(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Nurture touches before becoming SQL, per seniority (staff, manager, head, executive, others).

    Columns: seniority, leads (entrants), sql_leads, sql_rate, then over the SQL leads: mean_touches,
    p25, median, p75, p90 (touch counts, interpolated) and share_7_plus (share with 7 or more touches).
    """
    leads, params = _sql_leads_sql(con, filters)
    return con.execute(
        f"""
        WITH leads AS ({leads}),
        touched AS (  -- only SQL leads have touches before SQL: the others are no part of the join
            SELECT l.unit_id, count(*) AS touches
            FROM leads l JOIN events e
              ON e.lead_id = l.unit_id AND e.occurred_at < l.sql_at AND NOT list_contains($not_touches, e.stage)
            WHERE l.reached_sql GROUP BY l.unit_id),
        counted AS (
            SELECT l.unit_id, l.seniority, l.reached_sql, coalesce(t.touches, 0) AS touches
            FROM leads l LEFT JOIN touched t USING (unit_id))
        SELECT seniority, count(*) AS leads, count(*) FILTER (WHERE reached_sql) AS sql_leads,
               count(*) FILTER (WHERE reached_sql) / count(*) AS sql_rate,
               avg(touches) FILTER (WHERE reached_sql) AS mean_touches,
               quantile_cont(touches, 0.25) FILTER (WHERE reached_sql) AS p25,
               quantile_cont(touches, 0.5) FILTER (WHERE reached_sql) AS median,
               quantile_cont(touches, 0.75) FILTER (WHERE reached_sql) AS p75,
               quantile_cont(touches, 0.9) FILTER (WHERE reached_sql) AS p90,
               (count(*) FILTER (WHERE reached_sql AND touches >= $senior))
                   / nullif(count(*) FILTER (WHERE reached_sql), 0) AS share_7_plus
        FROM counted GROUP BY seniority
        ORDER BY coalesce(list_position($order, seniority), 99), seniority = $none, seniority
        """,
        params | {"senior": SENIOR_TOUCHES, "order": list(SENIORITY_ORDER), "none": NONE_GROUP},
    ).df()


def touch_types_before_sql(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Which touch types precede SQL most often: one row per touch type, most frequent last touch first.

    Columns: touch, sql_leads (SQL leads with this touch before SQL), share_of_sql_leads, touches (all
    of this type before SQL), last_touch (SQL leads whose last touch before SQL was this type; of touches
    at the same instant, the alphabetically last) and last_touch_share.
    """
    leads, params = _sql_leads_sql(con, filters)
    return con.execute(
        f"""
        WITH leads AS ({leads}),
        sql_leads AS (SELECT * FROM leads WHERE reached_sql),
        touches AS (
            SELECT l.unit_id, e.stage AS touch, e.occurred_at
            FROM sql_leads l JOIN events e
              ON e.lead_id = l.unit_id AND e.occurred_at < l.sql_at AND NOT list_contains($not_touches, e.stage)),
        last_touches AS (
            SELECT unit_id, arg_max(touch, (occurred_at, touch)) AS touch FROM touches GROUP BY unit_id),
        per_type AS (
            SELECT touch, count(DISTINCT unit_id) AS sql_leads, count(*) AS touches FROM touches GROUP BY touch),
        per_last AS (SELECT touch, count(*) AS last_touch FROM last_touches GROUP BY touch),
        total AS (SELECT count(*) AS n FROM sql_leads)
        SELECT p.touch, p.sql_leads, p.sql_leads / total.n AS share_of_sql_leads, p.touches,
               coalesce(l.last_touch, 0) AS last_touch, coalesce(l.last_touch, 0) / total.n AS last_touch_share
        FROM per_type p LEFT JOIN per_last l USING (touch) CROSS JOIN total
        ORDER BY last_touch DESC, p.sql_leads DESC, p.touch
        """,
        params,
    ).df()

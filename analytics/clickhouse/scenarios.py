"""Every analytics call the command line and the pages make, on a fixed as-of date: what the parity
tests run on both engines and what the golden translations are captured from.

Each scenario takes a connection (DuckDB's or `ClickHouseConnection`) and returns what the analytics
function returns. The options cover each branch that changes the SQL (breakdowns, filters, modes,
periods, units); the demo warehouse's names (channels, campaigns, experiments) are used as filters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from analytics import (
    campaigns,
    channels,
    experiments,
    imports,
    scoring,
    sequences,
    summary,
    time_to_convert,
    weekly,
)
from analytics.cohorts import cohorts
from analytics.durations import Duration
from analytics.filters import Filters
from analytics.funnel import FunnelSpec, dropped_leads, funnel, funnel_over_time
from analytics.time_to_convert import ConversionSpec

AS_OF = date(2026, 11, 1)
ALL = Filters(as_of=AS_OF)
RANGE = Filters(since=date(2026, 1, 1), until=date(2026, 6, 30), as_of=AS_OF)
CHOSEN = Filters(channels=("display", "webinar", "(none)"), campaigns=("DIS-2026Q2", "WEB-2026Q2"), as_of=AS_OF)
WON = ConversionSpec("lead", "won", by="channel")
RULES = scoring.DEFAULT_RULES
DECAYING = replace(RULES, half_life_days=90)

Scenario = Callable[[Any], object]


def _each_sequence(con: Any, filters: Filters, analysis: Callable[[Any, Filters, str], object]) -> list[object]:
    """`analysis` of every sequence in the data (the page's choice list), in its order."""
    return [analysis(con, filters, name) for name in sequences.list_sequences(con, filters)["sequence"]]

SCENARIOS: dict[str, Scenario] = {
    # funnel
    "funnel": lambda con: funnel(con, FunnelSpec(), ALL),
    "funnel --by channel --since --until": lambda con: funnel(con, FunnelSpec(by="channel"), RANGE),
    "funnel --by company_size --mode implied": lambda con: funnel(con, FunnelSpec(by="company_size", mode="implied"), ALL),
    "funnel --unit account --window mql=30d": lambda con: funnel(
        con, FunnelSpec(unit="account", windows={"mql": Duration(seconds=30 * 86_400)}), ALL),
    "funnel --channel --campaign": lambda con: funnel(con, FunnelSpec(by="campaign_id"), CHOSEN),
    "funnel --period month": lambda con: funnel_over_time(con, FunnelSpec(period="month"), ALL),
    "funnel --period week --by seniority": lambda con: funnel_over_time(
        con, FunnelSpec(period="week", by="seniority"), RANGE),
    "dropped leads at sql": lambda con: dropped_leads(con, FunnelSpec(), ALL, 3),
    # time to convert
    "time-to-convert mql sql": lambda con: time_to_convert.time_to_convert(con, ConversionSpec("mql", "sql"), ALL),
    "time-to-convert lead won --by channel": lambda con: time_to_convert.time_to_convert(con, WON, RANGE),
    "time-to-convert sql won --window none": lambda con: time_to_convert.time_to_convert(
        con, ConversionSpec("sql", "won", window=None), CHOSEN),
    "conversion curves": lambda con: time_to_convert.conversion_curves(con, WON, ALL),
    "conversion histogram": lambda con: time_to_convert.conversion_histogram(con, ConversionSpec("mql", "sql"), ALL),
    "compare groups": lambda con: time_to_convert.compare_groups(con, WON, ALL),
    "conversion report": lambda con: time_to_convert.conversion_report(con, WON, RANGE),
    # cohorts
    "cohorts --period month": lambda con: cohorts(con, ConversionSpec("mql", "sql"), ALL, "month"),
    "cohorts --period week": lambda con: cohorts(con, ConversionSpec("lead", "mql"), RANGE, "week"),
    # channels
    "channels": lambda con: channels.channel_comparison(con, ALL),
    "channels --by campaign --since --until": lambda con: channels.channel_comparison(con, RANGE, by="campaign"),
    "channels --channel --campaign": lambda con: channels.channel_comparison(con, CHOSEN),
    # message campaigns and touches
    "campaigns": lambda con: campaigns.message_campaigns(con, ALL),
    "campaigns --since --until --campaign": lambda con: campaigns.message_campaigns(con, RANGE),
    "send times": lambda con: campaigns.send_times(con, ALL, medium="email"),
    "variant comparison": lambda con: campaigns.variant_comparison(con, ALL),
    "touches before sql": lambda con: campaigns.touches_before_sql(con, ALL),
    "touch types before sql": lambda con: campaigns.touch_types_before_sql(con, RANGE),
    # experiments
    "list experiments": experiments.list_experiments,
    "abtest pricing-page-cta": lambda con: experiments.experiment_results(con, "pricing-page-cta"),
    "abtest nurture-sequence (per unit)": lambda con: experiments.experiment_results(con, "nurture-sequence"),
    # lead scoring
    "score": lambda con: scoring.scores(con, RULES, ALL),
    "score half-life 90 days --since --until": lambda con: scoring.scores(con, DECAYING, RANGE),
    "sales-ready list": lambda con: scoring.sales_ready_list(con, RULES, CHOSEN),
    "score-check": lambda con: scoring.score_check(con, RULES, ALL),
    "score-check --to won --score-at 14 --within 90": lambda con: scoring.score_check(con, DECAYING, ALL, "won", 14, 90),
    # nurture sequences
    "list sequences": lambda con: sequences.list_sequences(con, ALL),
    "sequence steps": lambda con: _each_sequence(con, ALL, sequences.sequence_steps),
    "sequence steps --days 7 --channel": lambda con: _each_sequence(
        con, CHOSEN, lambda c, f, name: sequences.sequence_steps(c, f, name, days=7)),
    "sequence exits": lambda con: _each_sequence(con, ALL, sequences.sequence_exits),
    "sequence report --channel": lambda con: _each_sequence(con, CHOSEN, sequences.sequence_report),
    "messages before sql": lambda con: sequences.messages_before_sql(con, RANGE),
    # weekly meeting
    "weekly": lambda con: weekly.week_summary(con, None, AS_OF, (), ()),
    "weekly --channel": lambda con: weekly.week_summary(con, None, AS_OF, ("display", "webinar"), ()),
    "available weeks": lambda con: weekly.available_weeks(con, AS_OF),
    # what the warehouse holds
    "warehouse summary": summary.warehouse_summary,
    "filter choices": summary.filter_choices,
    "weekly leads": lambda con: weekly.leads_per_week(con, CHOSEN),
    "stage names": summary.stage_names,
    "breakdown attributes": summary.breakdown_attributes,
    "headline figures": lambda con: summary.headline_figures(con, RANGE),
    "import log": imports.import_log,
}

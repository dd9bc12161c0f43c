"""What the warehouse holds, for the landing page, the empty state and the filter bar's choices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from analytics import journeys
from analytics.channels import total_spend
from analytics.filters import Filters
from analytics.funnel import LEAD_COLUMNS, FunnelSpec, funnel
from analytics.schema import DATA_TABLES, FUNNEL_STAGES


@dataclass(frozen=True)
class WarehouseSummary:
    """Row counts per table and the span of lead creation dates."""

    rows: dict[str, int]
    first_lead: date | None
    last_lead: date | None
    imports: int

    @property
    def is_empty(self) -> bool:
        return not any(self.rows.values())


@dataclass(frozen=True)
class HeadlineFigures:
    """The funnel of the selection in four numbers, and what was spent (None: no spend recorded)."""

    leads: int
    mql: int
    sql: int
    won: int
    spend: float | None


@dataclass(frozen=True)
class FilterChoices:
    """The values the shared filter bar offers: channels and campaigns present in the data."""

    channels: tuple[str, ...]
    campaigns: tuple[str, ...]


def warehouse_summary(con: duckdb.DuckDBPyConnection) -> WarehouseSummary:
    rows = {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in DATA_TABLES}
    first, last = con.execute(
        "SELECT min(created_at)::DATE, max(created_at)::DATE FROM ("
        " SELECT created_at FROM leads UNION ALL SELECT occurred_at FROM events WHERE stage = 'lead')"
    ).fetchone()
    imports = int(con.execute("SELECT count(*) FROM imports").fetchone()[0])
    return WarehouseSummary(rows, first, last, imports)


def filter_choices(con: duckdb.DuckDBPyConnection) -> FilterChoices:
    """The filter bar's channels and campaigns: those leads are attributed to (first touch, which is what the
    filters match) and those with spend. A value only later events carry, such as a nurture sequence's
    campaign, selects no lead, so it is not offered while the journeys are current."""
    if journeys.is_current(con):
        attributed = ("SELECT coalesce(channel, lead_channel) AS channel, coalesce(campaign_id, lead_campaign_id) "
                      "AS campaign_id FROM journeys")
    else:
        attributed = "SELECT channel, campaign_id FROM leads UNION ALL SELECT channel, campaign_id FROM events"
    choices = {}
    for column in ("channel", "campaign_id"):
        rows = con.execute(
            f"SELECT DISTINCT {column} FROM ({attributed} UNION ALL SELECT channel, campaign_id FROM campaigns) "
            f"WHERE {column} IS NOT NULL ORDER BY 1"
        ).fetchall()
        choices[column] = tuple(r[0] for r in rows)
    return FilterChoices(choices["channel"], choices["campaign_id"])


def stage_names(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """Event names in the data: the funnel stages first in their usual order, then touches by frequency."""
    names = [r[0] for r in con.execute("SELECT stage FROM events GROUP BY stage ORDER BY count(*) DESC").fetchall()]
    return tuple([s for s in FUNNEL_STAGES if s in names] + [s for s in names if s not in FUNNEL_STAGES])


def breakdown_attributes(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """What a funnel can be broken down by: the lead columns and every attribute key leads carry."""
    keys = [r[0] for r in con.execute(
        "SELECT DISTINCT unnest(map_keys(attributes)) AS k FROM leads ORDER BY k").fetchall()]
    return (*LEAD_COLUMNS, *keys)


def headline_figures(con: duckdb.DuckDBPyConnection, filters: Filters) -> HeadlineFigures:
    """Entrants of the range and how many reached MQL, SQL and won (the funnel's counts), and the spend."""
    counts = funnel(con, FunnelSpec(), filters)["count"].astype(int).tolist()
    spend = total_spend(con, filters)
    return HeadlineFigures(*counts, spend=None if spend is None else float(spend))

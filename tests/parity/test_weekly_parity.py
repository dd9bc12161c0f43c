"""The Overview's leads per week (not among the golden scenarios) give the same table on DuckDB and ClickHouse."""

from __future__ import annotations

import pytest

from analytics.clickhouse.scenarios import ALL, CHOSEN, RANGE
from analytics.filters import Filters
from analytics.weekly import leads_per_week
from tests.parity.test_parity import assert_same, outcome

pytestmark = pytest.mark.parity


@pytest.mark.parametrize("filters", [ALL, CHOSEN, RANGE, Filters(campaigns=("(none)",), as_of=ALL.as_of)],
                         ids=["all", "chosen", "range", "campaign none"])
def test_leads_per_week_gives_the_same_table_on_both_engines(filters, demo_engines) -> None:
    duck, ch = demo_engines
    table = outcome(lambda con: leads_per_week(con, filters), duck)
    assert len(table) > 0 or filters.campaigns
    assert_same(table, outcome(lambda con: leads_per_week(con, filters), ch), "leads per week")

"""What the warehouse holds: the filter bar's choices."""

from __future__ import annotations

from datetime import date

from analytics.filters import Filters
from analytics.funnel import FunnelSpec, funnel
from analytics.summary import filter_choices
from tests.analytics.conftest import insert_events


def test_the_filters_offer_first_touch_values_and_campaigns_with_spend_not_values_only_later_events_carry(wcon):
    insert_events(
        wcon,
        ("L1", "lead", "2026-03-01 09:00", "webinar", "WEB-1"),
        ("L1", "email_sent", "2026-03-02 09:00", "email", "nurture-welcome"),  # a sequence, after the first touch
        ("L2", "lead", "2026-03-03 09:00", None, None),
        ("L2", "visit", "2026-03-04 09:00", "display", "DIS-1"),  # L2's first touch
    )
    wcon.execute("INSERT INTO campaigns (campaign_id, channel, spend, import_id) VALUES ('SEARCH-1', 'search', 10, 1)")
    choices = filter_choices(wcon)
    assert choices.channels == ("display", "search", "webinar")
    assert choices.campaigns == ("DIS-1", "SEARCH-1", "WEB-1")
    # Every offered campaign with leads selects them; the sequence's campaign would have selected none.
    spec, counts = FunnelSpec(stages=("lead", "visit")), {}
    for campaign in ("DIS-1", "WEB-1", "nurture-welcome"):
        table = funnel(wcon, spec, Filters(campaigns=(campaign,), as_of=date(2026, 4, 1)))
        counts[campaign] = int(table["count"].iloc[0]) if not table.empty else 0
    assert counts == {"DIS-1": 1, "WEB-1": 1, "nurture-welcome": 0}

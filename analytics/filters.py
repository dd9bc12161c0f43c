"""The shared filter bar: which entrants a view covers and the as-of date it is seen from.

Dates follow DESIGN.md: a bare date as `since` covers from 00:00 of that day, as `until` through the
end of that day, and `as_of` is the end of its day; events after `as_of` are ignored as if the data had
been exported then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta


@dataclass(frozen=True)
class Filters:
    """Entry date range, channels and campaigns (empty = all), and the as-of date (None = now)."""

    since: date | None = None
    until: date | None = None
    channels: tuple[str, ...] = ()
    campaigns: tuple[str, ...] = ()
    as_of: date | None = None

    @property
    def start(self) -> datetime | None:
        """First instant an entrant may enter at."""
        return datetime.combine(self.since, time.min) if self.since else None

    @property
    def end(self) -> datetime | None:
        """First instant after the range: entry must be strictly before it."""
        return datetime.combine(self.until + timedelta(days=1), time.min) if self.until else None

    @property
    def as_of_end(self) -> datetime:
        """The instant the data is seen from: the end of the as-of day, or now."""
        if self.as_of is None:
            return datetime.now().replace(microsecond=0)
        return datetime.combine(self.as_of + timedelta(days=1), time.min)

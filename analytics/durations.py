"""Window durations: "183d", "6mo", "12h", "2w", "none", and the default windows between stages.

A duration is calendar months plus exact seconds (DESIGN.md, Funnel semantics 4): "6mo" is six calendar
months (Jan 31 + 1mo = Feb 29 in 2024, the day clamped to the month's end, the time of day kept) and
"183d" is 183 x 24 hours. In SQL a duration is added to a timestamp as months first, then seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from analytics.errors import BadInput

_SECONDS_PER_UNIT = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86_400, "day": 86_400, "days": 86_400,
    "w": 604_800, "week": 604_800, "weeks": 604_800,
}  # fmt: skip
_MONTHS_PER_UNIT = {"mo": 1, "month": 1, "months": 1, "y": 12, "year": 12, "years": 12}
_NO_LIMIT = {"none", "no", "off", "unlimited"}
_DURATION = re.compile(r"(\d+)\s*([a-z]+)")


@dataclass(frozen=True)
class Duration:
    """A non-negative span: calendar months, then exact seconds."""

    months: int = 0
    seconds: int = 0

    def __str__(self) -> str:
        parts = [f"{self.months}mo"] if self.months else []
        if self.seconds or not self.months:
            unit = next(u for u in ("w", "d", "h", "min", "s") if self.seconds % _SECONDS_PER_UNIT[u] == 0)
            parts.append(f"{self.seconds // _SECONDS_PER_UNIT[unit]}{unit}")
        return " ".join(parts)

    def add_sql(self, timestamp_sql: str, name: str) -> tuple[str, dict[str, int]]:
        """SQL for `timestamp_sql` + this duration, with its values as named parameters prefixed `name`."""
        sql = f"({timestamp_sql} + to_months(${name}_months) + to_seconds(${name}_seconds))"
        return sql, {f"{name}_months": self.months, f"{name}_seconds": self.seconds}


# The only transitions with a limit unless one is given (DESIGN.md, Contract details: Windows).
DEFAULT_WINDOWS: Mapping[tuple[str, str], Duration] = {
    ("mql", "sql"): Duration(months=6),
    ("sql", "won"): Duration(months=5),
}


def parse_duration(text: str) -> Duration | None:
    """Parse "183d", "6mo", "12h", "2w", "1y", "90 min" ...; "none" means no limit and gives None."""
    cleaned = text.strip().lower()
    if cleaned in _NO_LIMIT:
        return None
    match = _DURATION.fullmatch(cleaned)
    if match is None:
        raise BadInput(
            f"'{text}' is not a duration: write a whole number and a unit, e.g. 183d, 6mo, 12h, 2w, or none"
        )
    amount, unit = int(match.group(1)), match.group(2)
    if unit in _MONTHS_PER_UNIT:
        return Duration(months=amount * _MONTHS_PER_UNIT[unit])
    if unit in _SECONDS_PER_UNIT:
        return Duration(seconds=amount * _SECONDS_PER_UNIT[unit])
    if unit == "m":
        raise BadInput(f"'{text}' is ambiguous: write {amount}mo for calendar months or {amount}min for minutes")
    raise BadInput(f"'{text}' has an unknown unit '{unit}': use s, min, h, d, w, mo or y")


def parse_window_option(text: str) -> tuple[str, Duration | None]:
    """Parse a `--window STAGE=DURATION` option, e.g. "sql=6mo" or "won=none"."""
    stage, sep, duration = text.partition("=")
    if not sep or not stage.strip():
        raise BadInput(f"'{text}' is not a window: write STAGE=DURATION, e.g. sql=6mo or won=none")
    return stage.strip(), parse_duration(duration)


def default_window(from_stage: str, to_stage: str) -> Duration | None:
    """The limit on reaching `to_stage` from `from_stage` when none is given: only mql->sql and sql->won have one."""
    return DEFAULT_WINDOWS.get((from_stage, to_stage))


def funnel_windows(stages: Sequence[str], overrides: Mapping[str, Duration | None]) -> tuple[Duration | None, ...]:
    """The window of each transition into stages[1:], in order: the override for the to-stage, else the default.

    An override of None removes a default; an override for a stage that is not a later step is an error.
    """
    unknown = sorted(set(overrides) - set(stages[1:]))
    if unknown:
        raise BadInput(
            f"a window is given for {', '.join(unknown)}, which is not a step after the first of "
            f"{' -> '.join(stages)}: a window limits reaching a stage from the one before it"
        )
    return tuple(
        overrides[to] if to in overrides else default_window(frm, to) for frm, to in zip(stages, stages[1:])
    )

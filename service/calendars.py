"""Business-hours arithmetic for SLA clocks.

A calendar is weekly opening hours (one or more intervals a day, so a lunch break is two)
plus exceptions by date: a public holiday closes a day that would be open, a make-up working
day (调休) opens a weekend day. `add()` answers "when is this much working time used up,
starting then?" (a due time); `between()` answers "how much working time passed from a to
b?" (elapsed, and the length of a pause). Times are wall-clock times in the calendar's zone;
results are aware datetimes in UTC.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[time, time]
HORIZON_DAYS = 3660  # nothing is due more than ten years of calendar days ahead


class NoWorkingTimeError(ValueError):
    """The calendar has no working time within the horizon (nothing is ever open)."""


@dataclass(frozen=True)
class Hours:
    zone: ZoneInfo
    # weekday (Monday 0) -> intervals; exceptions: date -> intervals (empty = closed)
    weekly: Mapping[int, Sequence[Interval]]
    exceptions: Mapping[date, Sequence[Interval]] = field(default_factory=dict)

    def intervals(self, day: date) -> Sequence[Interval]:
        if day in self.exceptions:
            return self.exceptions[day]
        return self.weekly.get(day.weekday(), ())

    def _open_spans(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working spans (aware, in the zone) from `start` on, in order."""
        local = start.astimezone(self.zone)
        day = local.date()
        for _ in range(HORIZON_DAYS):
            for opens, closes in self.intervals(day):
                begin = max(datetime.combine(day, opens, self.zone), local)
                # 23:59:59.999999 closes at midnight (a 24-hour day cannot be written as
                # opens < closes otherwise).
                end = (
                    datetime.combine(day + timedelta(days=1), time(0), self.zone)
                    if closes == time.max
                    else datetime.combine(day, closes, self.zone)
                )
                if begin < end:
                    yield begin, end
            day += timedelta(days=1)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start` runs out."""
        if duration <= timedelta(0):
            return start.astimezone(UTC)
        remaining = duration
        for begin, end in self._open_spans(start):
            if remaining <= end - begin:
                return (begin + remaining).astimezone(UTC)
            remaining -= end - begin
        raise NoWorkingTimeError("no working time in the calendar's next ten years")

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from a to b (zero if b is not after a)."""
        if b <= a:
            return timedelta(0)
        b_local = b.astimezone(self.zone)
        total = timedelta(0)
        for begin, end in self._open_spans(a):
            if begin >= b_local:
                break
            total += min(end, b_local) - begin
        return total

"""Business-hours arithmetic: opening hours with a lunch break, weekends, public holidays
and make-up working days (调休), pauses."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.calendars import Hours, NoWorkingTimeError

SH = ZoneInfo("Asia/Shanghai")
DAY = ((time(9), time(12)), (time(13), time(18)))  # 8 working hours, lunch 12-13
# The 2026 National Day week as an example: 1-7 October closed, Sunday 27 September and
# Saturday 10 October worked instead.
HOURS = Hours(
    zone=SH,
    weekly=dict.fromkeys(range(5), DAY),
    exceptions={
        **{date(2026, 10, d): () for d in range(1, 8)},
        date(2026, 9, 27): DAY,
        date(2026, 10, 10): DAY,
    },
)


def at(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


def h(hours: float) -> timedelta:
    return timedelta(hours=hours)


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        (at(2026, 11, 23, 10), h(1), at(2026, 11, 23, 11)),  # within the morning
        (at(2026, 11, 23, 11), h(2), at(2026, 11, 23, 14)),  # over lunch
        (at(2026, 11, 23, 17), h(2), at(2026, 11, 24, 10)),  # overnight
        (at(2026, 11, 23, 7), h(1), at(2026, 11, 23, 10)),  # before opening
        (at(2026, 11, 23, 12, 30), h(1), at(2026, 11, 23, 14)),  # during lunch
        (at(2026, 11, 27, 17), h(4), at(2026, 11, 30, 12)),  # Friday to Monday
        (at(2026, 11, 28, 10), h(1), at(2026, 11, 30, 10)),  # arriving on a Saturday
        (at(2026, 11, 23, 9), h(40), at(2026, 11, 27, 18)),  # one working week exactly
        (at(2026, 9, 30, 17), h(2), at(2026, 10, 8, 10)),  # over the holiday week
        (at(2026, 9, 26, 10), h(1), at(2026, 9, 27, 10)),  # make-up Sunday is worked
        (at(2026, 10, 9, 17), h(2), at(2026, 10, 10, 10)),  # make-up Saturday too
        (at(2026, 11, 23, 10), h(0), at(2026, 11, 23, 10)),  # nothing to add
    ],
)
def test_add_finds_the_due_time(start, duration, due):
    assert HOURS.add(start, duration) == due.astimezone(UTC)


def test_results_are_utc_whatever_the_zone_given():
    start = datetime(2026, 11, 23, 2, tzinfo=UTC)  # 10:00 in Shanghai
    assert HOURS.add(start, h(1)) == datetime(2026, 11, 23, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("a", "b", "elapsed"),
    [
        (at(2026, 11, 23, 10), at(2026, 11, 23, 11, 30), h(1.5)),
        (at(2026, 11, 23, 11), at(2026, 11, 23, 14), h(2)),  # lunch does not count
        (at(2026, 11, 27, 17), at(2026, 11, 30, 10), h(2)),  # nor the weekend
        (at(2026, 9, 30, 17), at(2026, 10, 8, 10), h(2)),  # nor the holiday
        (at(2026, 11, 23, 19), at(2026, 11, 24, 8), h(0)),  # nor the night
        (at(2026, 11, 23, 12), at(2026, 11, 23, 10), h(0)),  # backwards: nothing
    ],
)
def test_between_counts_working_time_only(a, b, elapsed):
    assert HOURS.between(a, b) == elapsed


def test_add_and_between_agree():
    start = at(2026, 9, 25, 15, 20)
    for minutes in range(0, 60 * 50, 97):
        due = HOURS.add(start, timedelta(minutes=minutes))
        assert HOURS.between(start, due) == timedelta(minutes=minutes)


def test_a_pause_moves_the_due_time_by_the_working_time_paused():
    """Pending customer from Friday 16:00 to Monday 11:00 pauses 2 + 2 working hours."""
    created = at(2026, 11, 27, 9)
    paused = HOURS.between(at(2026, 11, 27, 16), at(2026, 11, 30, 11))
    assert paused == h(4)
    due = HOURS.add(created, h(16) + paused)
    assert due == at(2026, 12, 1, 14).astimezone(UTC)


def test_a_calendar_that_never_opens_says_so():
    with pytest.raises(NoWorkingTimeError):
        Hours(zone=SH, weekly={}).add(at(2026, 11, 23), h(1))


def test_a_day_open_until_23_59_59_999999_runs_through_midnight():
    always = Hours(zone=SH, weekly=dict.fromkeys(range(7), ((time(0), time.max),)))
    start = at(2026, 11, 23, 22)
    assert always.add(start, h(4)) == at(2026, 11, 24, 2).astimezone(UTC)
    assert always.between(start, at(2026, 11, 24, 2)) == h(4)

"""Business calendars as admins keep them: weekly hours, holidays, make-up days."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from service.models import BusinessCalendar, CalendarException, CalendarHours

pytestmark = pytest.mark.django_db


@pytest.fixture
def calendar():
    cal = BusinessCalendar.objects.create(name="中国大陆工作日")
    for weekday in range(5):
        CalendarHours.objects.create(calendar=cal, weekday=weekday, opens=time(9), closes=time(12))
        CalendarHours.objects.create(calendar=cal, weekday=weekday, opens=time(13), closes=time(18))
    CalendarException.objects.create(calendar=cal, date=date(2026, 10, 1), name="国庆节")
    CalendarException.objects.create(calendar=cal, date=date(2026, 10, 10), name="调休上班",
                                     working=True, opens=time(9), closes=time(18))  # fmt: skip
    return cal


def test_the_calendar_computes_in_its_hours_holidays_and_make_up_days(calendar):
    hours = calendar.hours()
    # Wednesday 30 September 17:00 + 2 working hours: 1 October is a holiday.
    start = datetime(2026, 9, 30, 9, tzinfo=UTC)  # 17:00 in Shanghai
    due = hours.add(start, timedelta(hours=2))
    assert due == datetime(2026, 10, 2, 2, tzinfo=UTC)  # 10:00 on the 2nd
    assert hours.intervals(date(2026, 10, 10)) == [(time(9), time(18))]  # a Saturday, worked
    assert hours.intervals(date(2026, 10, 1)) == []
    assert hours.intervals(date(2026, 10, 11)) == ()  # an ordinary Sunday


def test_the_database_refuses_hours_out_of_order_and_half_set_exceptions(calendar):
    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarHours.objects.create(calendar=calendar, weekday=5, opens=time(18), closes=time(9))
    with pytest.raises(IntegrityError), transaction.atomic():
        CalendarException.objects.create(calendar=calendar, date=date(2026, 10, 3), working=True)


def test_a_date_is_either_closed_or_worked(calendar):
    clash = CalendarException(calendar=calendar, date=date(2026, 10, 1), working=True,
                              opens=time(9), closes=time(12))  # fmt: skip
    with pytest.raises(ValidationError):
        clash.full_clean()


def test_admins_keep_calendars_with_their_hours_inline(client, login, admin_user, calendar):
    login(admin_user)
    page = client.get(f"/admin/service/businesscalendar/{calendar.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "国庆节" in text and "调休上班" in text

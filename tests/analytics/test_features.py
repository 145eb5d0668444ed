"""The feature builder reads only what was known at T: rows dated after T change nothing."""

from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from analytics.features import build_features, build_labels
from customers.models import Account, Interaction
from service.models import Survey, Ticket
from tests import factories
from tests.analytics.helpers import at, book, transaction

pytestmark = pytest.mark.django_db


def test_rows_after_t_change_nothing(branch, rm):
    today = timezone.localdate()
    first, second, _third = book(branch, rm, today=today)
    as_of = today - timedelta(days=10)
    before = build_features(as_of)

    # After as_of: money in and out (balances moving with it), a new product, a complaint with
    # a bad survey, a contact, and a customer who did not exist at as_of.
    acct = Account.objects.filter(customer=first, kind="current").get()
    transaction(
        acct,
        at(as_of + timedelta(days=1)),
        50000,
        kind="工资",
        direction="credit",
        adjust_balance=True,
    )
    transaction(acct, at(as_of + timedelta(days=2)), 900, adjust_balance=True)
    factories.account(
        second,
        kind=Account.Kind.LOAN,
        balance=Decimal(100000),
        opened_on=as_of + timedelta(days=3),
        principal=Decimal(100000),
    )
    ticket = factories.ticket(
        second, category="complaint", created_at=at(as_of + timedelta(days=1))
    )
    Survey.objects.create(
        ticket=ticket,
        token_hash="x" * 64,
        expires_at=timezone.now(),
        score=1,
        answered_at=at(as_of + timedelta(days=2)),
    )
    Interaction.objects.create(
        customer=first,
        channel="branch",
        direction="inbound",
        subject="咨询",
        occurred_at=at(as_of + timedelta(days=1)),
    )
    factories.customer(branch=branch, rm=rm)

    after = build_features(as_of)
    assert np.array_equal(before.ids, after.ids)
    assert np.array_equal(before.X, after.X, equal_nan=True)
    # ... while the same rows count at a later as-of date.
    later = build_features(today)
    row = list(later.ids).index(second.pk)
    assert later.column("complaints_90")[row] == 1
    assert later.column("csat_low")[row] == 1
    assert later.column("has_loan")[row] == 1
    assert len(later.ids) == len(before.ids) + 1


def test_values_at_t(branch, rm):
    today = timezone.localdate()
    first, second, _ = book(branch, rm, today=today)
    Ticket.objects.filter(customer=second).delete()
    factories.ticket(second, category="complaint", created_at=at(today - timedelta(days=5)))
    frame = build_features(today)
    row = {pk: i for i, pk in enumerate(frame.ids.tolist())}
    a, b = row[first.pk], row[second.pk]
    assert frame.column("salary_90")[a] == 2  # 30 and 60 days ago; 90 is outside
    assert 29 <= frame.column("days_since_salary")[a] <= 31
    assert frame.column("has_wealth")[a] == 1 and frame.column("has_wealth")[b] == 0
    assert frame.column("aum")[a] == pytest.approx(680000)
    assert frame.column("complaints_90")[b] == 1
    assert frame.column("digital_share")[a] == pytest.approx(
        0.5
    )  # online spend, salary by transfer
    assert frame.column("age")[a] == today.year - 1980 - (today < today.replace(month=5, day=1))


def test_churn_label_is_what_happened_after_t(branch, rm):
    today = timezone.localdate()
    as_of = today - timedelta(days=200)
    stays, leaves, _ = book(branch, rm, today=as_of)
    acct = Account.objects.get(customer=stays, kind="current")
    transaction(acct, at(as_of + timedelta(days=40)), 100)
    frame = build_features(as_of)
    y, eligible = build_labels("churn", frame)
    row = {pk: i for i, pk in enumerate(frame.ids.tolist())}
    assert eligible[row[stays.pk]] and eligible[row[leaves.pk]]
    assert y[row[stays.pk]] == 0 and y[row[leaves.pk]] == 1

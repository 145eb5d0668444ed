"""Lifecycle journeys: rules that reach each customer once per occurrence.

Every hour beat runs fire_journeys(): for each active journey, the customers due today and
an occurrence key naming what they are due for (the year of a birthday, the account and
date of a maturity, the date a KYC or a risk assessment expires, the last activity a
dormant customer is idle since). The firings are inserted with ON CONFLICT DO NOTHING on
(journey, customer, occurrence), RETURNING only the new ones, and those get their
deliveries in the same transaction through the same checks as a campaign
(marketing/audience.py). A sweep run twice, two beats at once or a day missed and caught
up fire each occurrence once; a customer whose deposit matures again next year is reached
again (another occurrence).
"""

from datetime import timedelta

from django.db import connection, transaction
from django.db.models import CharField, Exists, F, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast, Concat, ExtractDay, ExtractMonth
from django.utils import timezone

from bankcrm.outbox import enqueue_on_commit
from customers.models import Account, Customer, Transaction
from marketing.audience import resolve_journey
from marketing.models import Journey

_LIVE = [Customer.Lifecycle.ACTIVE, Customer.Lifecycle.DORMANT]


def _text(expression):
    return Cast(expression, output_field=CharField())


def candidates(journey: Journey, *, today=None):
    """(customer id, occurrence) rows of the customers the journey reaches today."""
    today = today or timezone.localdate()
    ahead = today + timedelta(days=journey.days_ahead)
    customers = Customer.objects.filter(lifecycle__in=_LIVE)
    trigger = journey.trigger
    if trigger == Journey.Trigger.BIRTHDAY:
        days = [today.day] + ([29] if (today.month, today.day) == (2, 28) else [])
        rows = (
            customers.annotate(m=ExtractMonth("birth_date"), d=ExtractDay("birth_date"))
            .filter(m=today.month, d__in=days)
            .annotate(occ=Value(str(today.year)))
        )
    elif trigger == Journey.Trigger.MATURITY:
        rows = Account.objects.filter(
            customer__lifecycle__in=_LIVE, status=Account.Status.ACTIVE,
            kind__in=[Account.Kind.TIME_DEPOSIT, Account.Kind.WEALTH],
            matures_on__range=(today, ahead),
        ).annotate(occ=Concat(Value("account:"), _text(F("pk")), Value(":"),
                              _text(F("matures_on"))))  # fmt: skip
        return rows.values_list("customer_id", "occ")
    elif trigger in (Journey.Trigger.KYC_EXPIRY, Journey.Trigger.RISK_EXPIRY):
        column = "kyc_expires_on" if trigger == Journey.Trigger.KYC_EXPIRY else "risk_expires_on"
        rows = customers.filter(**{f"{column}__range": (today, ahead)}).annotate(
            occ=Concat(Value(f"{trigger}:"), _text(F(column)))
        )
    else:  # dormant: no transaction for `days_ahead` days, after having had some
        since = timezone.now() - timedelta(days=journey.days_ahead)
        recent = Transaction.objects.filter(customer=OuterRef("pk"), booked_at__gte=since)
        last = (
            Transaction.objects.filter(customer=OuterRef("pk")).order_by()
            .values("customer").annotate(at=Max("booked_at")).values("at")
        )  # fmt: skip
        rows = (
            customers.filter(~Q(Exists(recent)), Exists(Transaction.objects.filter(
                customer=OuterRef("pk"))))
            .annotate(occ=Concat(Value("idle-since:"), _text(Subquery(last))))
        )  # fmt: skip
    return rows.values_list("pk", "occ")


@transaction.atomic
def journey_fire(journey: Journey, *, today=None, now=None) -> int:
    """Fire the journey for whoever is due and not yet reached for that occurrence; returns
    how many firings are new."""
    now = now or timezone.now()
    inner, params = candidates(journey, today=today).order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO marketing_journeyfiring (journey_id, customer_id, occurrence, fired_at) "  # noqa: S608
            f"SELECT %s, s.customer_id, s.occ, %s FROM ({inner}) AS s (customer_id, occ) "
            "ON CONFLICT DO NOTHING RETURNING id, customer_id",
            (journey.pk, now, *params),
        )
        firings = cursor.fetchall()
    if firings:
        resolve_journey(journey, firings, now=now)
        enqueue_on_commit("marketing.tasks.send_campaigns")
    return len(firings)


def fire_journeys(*, today=None) -> int:
    """Every active journey, each in its own transaction."""
    return sum(journey_fire(j, today=today) for j in Journey.objects.filter(is_active=True))

"""Lifecycle journeys: rules that reach each customer once per occurrence.

Every hour beat runs fire_journeys(): for each active journey, the customers due today and
an occurrence key naming what they are due for (the year of a birthday, the account and
date of a maturity or of an insurance policy's renewal, the date a KYC or a risk
assessment expires, the last activity a dormant customer is idle since, the product (its
catalogue code) viewed three times in a week and the day). The firings are inserted with
ON CONFLICT DO NOTHING on (journey, customer, occurrence), RETURNING only the new ones, and
those get their deliveries in the same transaction through the same checks as a campaign
(marketing/audience.py); a birthday journey also gives the RM of an affluent, wealth or
private customer a care task (a staff notification, once per customer and year). A sweep run
twice, two beats at once or a day missed and caught up fire each occurrence once; a
customer whose deposit matures again next year is reached again (another occurrence).
"""

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import CharField, Count, Exists, F, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Cast, Concat, ExtractDay, ExtractMonth
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from bankcrm.outbox import enqueue_on_commit
from bankcrm.services import notify_staff
from customers.models import Account, Customer, Interaction, ProductKind, Transaction
from marketing.audience import resolve_journey
from marketing.models import Journey, JourneyFiring

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
    elif trigger == Journey.Trigger.INSURANCE_RENEWAL:
        rows = Account.objects.filter(
            customer__lifecycle__in=_LIVE, status=Account.Status.ACTIVE,
            product__kind=ProductKind.INSURANCE, matures_on__range=(today, ahead),
        ).annotate(occ=Concat(Value("renewal:"), _text(F("pk")), Value(":"),
                              _text(F("matures_on"))))  # fmt: skip
        return rows.values_list("customer_id", "occ")
    elif trigger == Journey.Trigger.PRODUCT_INTEREST:
        return _product_interest(journey, today=today)
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


PRODUCT_VIEWS = 3  # views of the same product within PRODUCT_VIEW_DAYS
PRODUCT_VIEW_DAYS = 7


def _product_interest(journey: Journey, *, today):
    """Customers whose app views of one product reached PRODUCT_VIEWS in the last
    PRODUCT_VIEW_DAYS days, the product told by its catalogue code (the interaction's
    product_code, which customers.ingest records from the app.activity event; views that
    name no code are not counted). The occurrence is the code and the day; a customer
    already reached for that product within the window is not reached again, so a
    sustained interest fires once a week at most, not every day the window still holds
    three views."""
    since = timezone.now() - timedelta(days=PRODUCT_VIEW_DAYS)
    reached = JourneyFiring.objects.filter(
        journey=journey, customer=OuterRef("customer_id"), fired_at__gte=since,
        occurrence__startswith=Concat(Value("viewed:"), OuterRef("product_code"), Value(":")),
    )  # fmt: skip
    return (
        Interaction.objects.filter(
            channel=Interaction.Channel.APP, direction=Interaction.Direction.INBOUND,
            occurred_at__gte=since, customer__lifecycle__in=_LIVE,
        )
        .exclude(product_code="")
        .filter(~Exists(reached))
        .values("customer_id", "product_code")
        .annotate(views=Count("pk"))
        .filter(views__gte=PRODUCT_VIEWS)
        .annotate(occ=Concat(Value("viewed:"), F("product_code"), Value(f":{today.isoformat()}")))
        .values_list("customer_id", "occ")
    )  # fmt: skip


CARE_TIERS = (Customer.Tier.AFFLUENT, Customer.Tier.WEALTH, Customer.Tier.PRIVATE)


def _birthday_care(firings: list[tuple[int, int]], *, today) -> int:
    """The RM of each affluent, wealth or private customer (CARE_TIERS) a birthday journey
    reached gets a care task (a staff notification), once per customer and year whichever
    journeys fired."""
    customers = Customer.objects.filter(
        pk__in=[customer_id for _firing, customer_id in firings],
        tier__in=CARE_TIERS, primary_rm__isnull=False,
    ).only("name", "primary_rm_id")  # fmt: skip
    sent = 0
    with translation.override(settings.LANGUAGE_CODE):
        for customer in customers:
            sent += notify_staff(
                recipients=[customer.primary_rm_id], kind="birthday_care",
                title=gettext("Birthday today: %(customer)s") % {"customer": customer.name},
                body=gettext("A care call or a card from the relationship manager."),
                link=reverse("customers:detail", args=[customer.pk]),
                dedupe_key=f"birthday-care:{customer.pk}:{today.year}",
            )  # fmt: skip
    return sent


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
        if journey.trigger == Journey.Trigger.BIRTHDAY:
            _birthday_care(firings, today=today or timezone.localdate())
        enqueue_on_commit("marketing.tasks.send_campaigns")
    return len(firings)


def fire_journeys(*, today=None) -> int:
    """Every active journey, each in its own transaction."""
    return sum(journey_fire(j, today=today) for j in Journey.objects.filter(is_active=True))

"""Who may be sent a marketing message, and why each one left out was: every send-time check
in one place, for campaigns and journeys alike.

left_out_reason(offer) is one SQL CASE over customers.Customer (a Django expression): the
first check that fails names the reason, '' means eligible. marketing/audience.py puts it
in the INSERT … SELECT that writes a campaign's or a journey's deliveries, so a million
customers are checked in one statement and each one left out keeps a row saying why. In
order:

1. inactive: the customer is closed (or a prospect, not yet a customer).
2. opted_out / no_consent: the marketing consent in force for the channel (PIPL), the
   latest record for that channel or for all channels (customers.Consent, append-only).
   A withdrawal made through an opt-out link is `opted_out`; no record or another
   withdrawal is `no_consent`.
3. no_address / no_rm: nothing to send to (a mobile for SMS, an e-mail, an app identity,
   an RM for a call task).
4. risk_warning: a severe risk warning in force on the customer (compliance.warnings;
   risk_warning_q below). Tested before suitability, which leaves such a customer out too
   for marketing: the reason recorded is the warning, the more specific one.
5. unsuitable: compliance's suitability engine does not allow the campaign's product for
   marketing (suitable_q below). A journey, or a campaign without a product, skips it.
6. frequency_cap: the customer already has the cap's number of marketing messages in its
   window, across all campaigns and journeys (pending or sent deliveries).
Quiet hours do not leave anyone out: the rows of SMS and calls decided at night are held
until the window opens (quiet_until).

What the send itself checks again (consent_withdrawn_since): a customer who opts out or
withdraws consent after the deliveries were written is not sent anything from then on,
by any campaign.

Suitability is compliance's (`compliance.suitability.eligible_customers`, purpose
marketing): the product on sale, the customer's kind and tier, a valid risk assessment
whose level admits the product's risk (R1 only without one, or in the lowest category).
It enters the CASE as EXISTS (<the engine's query for the row's customer>), so the whole
audience is still one statement, and a test holds the rows' reasons against
`suitability_check` per customer.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case, CharField, Count, Exists, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact, GreaterThanOrEqual
from django.utils import timezone

from compliance.suitability import eligible_customers
from compliance.suitability_models import Purpose
from compliance.warnings import severe_warning_exists
from customers.models import Consent, Customer, ExternalIdentity, Product
from marketing.models import CONSENT_CHANNEL, QUIET_CHANNELS, Delivery, FrequencyCap, LeftOut

OPT_OUT_SOURCE = "marketing-opt-out"  # Consent.source of a withdrawal by an opt-out link
APP_IDENTITY_SOURCE = "app"  # ExternalIdentity.source of the mobile app's user id
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Offer:
    """What is about to be sent: by which channel, for which catalogue product (None for
    none: a journey, a campaign that sells nothing), decided when."""

    channel: str
    product: Product | None = None
    now: datetime | None = None

    @property
    def at(self) -> datetime:
        return self.now or timezone.now()


def suitable_q(offer: Offer) -> Q:
    """The customers compliance's suitability engine allows the offer's product to be
    marketed to (everyone when there is no product), as a subquery: one SQL statement."""
    if offer.product is None:
        return Q()
    # Correlated on the customer: EXISTS (the engine's query for this one customer) is
    # three index probes a row. `id IN (the engine's query over everyone)` needs the whole
    # eligible set hashed in work_mem; at a million customers it did not fit, and PostgreSQL
    # rescanned the list for every row (the launch had not ended after 6 minutes).
    allowed = eligible_customers(
        Customer.objects.filter(pk=OuterRef("pk")), offer.product, purpose=Purpose.MARKETING,
        at=offer.at,
    )  # fmt: skip
    return Q(Exists(allowed.order_by().values("pk")))


def risk_warning_q(offer: Offer) -> Q:
    """Customers with a severe risk warning in force at the offer's time."""
    return Q(severe_warning_exists("pk", offer.at))


def _consent_row(channel: str, column: str):
    return Subquery(
        Consent.objects.filter(
            customer=OuterRef("pk"), purpose=Consent.Purpose.MARKETING,
            channel__in=[CONSENT_CHANNEL[channel], Consent.Channel.ALL],
        ).order_by("-recorded_at", "-pk").values(column)[:1]
    )  # fmt: skip


def _no_address_q(channel: str) -> tuple[str, Q]:
    if channel == "sms":
        return LeftOut.NO_ADDRESS, Q(mobile_index__isnull=True)
    if channel == "email":
        return LeftOut.NO_ADDRESS, Q(email__isnull=True)
    if channel == "app":
        app = ExternalIdentity.objects.filter(customer=OuterRef("pk"), source=APP_IDENTITY_SOURCE)
        return LeftOut.NO_ADDRESS, ~Q(Exists(app))
    return LeftOut.NO_RM, Q(primary_rm__isnull=True)


def capped_q(offer: Offer) -> Q:
    """At the frequency cap: this many pending or sent marketing deliveries in the window
    (the delivery_cap_idx index, per customer)."""
    most, days = FrequencyCap.current()
    recent = (
        Delivery.objects.filter(
            customer=OuterRef("pk"), status__in=[Delivery.Status.PENDING, Delivery.Status.SENT],
            created_at__gte=offer.at - timedelta(days=days),
        ).order_by().values("customer").annotate(n=Count("pk")).values("n")
    )  # fmt: skip
    return Q(GreaterThanOrEqual(Coalesce(Subquery(recent), Value(0)), most))


def checks(offer: Offer) -> list[tuple[str, Q]]:
    """(reason, the customers it leaves out), in the order they are tested."""
    granted = _consent_row(offer.channel, "granted")
    source = _consent_row(offer.channel, "source")
    no_address = _no_address_q(offer.channel)
    suitable = suitable_q(offer)
    found = [
        (LeftOut.INACTIVE, Q(lifecycle__in=[Customer.Lifecycle.CLOSED,
                                            Customer.Lifecycle.PROSPECT])),
        (LeftOut.OPTED_OUT, Q(Exact(granted, False)) & Q(Exact(source, OPT_OUT_SOURCE))),
        (LeftOut.NO_CONSENT, ~Q(Exact(Coalesce(granted, False), True))),
        no_address,
        (LeftOut.RISK_WARNING, risk_warning_q(offer)),
        (LeftOut.UNSUITABLE, ~suitable if suitable != Q() else None),
        (LeftOut.FREQUENCY_CAP, capped_q(offer)),
    ]  # fmt: skip
    return [(reason, test) for reason, test in found if test is not None]


def left_out_reason(offer: Offer) -> Case:
    """The first failed check's reason as an expression over Customer ('' when eligible)."""
    whens = [When(test, then=Value(str(reason))) for reason, test in checks(offer)]
    return Case(*whens, default=Value(""), output_field=CharField())


def eligible_q(offer: Offer) -> Q:
    """Every check passed (for counting the reachable part of a segment)."""
    combined = Q()
    for _reason, test in checks(offer):
        combined &= ~test
    return combined


# ---- at send time -----------------------------------------------------------------------


def _consent_verdict(latest: tuple[bool, str] | None) -> str:
    """The reason from the latest (granted, source) of the channel or all channels."""
    if latest is None or not latest[0]:
        return LeftOut.OPTED_OUT if latest and latest[1] == OPT_OUT_SOURCE else LeftOut.NO_CONSENT
    return ""


def consent_withdrawn_since(delivery: Delivery) -> str:
    """'' if the delivery may still go out; otherwise why not (a consent withdrawn or an
    opt-out recorded after it was written). One indexed read per message."""
    latest = (
        Consent.objects.filter(
            customer_id=delivery.customer_id, purpose=Consent.Purpose.MARKETING,
            channel__in=[CONSENT_CHANNEL[delivery.channel], Consent.Channel.ALL],
        ).order_by("-recorded_at", "-pk").values_list("granted", "source").first()
    )  # fmt: skip
    return _consent_verdict(latest)


def consent_withdrawn_since_many(deliveries: list[Delivery]) -> dict[int, str]:
    """consent_withdrawn_since for a claim's rows in one read: delivery id -> reason. The
    customers' marketing consents come newest first; each delivery takes the first of its
    channel or of all channels, as the one-row form does."""
    history: dict[int, list[tuple[str, bool, str]]] = {}
    rows = (
        Consent.objects.filter(
            customer_id__in={d.customer_id for d in deliveries},
            purpose=Consent.Purpose.MARKETING,
        ).order_by("customer_id", "-recorded_at", "-pk")
        .values_list("customer_id", "channel", "granted", "source")
    )  # fmt: skip
    for customer_id, channel, granted, source in rows:
        history.setdefault(customer_id, []).append((channel, granted, source))
    verdicts = {}
    for d in deliveries:
        wanted = (CONSENT_CHANNEL[d.channel], Consent.Channel.ALL)
        latest = next(
            ((granted, source) for channel, granted, source in history.get(d.customer_id, ())
             if channel in wanted), None,
        )  # fmt: skip
        verdicts[d.pk] = _consent_verdict(latest)
    return verdicts


# ---- quiet hours ------------------------------------------------------------------------


def in_quiet_hours(at: datetime) -> bool:
    hour = at.astimezone(SHANGHAI).hour
    start, end = settings.MARKETING_QUIET_START, settings.MARKETING_QUIET_END
    if start == end:
        return False
    return hour >= start or hour < end if start > end else start <= hour < end


def quiet_until(channel: str, at: datetime) -> datetime | None:
    """When a message of `channel` decided at `at` may go out, if it must wait for the quiet
    hours to end (21:00–08:00 Beijing time for SMS and calls); None if it need not."""
    if channel not in QUIET_CHANNELS or not in_quiet_hours(at):
        return None
    local = at.astimezone(SHANGHAI)
    opening = local.replace(hour=settings.MARKETING_QUIET_END, minute=0, second=0, microsecond=0)
    if opening <= local:
        opening += timedelta(days=1)
    return opening

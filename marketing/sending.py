"""Sending deliveries: the core outbox over marketing_delivery.

Rows are written by marketing/audience.py (a launch, a journey's firing), which asks for
marketing.tasks.send_campaigns on commit; beat runs the same task every 30 s, so a lost
message, a Redis outage or a dead worker delays a send and never loses it. The outbox
(bankcrm/outbox.py) claims due rows with SKIP LOCKED under a lease, counts the attempt, and
settles a row only if its claim still holds, so a duplicated beat or two workers never send
a row twice; a worker killed mid-send leaves its rows to be taken again when the lease runs
out, and they go out with the same idempotency key, which the file provider keeps once
(it names its file by it) and a call task carries in its notes.

Each send checks again what may have changed since the row was written: a consent
withdrawn or an opt-out recorded meanwhile leaves the row out with that reason, so an
opt-out takes effect for every campaign at once (read for a claim's 200 rows in one query
right after the claim, so at most the claim's own second old). Addresses are read from the
customer at sending time and never stored in the row.

SMS, e-mail and app pushes go through service/notify.py's providers (console, file) chosen
by settings.MARKETING_PROVIDERS; a call is a follow-up task for the customer's RM (an
Interaction due today), written once per key.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from bankcrm.cache import TTLCache
from bankcrm.outbox import Outbox, UnsendableError
from customers.models import ExternalIdentity, Interaction, ProductDocument
from marketing.eligibility import (
    APP_IDENTITY_SOURCE,
    consent_withdrawn_since,
    consent_withdrawn_since_many,
    in_quiet_hours,
    quiet_until,
)
from marketing.models import (
    QUIET_CHANNELS,
    CampaignMessage,
    Channel,
    Delivery,
    Language,
    LeftOut,
    ProhibitedPhrase,
)
from service.notify import ConsoleProvider, FileProvider

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)
ENGLISH_TAG = "lang:en"  # customers have no language field yet: a tag asks for English


@dataclass
class Outgoing:
    """A message as service/notify.py's providers take it."""

    key: str
    channel: str
    subject: str
    body: str
    created_at: datetime


# ---- opt-out links ----------------------------------------------------------------------


def _sign(text: str) -> str:
    return salted_hmac("marketing.opt-out", text).hexdigest()[:10]


def opt_out_token(delivery_id: int) -> str:
    """Short and unguessable: the delivery's id in base 36 and 10 hex digits of an HMAC."""
    digits, n = "", delivery_id
    while True:
        n, r = divmod(n, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + digits
        if not n:
            break
    return f"{digits}{_sign(digits)}"


def delivery_for_token(token: str) -> Delivery | None:
    token = (token or "").strip().lower()
    if not 11 <= len(token) <= 24 or not token.isalnum():
        return None
    digits, mac = token[:-10], token[-10:]
    if not constant_time_compare(mac, _sign(digits)):
        return None
    return Delivery.objects.select_related("customer").filter(pk=int(digits, 36)).first()


def opt_out_url(delivery_id: int) -> str:
    return urljoin(settings.SITE_URL.rstrip("/") + "/", f"o/{opt_out_token(delivery_id)}/")


# ---- the text ---------------------------------------------------------------------------


_FIELD = re.compile(r"\{(\w+)\}")


def personalise(text: str, **fields: str) -> str:
    """{name}, {product} … replaced by their values; an unknown {field} or a lone brace
    stays as written (a typo in a campaign's text must not stop its sending)."""
    if "{" not in text:
        return text
    return _FIELD.sub(lambda m: fields.get(m.group(1), m.group(0)), text)


def language_of(customer) -> str:
    return Language.EN if ENGLISH_TAG in (customer.tags or []) else Language.ZH_HANS


# A step's messages and a disclosure's version, read once per process for a whole send: only
# a draft's texts can change (marketing.services.campaign_save), and a launched campaign's
# disclosure version is recorded at launch. Two reads less per message at a million.
_STEP_MESSAGES: TTLCache[list] = TTLCache(seconds=300, max_entries=1000)
_DISCLOSURE_VERSIONS: TTLCache[int] = TTLCache(seconds=300, max_entries=1000)


def _step_messages(step_id: int) -> list:
    return _STEP_MESSAGES.get(step_id, lambda: list(
        CampaignMessage.objects.filter(step_id=step_id)) or None)  # fmt: skip


def _message(delivery: Delivery, language: str) -> tuple[str, str, str]:
    """Subject, text and the language they are in: the customer's if there is a text in
    it, Chinese otherwise."""
    if delivery.firing_id:
        journey = delivery.firing.journey
        if language == Language.EN and journey.body_en:
            return journey.subject, journey.body_en, Language.EN
        return journey.subject, journey.body, Language.ZH_HANS
    ranked = sorted(
        _step_messages(delivery.step_id) or [],
        key=lambda m: (m.variant_id != delivery.variant_id, m.language != language,
                       m.language != Language.ZH_HANS),
    )  # fmt: skip
    if not ranked:
        raise UnsendableError("the step has no message")
    return ranked[0].subject, ranked[0].body, ranked[0].language


def product_text(campaign, language: str, *, version: int | None = None) -> tuple[str, str]:
    """The campaign's product in `language`: its name for {product}, and the risk
    disclosure line every message ends with ("" without a product). A campaign of the
    catalogue names the product as the catalogue does in that language and the disclosure
    version recorded at launch (one indexed read, unless `version` is given); a campaign
    saved without the catalogue keeps the name it was given."""
    if campaign is None:
        return "", ""
    with translation.override(language):
        if campaign.product_id is None:
            return campaign.product_name, ""
        name = campaign.product.name
        if version is None and campaign.risk_disclosure_document_id:
            version = _DISCLOSURE_VERSIONS.get(campaign.risk_disclosure_document_id, lambda: (
                ProductDocument.objects.filter(pk=campaign.risk_disclosure_document_id)
                .values_list("version", flat=True).first()
            ))  # fmt: skip
        line = _("Risk disclosure: %(product)s is rated %(risk)s; read its risk disclosure "
                 "(version %(version)s) before you buy.") % {
            "product": name, "risk": campaign.product_risk, "version": version or "—"}  # fmt: skip
        return name, line


def render(delivery: Delivery) -> tuple[str, str]:
    """Subject and text for the customer, personalised ({name}, {product} in the message's
    language), with the product's risk disclosure and the opt-out link."""
    customer = delivery.customer
    subject, body, language = _message(delivery, language_of(customer))
    product, disclosure = product_text(delivery.campaign, language)
    text = personalise(body, name=customer.name, product=product)
    with translation.override(language):
        if disclosure:
            text += "\n" + disclosure
        if delivery.channel != "call":
            text += "\n" + _("Unsubscribe: %(url)s") % {"url": opt_out_url(delivery.pk)}
    return personalise(subject, name=customer.name, product=product), text


@dataclass(frozen=True)
class PreviewText:
    """One message as a customer would read it, with a made-up name."""

    variant: str
    language: str
    subject: str
    text: str
    prohibited: tuple[str, ...] = ()

    @property
    def language_label(self) -> str:
        return Language(self.language).label


def preview(campaign, messages, *, version: int | None, phrases=()) -> list[tuple]:
    """[(channel, its label, [PreviewText …])] in the channels' order, each channel's variants and
    languages (Chinese first): its text personalised as render() does, in the message's
    language, with a sample name and the product's disclosure line (version `version`), and
    the prohibited phrases it contains. `messages` are (channel, variant code, language,
    subject, body) rows: a saved campaign's, or a form's not saved yet."""
    order = {code: n for n, code in enumerate(Channel.values)}
    products = {}
    by_channel: dict[str, list] = {}
    rows = sorted(messages, key=lambda m: (order.get(m[0], 99), m[1], m[2] != Language.ZH_HANS))
    for channel, variant, language, subject, body in rows:
        if language not in products:
            products[language] = product_text(campaign, language, version=version)
        product, disclosure = products[language]
        with translation.override(language):
            name = _("Ms Zhang")
        text = personalise(body, name=name, product=product)
        if disclosure:
            text += " " + disclosure
        found = {*ProhibitedPhrase.found_in(subject, phrases),
                 *ProhibitedPhrase.found_in(body, phrases)}  # fmt: skip
        by_channel.setdefault(channel, []).append(PreviewText(
            variant=variant, language=language,
            subject=personalise(subject, name=name, product=product), text=text,
            prohibited=tuple(p for p in phrases if p in found),
        ))  # fmt: skip
    return [(channel, Channel(channel).label, texts) for channel, texts in by_channel.items()]


# ---- providers --------------------------------------------------------------------------


def provider_for(channel: str):
    """The provider settings name for the channel: "console", "file" or a dotted path to a
    service.notify.Provider (a gateway; the tests' slow provider)."""
    name = settings.MARKETING_PROVIDERS[channel]
    if name == "file":
        return FileProvider(settings.MARKETING_FILE_DIR)
    if name == "console":
        return ConsoleProvider()
    return import_string(name)()


def _address(delivery: Delivery) -> str | None:
    customer = delivery.customer
    if delivery.channel == "sms":
        return customer.mobile or None
    if delivery.channel == "email":
        return customer.email or None
    if delivery.channel == "app":
        return (
            ExternalIdentity.objects.filter(customer=customer, source=APP_IDENTITY_SOURCE)
            .values_list("external_id", flat=True)
            .first()
        )
    return None


def _call_task(delivery: Delivery, key: str, subject: str, text: str) -> dict:
    """A call is a follow-up due today for the customer's RM, written once per key."""
    customer = delivery.customer
    if customer.primary_rm_id is None:
        raise UnsendableError("no RM", left_out_reason=LeftOut.NO_RM)
    marker = f"[{key}]"
    with transaction.atomic():
        if not Interaction.objects.filter(customer=customer, notes__endswith=marker).exists():
            Interaction.objects.create(
                customer=customer, actor_id=customer.primary_rm_id,
                channel=Interaction.Channel.PHONE, direction=Interaction.Direction.OUTBOUND,
                subject=(subject or _("Marketing call"))[:200], notes=f"{text}\n{marker}",
                follow_up_on=timezone.localdate(),
            )  # fmt: skip
    return {"provider": "call-task"}


def send_delivery(delivery: Delivery, key: str) -> dict:
    campaign = delivery.campaign
    if campaign is not None and campaign.status == campaign.Status.CANCELLED:
        raise UnsendableError("cancelled", left_out_reason=LeftOut.CANCELLED)
    reason = getattr(delivery, "consent_verdict", None)
    if reason is None:
        reason = consent_withdrawn_since(delivery)
    if reason:
        raise UnsendableError(str(LeftOut(reason).label), left_out_reason=reason)
    subject, text = render(delivery)
    if delivery.channel == "call":
        return _call_task(delivery, key, subject, text)
    address = _address(delivery)
    if not address:
        raise UnsendableError("no address", left_out_reason=LeftOut.NO_ADDRESS)
    provider = provider_for(delivery.channel)
    outgoing = Outgoing(key=key, channel=delivery.channel, subject=subject, body=text,
                        created_at=delivery.created_at)  # fmt: skip
    provider.send(outgoing, address)
    return {"provider": provider.name}


def _prepare(deliveries: list[Delivery]) -> None:
    """A claim's consent reads in one query (eligibility.consent_withdrawn_since_many)."""
    verdicts = consent_withdrawn_since_many(deliveries)
    for delivery in deliveries:
        delivery.consent_verdict = verdicts[delivery.pk]


DELIVERIES = Outbox(
    name="marketing",
    model=Delivery,
    send=send_delivery,
    key=lambda delivery: delivery.idempotency_key,
    done=Delivery.Status.SENT,
    given_up=Delivery.Status.FAILED,
    skipped=Delivery.Status.LEFT_OUT,
    max_attempts=MAX_ATTEMPTS,
    lease=LEASE,
    done_at="sent_at",
    related=("customer", "campaign__product", "firing__journey"),
    prepare=_prepare,
)


def hold_for_quiet_hours(now=None) -> int:
    """At night, SMS and calls that fall due wait for the morning (rows held by a worker
    have their lease in next_attempt_at, in the future, and are not touched)."""
    now = now or timezone.now()
    if not in_quiet_hours(now):
        return 0
    opening = quiet_until("sms", now)
    return Delivery.objects.filter(
        status=Delivery.Status.PENDING, channel__in=QUIET_CHANNELS, next_attempt_at__lte=now
    ).update(next_attempt_at=opening, held=True)


def more_due() -> bool:
    """Whether a pending delivery is due now (the partial index on due pending rows)."""
    return Delivery.objects.filter(
        status=Delivery.Status.PENDING, next_attempt_at__lte=timezone.now()
    ).exists()


def dispatch_all(*, limit: int = 200, max_rounds: int = 50) -> dict[str, int]:
    """Hold what the quiet hours forbid, send what is due; counts by outcome."""
    hold_for_quiet_hours()
    return DELIVERIES.dispatch_all(limit=limit, max_rounds=max_rounds)

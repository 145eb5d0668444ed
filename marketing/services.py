"""Changing segments and campaigns. Each service takes keyword-only `actor=` and `context=`,
runs in a transaction and guards a campaign's transitions with UPDATE … WHERE status = the
status the user saw, so two clicks cannot both approve or both launch. Model changes are
recorded by the data-change trail (marketing 0003); reads of customers (a segment exported, a
campaign's audience resolved) go to the access log."""

import re
import time
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from bankcrm import masking
from bankcrm.audit import AuditContext, acts, record_access
from bankcrm.models import AccessLog
from bankcrm.outbox import enqueue_on_commit
from compliance.suitability import eligible_customers_recorded
from compliance.suitability_models import Purpose
from customers.models import Product, ProductDocument
from marketing import access
from marketing.audience import resolve_campaign, segment_customers
from marketing.models import (
    Campaign,
    CampaignMessage,
    CampaignStep,
    Delivery,
    Language,
    LeftOut,
    ProhibitedPhrase,
    Segment,
    SegmentMember,
    Variant,
)
from marketing.segments import clean_tree, empty_tree

SAMPLE_SIZE = 10
MAX_CIFS = 50_000

# ---- segments ---------------------------------------------------------------------------


@acts
@transaction.atomic
def segment_create(
    *, actor, context: AuditContext, name: str, kind: str, description: str = "",
    conditions: dict | None = None,
) -> Segment:  # fmt: skip
    if kind == Segment.Kind.SNAPSHOT:
        raise ValidationError(_("A snapshot is made by freezing a segment."))
    return Segment.objects.create(
        name=name, description=description, kind=kind, owner=actor, branch=actor.branch,
        conditions=clean_tree(conditions or empty_tree()) if kind == Segment.Kind.DYNAMIC else {},
    )  # fmt: skip


@acts
@transaction.atomic
def segment_set_conditions(
    *, actor, context: AuditContext, segment: Segment, conditions
) -> Segment:
    """Replace a dynamic segment's conditions (checked against the field registry)."""
    if segment.kind != Segment.Kind.DYNAMIC:
        raise ValidationError(_("Only a dynamic segment has conditions."))
    segment.conditions = clean_tree(conditions)
    segment.save(update_fields=["conditions", "updated_at"])
    return segment


def segment_count(*, segment: Segment) -> tuple[int, int]:
    """Count the segment's customers now and keep the figure with when and how long it
    took (ms); the segment page shows both. JIT compilation is off for the count: on a
    million customers PostgreSQL spent about 0.8 s of 1.9 s compiling a plan it then runs
    once (bench/marketing.py)."""
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        count = segment_customers(segment).count()
    took = round((time.perf_counter() - started) * 1000)
    Segment.objects.filter(pk=segment.pk).update(
        last_count=count, counted_at=timezone.now(), count_ms=took
    )
    segment.last_count, segment.count_ms = count, took
    return count, took


def segment_sample(segment: Segment, *, size: int = SAMPLE_SIZE) -> list[dict]:
    """A few members as a list shows them: masked name and mobile, CIF, tier, branch."""
    rows = (
        segment_customers(segment).order_by("cif")
        .values("cif", "name", "mobile_masked", "tier", "branch__name")[:size]
    )  # fmt: skip
    return [{**row, "name": masking.mask_name(row["name"])} for row in rows]


_CIF_SPLIT = re.compile(r"[\s,;]+")


def parse_cifs(text: str) -> list[str]:
    """CIFs from a pasted list or a CSV (the first column of each line; a header without
    digits is skipped)."""
    cifs = []
    for line in text.splitlines():
        first = _CIF_SPLIT.split(line.strip(), maxsplit=1)[0].strip().strip('"').upper()
        if first and any(ch.isdigit() for ch in first) and len(first) <= 20:
            cifs.append(first)
    return list(dict.fromkeys(cifs))


@acts
@transaction.atomic
def segment_add_cifs(
    *, actor, context: AuditContext, segment: Segment, cifs: list[str]
) -> tuple[int, int]:
    """Add customers to a static list by CIF, only those in the owner's scope; returns
    (added, not found or not in scope). Unknown CIFs are counted, never named back."""
    if segment.kind != Segment.Kind.STATIC:
        raise ValidationError(_("Customers are added by CIF to a static list only."))
    if len(cifs) > MAX_CIFS:
        raise ValidationError(_("At most %(n)s CIFs at a time.") % {"n": MAX_CIFS})
    found = list(
        access.audience_scope(segment.owner).filter(cif__in=cifs).values_list("pk", flat=True)
    )
    before = SegmentMember.objects.filter(segment=segment).count()
    SegmentMember.objects.bulk_create(
        [SegmentMember(segment=segment, customer_id=pk) for pk in found],
        ignore_conflicts=True, batch_size=5000,
    )  # fmt: skip
    added = SegmentMember.objects.filter(segment=segment).count() - before
    return added, len(cifs) - len(found)


@acts
@transaction.atomic
def segment_freeze(*, actor, context: AuditContext, segment: Segment) -> Segment:
    """A snapshot: the segment's members now, kept (one INSERT … SELECT)."""
    now = timezone.now()
    snapshot = Segment.objects.create(
        name=f"{segment.name} @ {timezone.localtime(now):%Y-%m-%d %H:%M}"[:120],
        description=segment.description, kind=Segment.Kind.SNAPSHOT, owner=segment.owner,
        branch=segment.branch, conditions=segment.conditions, source=segment, frozen_at=now,
    )  # fmt: skip
    inner, params = segment_customers(segment).order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO marketing_segmentmember (segment_id, customer_id, added_at) "  # noqa: S608
            f"SELECT %s, s.id, %s FROM ({inner}) AS s (id) ON CONFLICT DO NOTHING",
            (snapshot.pk, now, *params),
        )
        count = cursor.rowcount
    Segment.objects.filter(pk=snapshot.pk).update(last_count=count, counted_at=now)
    snapshot.last_count = count
    return snapshot


@acts
def segment_export_rows(*, actor, context: AuditContext, segment: Segment):
    """The segment's members for a CSV (masked, as lists show them), the export logged
    in the access log with the number of rows now, when it is asked for, not later while
    the response streams (a generator would log only once the first row is pulled)."""
    customers = segment_customers(segment).order_by("cif")
    count = customers.count()
    record_access(
        actor=actor, context=context, action=AccessLog.Action.EXPORT,
        object_type="marketing.segment", object_id=segment.pk, detail={"rows": count},
    )  # fmt: skip
    rows = customers.values_list("cif", "name", "mobile_masked", "tier", "branch__name")
    return (
        [cif, masking.mask_name(name), mobile, tier, branch]
        for cif, name, mobile, tier, branch in rows.iterator(chunk_size=2000)
    )


# ---- campaigns --------------------------------------------------------------------------


@dataclass
class CampaignDraft:
    """What the campaign form gives: the campaign's fields, channels with their costs, the
    variants' shares, and each channel's own message: texts by (channel, variant code,
    language), subjects by (channel, language) (the variants share a subject)."""

    name: str
    segment: Segment
    channels: list[str]
    product: Product | None = None
    starts_at: object = None
    goal: str = ""
    goal_account_kind: str = ""
    goal_days: int = 30
    revenue_per_conversion: Decimal = Decimal(0)
    control_percent: int = 0
    costs: dict = field(default_factory=dict)  # channel -> Decimal
    variants: list = field(default_factory=lambda: [("A", 100)])  # [(code, weight)]
    texts: dict = field(default_factory=dict)  # (channel, variant code, language) -> text
    subjects: dict = field(default_factory=dict)  # (channel, language) -> subject


_FIELDS = ("name", "segment", "channels", "product", "starts_at", "goal", "goal_account_kind",
           "goal_days", "revenue_per_conversion", "control_percent")  # fmt: skip


def product_record(product: Product | None) -> dict:
    """What the campaign keeps of its product as it was when saved: the Chinese name (the
    bank's language) and the rating."""
    if product is None:
        return {"product_name": "", "product_risk": ""}
    return {"product_name": product.name_zh[:100], "product_risk": f"R{product.risk_level}"}


def risk_disclosure_in_force(product: Product | None) -> ProductDocument | None:
    """The product's current risk disclosure (its latest version), without the file."""
    if product is None:
        return None
    return (
        ProductDocument.objects.filter(product=product, kind=ProductDocument.Kind.RISK_DISCLOSURE)
        .defer("content").order_by("-version").first()
    )  # fmt: skip


def risk_disclosure_recorded(campaign: Campaign) -> ProductDocument | None:
    """The disclosure version recorded on the campaign (at approval, then launch)."""
    return (
        ProductDocument.objects.filter(pk=campaign.risk_disclosure_document_id)
        .defer("content").first()
    )  # fmt: skip


@acts
@transaction.atomic
def campaign_save(*, actor, context: AuditContext, draft: CampaignDraft,
                  campaign: Campaign | None = None) -> Campaign:  # fmt: skip
    """Create a campaign, or rewrite a draft: its steps, variants and messages follow the
    draft (a channel dropped loses its step; each step gets only its own channel's texts)."""
    values = {name: getattr(draft, name) for name in _FIELDS}
    values.update(product_record(draft.product))
    if campaign is None:
        campaign = Campaign.objects.create(created_by=actor, branch=actor.branch, **values)
    else:
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.status != Campaign.Status.DRAFT:
            raise ValidationError(_("Only a draft can be changed."))
        for name, value in values.items():
            setattr(locked, name, value)
        locked.save()
        campaign = locked
    CampaignStep.objects.filter(campaign=campaign).exclude(channel__in=draft.channels).delete()
    Variant.objects.filter(campaign=campaign).exclude(
        code__in=[code for code, _w in draft.variants]
    ).delete()
    variants = {}
    for code, weight in draft.variants:
        variants[code] = Variant.objects.update_or_create(
            campaign=campaign, code=code, defaults={"weight": weight}
        )[0]
    for channel in draft.channels:
        step = CampaignStep.objects.update_or_create(
            campaign=campaign,
            channel=channel,
            defaults={"cost_per_message": draft.costs.get(channel) or Decimal(0)},
        )[0]
        CampaignMessage.objects.filter(step=step).delete()
        CampaignMessage.objects.bulk_create(
            CampaignMessage(step=step, variant=variants.get(code), language=language,
                            subject=draft.subjects.get((channel, language), ""), body=text)
            for (on, code, language), text in draft.texts.items()
            if on == channel and code in variants and text.strip()
        )  # fmt: skip
    return campaign


def prohibited_phrases_in(*texts: str) -> list[str]:
    """The active prohibited phrases found in any of the texts, each text on its own (two
    texts side by side do not make a phrase)."""
    phrases = ProhibitedPhrase.active()
    found = {p for text in texts for p in ProhibitedPhrase.found_in(text, phrases)}
    return [p for p in phrases if p in found]


def campaign_problems(campaign: Campaign) -> list[str]:
    """What stops a campaign from being submitted, approved or launched: every channel needs
    its Chinese text for every variant (English is optional: those customers get the
    Chinese), and no text or subject of any channel and language may make a prohibited
    promise."""
    problems = []
    steps = list(campaign.steps.prefetch_related("messages"))
    variants = list(campaign.variants.all())
    messages = [m for s in steps for m in s.messages.all()]
    if not steps:
        problems.append(_("Choose at least one channel."))
    for step in steps:
        written = {
            m.variant_id for m in step.messages.all()
            if m.language == Language.ZH_HANS and m.body.strip()
        }  # fmt: skip
        for variant in variants or [None]:
            if (variant.pk if variant else None) in written:
                continue
            if len(variants) > 1:
                problems.append(_("%(channel)s has no Chinese text for variant %(variant)s.")
                                % {"channel": step.get_channel_display(),
                                   "variant": variant.code})  # fmt: skip
            elif not written:
                problems.append(
                    _("%(channel)s has no text.") % {"channel": step.get_channel_display()}
                )
    texts = [m.body for m in messages] + [m.subject for m in messages]
    found = prohibited_phrases_in(*texts, campaign.name)
    if found:
        problems.append(_("The text makes a prohibited promise: %(phrases)s.")
                        % {"phrases": "、".join(found)})  # fmt: skip
    if variants and sum(v.weight for v in variants) != 100:
        problems.append(_("The variants' shares must add up to 100%."))
    return problems + product_problems(campaign)


def product_problems(campaign: Campaign) -> list[str]:
    """A campaign's product must be on sale and have a risk disclosure in the catalogue."""
    if not campaign.product_id:
        return []
    product, problems = campaign.product, []
    if not product.is_on_sale(timezone.localdate()):
        problems.append(_("%(product)s is not on sale.") % {"product": product.name})
    if risk_disclosure_in_force(product) is None:
        problems.append(
            _(
                "%(product)s has no risk disclosure in the catalogue: upload one "
                "before the campaign can go out."
            )
            % {"product": product.name}
        )
    return problems


def _move(campaign: Campaign, *, seen: str, to: str, **fields) -> bool:
    """The transition, if the campaign is still in the status the user saw."""
    won = Campaign.objects.filter(pk=campaign.pk, status=seen).update(status=to, **fields)
    if won:
        campaign.status = to
        for name, value in fields.items():
            setattr(campaign, name, value)
    return bool(won)


@acts
@transaction.atomic
def campaign_submit(*, actor, context: AuditContext, campaign: Campaign) -> bool:
    problems = campaign_problems(campaign)
    if problems:
        raise ValidationError(problems)
    return _move(campaign, seen=Campaign.Status.DRAFT, to=Campaign.Status.PENDING_APPROVAL,
                 submitted_at=timezone.now())  # fmt: skip


@acts
@transaction.atomic
def campaign_approve(*, actor, context: AuditContext, campaign: Campaign) -> bool:
    """A second person (a marketing manager or compliance) approves; the content is checked
    again against the phrase list as it is now."""
    if not access.can_approve(actor, campaign):
        raise PermissionDenied
    problems = campaign_problems(campaign)
    if problems:
        raise ValidationError(problems)
    # The approver approves the product's disclosure as it is now: recorded with the approval.
    return _move(campaign, seen=Campaign.Status.PENDING_APPROVAL, to=Campaign.Status.APPROVED,
                 approved_by=actor, approved_at=timezone.now(),
                 risk_disclosure_document=risk_disclosure_in_force(campaign.product))  # fmt: skip


@acts
@transaction.atomic
def campaign_send_back(*, actor, context: AuditContext, campaign: Campaign) -> bool:
    if not access.can_approve(actor, campaign):
        raise PermissionDenied
    return _move(campaign, seen=Campaign.Status.PENDING_APPROVAL, to=Campaign.Status.DRAFT,
                 submitted_at=None)  # fmt: skip


@acts
@transaction.atomic
def campaign_launch(*, actor, context: AuditContext, campaign: Campaign) -> int | None:
    """Approved → sending: the audience resolved with every check into deliveries (one
    statement per channel, marketing/audience.py), the read logged, the sender asked for on
    commit. None if the campaign was no longer approved (launched by someone else).

    A campaign with a product: refused if the product went off sale since the approval;
    the disclosure in force now is the one its messages carry (recorded on the campaign),
    and the marketing suitability run is recorded once, as compliance's summary row."""
    now = timezone.now()
    if campaign.status == Campaign.Status.APPROVED:
        problems = product_problems(campaign)
        if problems:
            raise ValidationError(problems)
    disclosure = risk_disclosure_in_force(campaign.product) if campaign.product_id else None
    if not _move(campaign, seen=Campaign.Status.APPROVED, to=Campaign.Status.SENDING,
                 launched_at=now, risk_disclosure_document=disclosure):  # fmt: skip
        return None
    written = resolve_campaign(campaign, now=now)
    if campaign.product_id:
        eligible_customers_recorded(
            segment_customers(campaign.segment), campaign.product, purpose=Purpose.MARKETING,
            actor=actor, at=now,
        )  # fmt: skip
    total = Delivery.objects.filter(campaign=campaign).values("customer").distinct().count()
    Campaign.objects.filter(pk=campaign.pk).update(audience_count=total)
    campaign.audience_count = total
    record_access(
        actor=actor, context=context, action=AccessLog.Action.VIEW,
        object_type="marketing.campaign.audience", object_id=campaign.pk,
        detail={"customers": total, "deliveries": written},
    )  # fmt: skip
    enqueue_on_commit("marketing.tasks.send_campaigns")
    return written


@acts
@transaction.atomic
def campaign_cancel(*, actor, context: AuditContext, campaign: Campaign) -> bool:
    """Stop a campaign: what was not sent yet is left out (rows in a worker's hands or
    waiting for a retry are left out by the sender, which reads the campaign's status)."""
    seen = campaign.status
    if seen in (Campaign.Status.DONE, Campaign.Status.CANCELLED):
        return False
    if not _move(campaign, seen=seen, to=Campaign.Status.CANCELLED, finished_at=timezone.now()):
        return False
    Delivery.objects.filter(campaign=campaign, status=Delivery.Status.PENDING).filter(
        Q(next_attempt_at__lte=timezone.now()) | Q(attempts=0)
    ).update(status=Delivery.Status.LEFT_OUT, left_out_reason=LeftOut.CANCELLED)
    return True


def campaigns_finish() -> int:
    """Sending campaigns with nothing left to send are done (the sender's sweep)."""
    pending = Delivery.objects.filter(campaign=OuterRef("pk"), status=Delivery.Status.PENDING)
    return (
        Campaign.objects.filter(status=Campaign.Status.SENDING)
        .exclude(Exists(pending))
        .update(status=Campaign.Status.DONE, finished_at=timezone.now())
    )


# ---- opt-out ----------------------------------------------------------------------------


@transaction.atomic
def opt_out_record(*, delivery: Delivery, context: AuditContext) -> bool:
    """The customer opted out by a message's link: a marketing consent withdrawal for all
    channels in the append-only consent history (once: a second click adds nothing), in
    force at once for every campaign and journey (the sender checks it before each send).
    False if the customer had opted out already."""
    from customers.models import Consent
    from customers.services import consent_record
    from marketing.eligibility import OPT_OUT_SOURCE

    customer = delivery.customer
    Delivery.objects.filter(pk=delivery.pk, opted_out_at__isnull=True).update(
        opted_out_at=timezone.now()
    )
    latest = (
        Consent.objects.filter(customer=customer, purpose=Consent.Purpose.MARKETING,
                               channel=Consent.Channel.ALL)
        .order_by("-recorded_at", "-pk").values_list("granted", "source").first()
    )  # fmt: skip
    if latest is not None and latest == (False, OPT_OUT_SOURCE):
        return False
    consent_record(actor=None, customer=customer, purpose=Consent.Purpose.MARKETING,
                   channel=Consent.Channel.ALL, granted=False, source=OPT_OUT_SOURCE)  # fmt: skip
    return True

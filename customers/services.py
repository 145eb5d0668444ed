"""State changes of customer data. Each runs in a transaction; the data-change trail (the
database's triggers, compliance/audited.py) records the changes with the actor (identifiers
appear only masked), and sensitive reads go to the access log."""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from bankcrm import registry
from bankcrm.audit import SYSTEM, AuditContext, acting, record_security_event
from bankcrm.models import AccessLog, SecurityEvent
from bankcrm.outbox import enqueue_on_commit
from customers import access
from customers.models import (
    LEGACY_RISK_LEVELS,
    Consent,
    Customer,
    CustomerDelegation,
    ImportBatch,
    Interaction,
    Product,
    ProductDocument,
    RiskProfile,
    RiskQuestionnaire,
    RiskTolerance,
)

REVEALABLE = {
    "national_id": "customers.customer.national_id",
    "mobile": "customers.customer.mobile",
    "email": "customers.customer.email",
}


@transaction.atomic
def interaction_log(
    *,
    actor,
    customer: Customer,
    channel: str,
    direction: str,
    subject: str,
    notes: str = "",
    follow_up_on=None,
    confidential: bool = False,
) -> Interaction:
    interaction = Interaction.objects.create(
        customer=customer,
        actor=actor,
        channel=channel,
        direction=direction,
        subject=subject,
        notes=notes,
        follow_up_on=follow_up_on,
        confidential=confidential,
    )
    if notes.strip():
        registry.text_written("interaction", interaction.pk, notes)  # its sentiment, say
    return interaction


@transaction.atomic
def consent_record(
    *, actor, customer: Customer, purpose: str, channel: str, granted: bool, source: str
) -> Consent:
    """Adds a consent event; history is never edited (a trigger refuses it)."""
    return Consent.objects.create(
        customer=customer,
        purpose=purpose,
        channel=channel,
        granted=granted,
        source=source,
        recorded_by=actor,
    )


@transaction.atomic
def contact_update(*, actor, customer: Customer, **changes: str | None) -> Customer:
    """Sets the contact details given (mobile, email, address; None removes one), re-
    encrypting, re-indexing and re-masking what changed; the audit row shows masked values.
    Details not given are kept."""
    unknown = set(changes) - {"mobile", "email", "address"}
    if unknown:
        raise TypeError(f"not contact details: {sorted(unknown)}")
    changed = []
    if "mobile" in changes and changes["mobile"] != customer.mobile:
        customer.set_mobile(changes["mobile"])
        changed += ["mobile", "mobile_index", "mobile_masked"]
    if "email" in changes and changes["email"] != customer.email:
        customer.set_email(changes["email"])
        changed += ["email", "email_masked"]
    if "address" in changes and changes["address"] != customer.address:
        customer.address = changes["address"] or None
        changed.append("address")
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
    return customer


def risk_score(questionnaire: RiskQuestionnaire, answers: dict[str, int]) -> tuple[int, int, bool]:
    """Total of the chosen options' scores, the tolerance (1-5) of the band it falls in, and
    whether an answer puts the customer in the lowest category. Version 1's bands name the
    four former levels; they are read through the documented mapping (LEGACY_RISK_LEVELS)."""
    total, lowest = 0, False
    for question in questionnaire.questions:
        option = question["options"][answers[question["key"]]]
        total += option["score"]
        lowest = lowest or bool(option.get("lowest_category"))
    for minimum, level in questionnaire.bands:
        if total >= minimum:
            return total, LEGACY_RISK_LEVELS.get(level, level), lowest
    return total, RiskTolerance.C1, lowest


def risk_validity_days(questionnaire: RiskQuestionnaire) -> int:
    return questionnaire.validity_days or settings.RISK_ASSESSMENT_VALIDITY_DAYS


@transaction.atomic
def risk_profile_assess(
    *, actor, customer: Customer, questionnaire: RiskQuestionnaire, answers: dict[str, int]
) -> RiskProfile:
    """Records a completed questionnaire as the customer's current assessment: valid through
    today + the questionnaire's validity (settings.RISK_ASSESSMENT_VALIDITY_DAYS unless it
    says otherwise). The customer's row is locked first, so two assessments at once end with
    exactly one current (the partial unique index would refuse a second anyway); earlier
    assessments are kept, no longer current."""
    score, level, lowest = risk_score(questionnaire, answers)
    expires_on = timezone.localdate() + timedelta(days=risk_validity_days(questionnaire))
    Customer.objects.select_for_update(no_key=True).filter(pk=customer.pk).first()
    RiskProfile.objects.filter(customer=customer, is_current=True).update(is_current=False)
    customer.risk_level, customer.risk_expires_on = level, expires_on
    customer.save(update_fields=["risk_level", "risk_expires_on", "updated_at"])
    return RiskProfile.objects.create(
        customer=customer,
        questionnaire=questionnaire,
        answers=answers,
        score=score,
        level=level,
        lowest_category=lowest,
        is_current=True,
        assessed_by=actor,
        expires_on=expires_on,
    )


def identifier_reveal(
    *, actor, context: AuditContext, customer: Customer, field: str, reason: str
) -> str:
    """The full identifier, once, with an access-log row (who, what, when, IP, reason)."""
    if field not in REVEALABLE:
        raise ValueError(f"{field} cannot be revealed")
    value = getattr(customer, field)
    access.log_customer_read(
        actor=actor, context=context, action=AccessLog.Action.REVEAL, customer=customer,
        reason=reason, detail={"field": field},
    )  # fmt: skip
    return value or ""


@transaction.atomic
def delegation_grant(*, actor, customer: Customer, user, access: str, expires_at, reason: str):
    """Object permission (django-guardian) on the customer, ending at `expires_at`."""
    from django.contrib.auth.models import Permission

    permission = Permission.objects.get(content_type__app_label="customers", codename=access)
    delegation, _ = CustomerDelegation.objects.update_or_create(
        user=user,
        content_object=customer,
        permission=permission,
        defaults={
            "expires_at": expires_at,
            "reason": reason,
            "granted_by": actor,
            "granted_at": timezone.now(),
        },
    )
    return delegation


@transaction.atomic
def delegation_revoke(*, actor, delegation: CustomerDelegation) -> None:
    """Ends the delegation now; the row stays as the record of what was granted."""
    if delegation.expires_at > timezone.now():
        delegation.expires_at = timezone.now()
        delegation.save(update_fields=["expires_at"])


def delegations_record_expired(*, now=None, lookback=timedelta(days=7)) -> int:
    """A security event for each delegation that ran out in the last `lookback` (beat, every
    five minutes), once per delegation and expiry time: a second run, or two beats, add
    nothing; a delegation extended and run out again gets a second event."""
    now = now or timezone.now()
    expired = list(
        CustomerDelegation.objects.filter(expires_at__lte=now, expires_at__gt=now - lookback)
        .select_related("user", "permission")
        .order_by("expires_at", "pk")
    )
    keys = {d.pk: f"delegation:{d.pk}:{d.expires_at.timestamp():.6f}" for d in expired}
    recorded = set(
        SecurityEvent.objects.filter(dedupe_key__in=keys.values()).values_list(
            "dedupe_key", flat=True
        )
    )
    written = 0
    for delegation in expired:
        if keys[delegation.pk] in recorded:
            continue
        event = record_security_event(
            SecurityEvent.Kind.DELEGATION_EXPIRED,
            user=delegation.user,
            customer_id=delegation.content_object_id,
            detail={
                "delegation": delegation.pk,
                "access": delegation.permission.codename,
                "expired_at": delegation.expires_at.isoformat(),
                "granted_by": delegation.granted_by_id,
            },
            dedupe_key=keys[delegation.pk],
        )
        written += event is not None
    return written


@transaction.atomic
def import_upload(*, actor, context: AuditContext, kind: str, upload) -> ImportBatch:
    """Store the file encrypted and queue the check. A CSV file is read through first and an
    Excel file's zip directory looked at (nothing is decompressed here), so FileError names
    what is wrong at once; it never quotes the file."""
    from customers import imports
    from customers.imports.rows import UNSTORABLE

    content, total = imports.read_upload(upload.name, upload, kind=kind)
    batch = ImportBatch.objects.create(
        kind=kind,
        # The name is the browser's: nothing PostgreSQL cannot store.
        file_name=UNSTORABLE.sub("", upload.name)[:200],
        content=content,
        total_rows=total,
        uploaded_by=actor,
        uploaded_ip=context.ip,
        language=translation.get_language() or "",
    )
    _import_next_step_on_commit(batch)
    return batch


def _import_next_step_on_commit(batch: ImportBatch) -> None:
    """Ask a worker for the batch's next step once the transaction that changed it commits.
    If the broker is down the batch waits: customers.tasks.resume_imports sends it again."""
    step = (
        "commit_import" if batch.status == ImportBatch.Status.COMMIT_PENDING else "validate_import"
    )
    enqueue_on_commit(f"customers.tasks.{step}", batch.pk)


@transaction.atomic
def import_commit(*, actor, context: AuditContext, batch: ImportBatch) -> bool:
    from customers import imports

    # The status moves by conditional UPDATE; the data-change trail records it as actor's.
    with acting(actor=actor, context=context):
        if not imports.request_commit(batch):
            return False
    batch.refresh_from_db()
    _import_next_step_on_commit(batch)
    return True


@transaction.atomic
def import_discard(*, actor, context: AuditContext, batch: ImportBatch) -> bool:
    """Discard the batch in any state until it is finished, stuck ones included. A worker
    still on it stops at its next chunk; a commit waits for the chunk in progress (it holds
    the batch's row), and rows already written stay, with their audit rows."""
    with acting(actor=actor, context=context):
        discarded = ImportBatch.objects.filter(
            pk=batch.pk, status__in=ImportBatch.DISCARDABLE
        ).update(status=ImportBatch.Status.CANCELLED, content=None, finished_at=timezone.now())
    if discarded:
        batch.refresh_from_db()
    return bool(discarded)


# ---- product catalogue ----------------------------------------------------------------------


@transaction.atomic
def product_document_add(
    *,
    actor,
    context: AuditContext = SYSTEM,
    product: Product,
    kind: str,
    file_name: str,
    content: bytes,
    content_type: str,
) -> ProductDocument:
    """Adds the next version of the product's document of `kind`; earlier versions stay as
    they were (the table is append-only) and the new one becomes current. The product's row
    is locked while the number is taken, so two uploads at once get consecutive versions."""
    if len(content) > ProductDocument.MAX_BYTES:
        raise ValueError("document too large")
    Product.objects.select_for_update(no_key=True).filter(pk=product.pk).first()
    latest = (
        ProductDocument.objects.filter(product=product, kind=kind)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    with acting(actor=actor, context=context):
        return ProductDocument.objects.create(
            product=product,
            kind=kind,
            version=(latest or 0) + 1,
            file_name=file_name[:200],
            content_type=(content_type or "application/octet-stream")[:100],
            size=len(content),
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
            uploaded_by=actor,
        )

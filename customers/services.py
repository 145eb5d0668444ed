"""State changes of customer data. Each runs in a transaction; django-auditlog records the
model changes (identifiers appear only masked), and sensitive reads go to the access log."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from bankcrm.audit import record_access
from bankcrm.models import AccessLog
from customers.models import (
    Consent,
    Customer,
    Interaction,
    RiskProfile,
    RiskQuestionnaire,
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
    return Interaction.objects.create(
        customer=customer,
        actor=actor,
        channel=channel,
        direction=direction,
        subject=subject,
        notes=notes,
        follow_up_on=follow_up_on,
        confidential=confidential,
    )


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
def contact_update(
    *, actor, customer: Customer, mobile: str | None, email: str | None, address: str | None
) -> Customer:
    """Re-encrypts, re-indexes and re-masks what changed; the audit row shows masked values."""
    changed = []
    if mobile != customer.mobile:
        customer.set_mobile(mobile)
        changed += ["mobile", "mobile_index", "mobile_masked"]
    if email != customer.email:
        customer.set_email(email)
        changed += ["email", "email_masked"]
    if address != customer.address:
        customer.address = address or None
        changed.append("address")
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
    return customer


def risk_score(questionnaire: RiskQuestionnaire, answers: dict[str, int]) -> tuple[int, str]:
    """Total of the chosen options' scores and the band it falls in."""
    total = 0
    for question in questionnaire.questions:
        index = answers[question["key"]]
        total += question["options"][index]["score"]
    for minimum, level in questionnaire.bands:
        if total >= minimum:
            return total, level
    return total, RiskProfile.Level.CONSERVATIVE


@transaction.atomic
def risk_profile_assess(
    *, actor, customer: Customer, questionnaire: RiskQuestionnaire, answers: dict[str, int]
) -> RiskProfile:
    score, level = risk_score(questionnaire, answers)
    expires_on = timezone.localdate() + timedelta(days=questionnaire.validity_days)
    customer.risk_level, customer.risk_expires_on = level, expires_on
    customer.save(update_fields=["risk_level", "risk_expires_on", "updated_at"])
    return RiskProfile.objects.create(
        customer=customer,
        questionnaire=questionnaire,
        answers=answers,
        score=score,
        level=level,
        assessed_by=actor,
        expires_on=expires_on,
    )


def identifier_reveal(request, *, customer: Customer, field: str, reason: str) -> str:
    """The full identifier, once, with an access-log row (who, what, when, IP, reason)."""
    if field not in REVEALABLE:
        raise ValueError(f"{field} cannot be revealed")
    value = getattr(customer, field)
    record_access(
        request,
        AccessLog.Action.REVEAL,
        object_type="customers.customer",
        object_id=customer.pk,
        customer_id=customer.pk,
        reason=reason,
        detail={"field": field},
    )
    return value or ""

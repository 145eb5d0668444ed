"""Builders shared by the suitability tests: assessments at a chosen level, and customers
with one."""

from datetime import date, timedelta

from django.utils import timezone

from customers.models import RiskProfile, RiskQuestionnaire
from tests import factories


def questionnaire() -> RiskQuestionnaire:
    q = RiskQuestionnaire.objects.filter(is_active=True).first()
    if q is None:  # a flushed database (transactional tests) has no seeded questionnaire
        q = RiskQuestionnaire.objects.create(version=2, questions=[], bands=[], is_active=True)
    return q


def assess(customer, level: int, *, lowest: bool = False, expires_on: date | None = None):
    """The customer's current assessment: C`level`, valid for a year unless told."""
    RiskProfile.objects.filter(customer=customer, is_current=True).update(is_current=False)
    return RiskProfile.objects.create(
        customer=customer,
        questionnaire=questionnaire(),
        answers={},
        score=level * 4,
        level=level,
        lowest_category=lowest,
        is_current=True,
        expires_on=expires_on or timezone.localdate() + timedelta(days=365),
    )


def customer_at(branch, rm, level: int | None, **fields):
    customer = factories.customer(branch=branch, rm=rm, **fields)
    if level is not None:
        assess(customer, level)
    return customer

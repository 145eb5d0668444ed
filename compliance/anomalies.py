"""Access-anomaly detection: after every logged sensitive read, the reader's reads in each
active rule's sliding window are counted (one query for all rules, off the access log's
actor index) and a rule passed raises an alert for compliance, freezing the account when
the rule says so. Checking in the request, not later in a worker, means a freeze stops the
very next request: a scraper does not get a minute's head start, and a broker outage does
not switch detection off."""

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Count, Exists, OuterRef, Q, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from bankcrm.audit import audit_context
from bankcrm.models import AccessLog
from bankcrm.services import user_freeze
from compliance.models import AccessAlert, AccessRule
from customers.models import Customer

logger = logging.getLogger(__name__)

TIERS_FROM = {
    "affluent": [Customer.Tier.AFFLUENT, Customer.Tier.PRIVATE],
    "private": [Customer.Tier.PRIVATE],
}


def rules_for(user) -> list[AccessRule]:
    return [
        rule
        for rule in AccessRule.objects.filter(is_active=True)
        if not rule.roles or user.roles.intersection(rule.roles)
    ]


def _aggregate(rule: AccessRule, now):
    window = Q(at__gte=now - timedelta(minutes=rule.window_minutes))
    if rule.measure == AccessRule.Measure.EXPORTED_ROWS:
        rows = Cast(KT("detail__rows"), BigIntegerField())
        return Coalesce(Sum(rows, filter=window & Q(action=AccessLog.Action.EXPORT)), 0)
    counted = window & Q(customer_id__isnull=False)
    if rule.actions:
        counted &= Q(action__in=rule.actions)
    if rule.min_tier:
        high_value = Customer.objects.filter(
            pk=OuterRef("customer_id"), tier__in=TIERS_FROM[rule.min_tier]
        )
        counted &= Q(Exists(high_value))
    return Count("customer_id", distinct=True, filter=counted)


def measure(user, rules: list[AccessRule], now=None) -> dict[int, int]:
    """Each rule's count for `user` now: {rule id: count}."""
    now = now or timezone.now()
    if not rules:
        return {}
    earliest = now - timedelta(minutes=max(rule.window_minutes for rule in rules))
    values = AccessLog.objects.filter(actor_id=user.pk, at__gte=earliest).aggregate(
        **{f"r{rule.pk}": _aggregate(rule, now) for rule in rules}
    )
    return {rule.pk: values[f"r{rule.pk}"] or 0 for rule in rules}


def access_check(*, user, request=None) -> list[AccessAlert]:
    """Raises an alert for each rule `user` has now passed (at most one open alert per rule
    and user) and freezes the account for rules that say so. Returns the new alerts."""
    rules = rules_for(user)
    counts = measure(user, rules)
    raised = []
    for rule in rules:
        if counts[rule.pk] <= rule.threshold:
            continue
        if AccessAlert.objects.open().filter(rule=rule, user=user).exists():
            continue
        alert = alert_raise(rule=rule, user=user, count=counts[rule.pk], request=request)
        if alert is not None:
            raised.append(alert)
    return raised


def alert_raise(*, rule: AccessRule, user, count: int, request=None) -> AccessAlert | None:
    """The alert, and the freeze if the rule asks for one, in one transaction recorded as
    the rule's doing. None if another request raised the same alert a moment earlier."""
    now = timezone.now()
    freeze = rule.freeze_account and user.frozen_at is None
    try:
        with audit_context(label=f"access-rule:{rule.pk}"), transaction.atomic():
            alert = AccessAlert.objects.create(
                rule=rule,
                user=user,
                window_start=now - timedelta(minutes=rule.window_minutes),
                count=count,
                threshold=rule.threshold,
                froze_account=freeze,
            )
            if freeze:
                user_freeze(
                    user=user,
                    actor=None,
                    reason=rule.name,
                    detail={"alert": alert.pk, "rule": rule.pk},
                    request=request,
                )
    except IntegrityError:
        return None  # the open alert exists (unique constraint): nothing more to do
    logger.warning(
        "compliance.access_alert",
        extra={"alert": alert.pk, "rule": rule.pk, "user": user.pk, "count": count,
               "frozen": freeze},
    )  # fmt: skip
    return alert


def on_access_recorded(sender, row: AccessLog, request=None, **kwargs) -> None:
    """bankcrm.audit.access_recorded: check the reader's rules."""
    user = request.user if request is not None else row.actor
    access_check(user=user, request=request)

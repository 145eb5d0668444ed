"""Access-anomaly detection: after every logged sensitive read, the reader's reads in each
active rule's sliding window are counted and a rule passed raises an alert for compliance,
freezing the account when the rule says so. Checking in the request, not later in a
worker, means a freeze stops the very next request (a scraper gets no minute's head start)
and a broker outage does not switch detection off.

It runs after every logged read and every refused access, so it is one call of a PL/pgSQL function,
compliance_read_check (migration 0011), which keeps its plans for the connection's life:
- it notes the read in RecentRead (one row per user, customer and kind of read, with the
  customer's value tier);
- takes the active rules for the reader's roles, less those the reader already has an open
  alert for (not counted again);
- counts each: distinct customers from RecentRead, a few dozen rows for a normal day's work
  however often they were read; rows exported from the user's exports, searches by
  identifier (hits and misses, caller lookups included) from the user's searches (partial
  indexes); refused accesses from the user's security events;
- and returns the rules passed, which are almost never any: Python then has nothing to do.
"""

import json
import logging
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from bankcrm.audit import SYSTEM, AuditContext, audit_context
from bankcrm.models import AccessLog
from bankcrm.services import user_freeze
from compliance.models import AccessAlert, AccessRule
from customers.models import Customer

logger = logging.getLogger(__name__)

TIERS_FROM = {
    "affluent": [Customer.Tier.AFFLUENT, Customer.Tier.WEALTH, Customer.Tier.PRIVATE],
    "wealth": [Customer.Tier.WEALTH, Customer.Tier.PRIVATE],
    "private": [Customer.Tier.PRIVATE],
}
_TIERS_JSON = json.dumps(TIERS_FROM)
# The longest window a rule may have (AccessRule's check constraint): older notes go.
RECENT_FOR = timedelta(days=7)


def recent_reads_prune(*, now=None) -> int:
    """Hourly from beat: forget reads older than any rule's window."""
    cutoff = (now or timezone.now()) - RECENT_FOR
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM compliance_recentread WHERE last_at < %s", [cutoff])
        return cursor.rowcount


def rules_passed(user, row: AccessLog | None = None, now=None) -> dict[int, int]:
    """Notes `row` (a read by `user`, if given) and returns the rules `user` has now passed,
    {rule id: count}, leaving out rules with an open alert for them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT passed_rule_id, passed_count FROM compliance_read_check(%s::bigint,"
            " %s::bigint, %s::text, %s::timestamptz, %s::timestamptz, %s::text[], %s::jsonb)",
            [
                user.pk,
                row.customer_id if row is not None else None,
                row.action if row is not None else None,
                row.at if row is not None else None,
                now or timezone.now(),
                sorted(user.roles),
                _TIERS_JSON,
            ],
        )
        return dict(cursor.fetchall())


def access_check(
    *, user, row: AccessLog | None = None, context: AuditContext = SYSTEM
) -> list[AccessAlert]:
    """Notes `row` if given, raises an alert for each rule `user` has now passed (at most
    one open alert per rule and user) and freezes the account for rules that say so.
    Returns the new alerts."""
    counts = rules_passed(user, row)
    if not counts:
        return []
    raised = []
    for rule in AccessRule.objects.filter(pk__in=counts).order_by("pk"):
        alert = alert_raise(rule=rule, user=user, count=counts[rule.pk], context=context)
        if alert is not None:
            raised.append(alert)
    return raised


def alert_raise(
    *, rule: AccessRule, user, count: int, context: AuditContext = SYSTEM
) -> AccessAlert | None:
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
                    context=context,
                )
    except IntegrityError:
        return None  # the open alert exists (unique constraint): nothing more to do
    logger.warning(
        "compliance.access_alert",
        extra={"alert": alert.pk, "rule": rule.pk, "user": user.pk, "count": count,
               "frozen": freeze},
    )  # fmt: skip
    return alert


def on_access_recorded(*, row: AccessLog, context: AuditContext) -> None:
    """After a sensitive read (bankcrm.registry.READ_LISTENERS): note the read, check the
    reader's rules."""
    access_check(user=row.actor, row=row, context=context)


def on_access_refused(*, event, context: AuditContext) -> None:
    """After a refused access (bankcrm.registry.REFUSAL_LISTENERS): a refusal counts for
    the rules on refused accesses."""
    access_check(user=event.user, context=context)

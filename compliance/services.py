"""Compliance's own changes: reviews of access alerts, freezes and unfreezes by hand. Each
is recorded by the data-change triggers (the request's user, IP and request id) and, for
the account, by a security event with the reason."""

from django.db import transaction
from django.utils import timezone

from bankcrm.audit import SYSTEM, AuditContext
from bankcrm.services import user_freeze, user_unfreeze
from compliance.models import AccessAlert


@transaction.atomic
def alert_review(
    *,
    alert: AccessAlert,
    reviewer,
    decision: str,
    note: str,
    unfreeze: bool,
    context: AuditContext = SYSTEM,
) -> bool:
    """Closes an open alert as legitimate (dismissed) or as misuse (confirmed), and lifts
    the account's freeze if asked. False if someone else reviewed it first."""
    if decision not in (AccessAlert.Status.DISMISSED, AccessAlert.Status.CONFIRMED):
        raise ValueError(decision)
    if reviewer.pk == alert.user_id:
        raise PermissionError("nobody reviews their own alert")
    closed = AccessAlert.objects.filter(pk=alert.pk, status=AccessAlert.Status.OPEN).update(
        status=decision, reviewed_by=reviewer, reviewed_at=timezone.now(), review_note=note
    )
    if not closed:
        return False
    alert.refresh_from_db()
    if unfreeze:
        user_unfreeze(
            user=alert.user, actor=reviewer, reason=note, detail={"alert": alert.pk},
            context=context,
        )  # fmt: skip
    return True


def account_freeze(*, user, officer, reason: str, context: AuditContext = SYSTEM) -> bool:
    """A compliance officer freezes an account by hand (sessions ended at once)."""
    if officer.pk == user.pk:
        raise PermissionError("nobody freezes their own account")
    return user_freeze(user=user, actor=officer, reason=reason, context=context)


def account_unfreeze(*, user, officer, reason: str, context: AuditContext = SYSTEM) -> bool:
    if officer.pk == user.pk:
        raise PermissionError("nobody lifts their own freeze")
    return user_unfreeze(user=user, actor=officer, reason=reason, context=context)

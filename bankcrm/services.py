"""Changes to users' accounts that the audit trail must see with their reason."""

from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from bankcrm.audit import SYSTEM, AuditContext, record_security_event
from bankcrm.models import SecurityEvent, User


def user_sessions_end(*, user: User) -> int:
    """Deletes every live session of `user` (database sessions), so each open browser is
    signed out at its next request; returns how many there were."""
    keys = [
        s.session_key
        for s in Session.objects.filter(expire_date__gt=timezone.now()).iterator(chunk_size=500)
        if s.get_decoded().get("_auth_user_id") == str(user.pk)
    ]
    Session.objects.filter(session_key__in=keys).delete()
    return len(keys)


@transaction.atomic
def user_freeze(
    *,
    user: User,
    actor: User | None,
    reason: str,
    detail: dict | None = None,
    context: AuditContext = SYSTEM,
) -> bool:
    """Freezes the account and ends its sessions (the backend refuses frozen accounts, so a
    session missed here is refused too). False if it was frozen already."""
    frozen = User.objects.filter(pk=user.pk, frozen_at__isnull=True).update(
        frozen_at=timezone.now()
    )
    if not frozen:
        return False
    user.refresh_from_db(fields=["frozen_at"])
    ended = user_sessions_end(user=user)
    record_security_event(
        SecurityEvent.Kind.FROZEN,
        context=context,
        user=user,
        actor=actor,
        detail={"reason": reason, "sessions_ended": ended, **(detail or {})},
    )
    return True


@transaction.atomic
def user_unfreeze(
    *,
    user: User,
    actor: User,
    reason: str,
    detail: dict | None = None,
    context: AuditContext = SYSTEM,
) -> bool:
    """Lifts the freeze; False if the account was not frozen."""
    lifted = User.objects.filter(pk=user.pk, frozen_at__isnull=False).update(frozen_at=None)
    if not lifted:
        return False
    user.refresh_from_db(fields=["frozen_at"])
    record_security_event(
        SecurityEvent.Kind.UNFROZEN, context=context, user=user, actor=actor,
        detail={"reason": reason, **(detail or {})},
    )  # fmt: skip
    return True

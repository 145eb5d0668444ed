"""Changes to users' accounts that the audit trail must see with their reason, and the
messages staff get in their inbox (notify_staff)."""

from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.utils import timezone

from bankcrm.audit import SYSTEM, AuditContext, record_security_event
from bankcrm.models import SecurityEvent, StaffNotification, User


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


# ---- staff notifications ---------------------------------------------------------------


def notify_staff(
    *, recipients, kind: str, title: str, body: str = "", link: str = "", dedupe_key: str = ""
) -> int:
    """One StaffNotification per recipient (users or ids; None and repeats skipped), in the
    caller's transaction. With a `dedupe_key`, a recipient who already has a message under
    that key gets no second one, so a replayed event or a task run twice tells nobody twice
    (a unique index decides, not a check that could race). Returns how many were written;
    the unread count in the navigation bar follows by trigger."""
    ids = sorted({getattr(r, "pk", r) for r in recipients if r is not None})
    if not ids:
        return 0
    rows = [
        StaffNotification(
            recipient_id=recipient_id,
            kind=kind,
            title=title[:200],
            body=body,
            link=link[:300],
            dedupe_key=dedupe_key,
        )
        for recipient_id in ids
    ]
    if not dedupe_key:
        return len(StaffNotification.objects.bulk_create(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO bankcrm_staffnotification
                (recipient_id, kind, title, body, link, created_at, read_at, dedupe_key)
            SELECT r, %s, %s, %s, %s, %s, NULL, %s FROM unnest(%s::bigint[]) AS r
            ON CONFLICT DO NOTHING
            """,
            [kind, title[:200], body, link[:300], timezone.now(), dedupe_key, ids],
        )
        return cursor.rowcount


def notifications_mark_read(*, user: User, ids=None) -> int:
    """Marks `user`'s unread messages read (only those of `ids` if given); returns how many.
    A message already read keeps the time it was first read."""
    unread = StaffNotification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())

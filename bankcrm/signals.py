"""Session bookkeeping and the sign-in events of the audit trail; no domain logic lives here."""

import time

from axes.helpers import get_failure_limit
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from bankcrm.audit import AuditContext, record_security_event
from bankcrm.middleware import SESSION_SEEN, SESSION_STARTED
from bankcrm.models import SecurityEvent, User


@receiver(user_logged_in)
def stamp_session_start(sender, request, user, **kwargs):
    now = int(time.time())
    request.session[SESSION_STARTED] = now
    request.session[SESSION_SEEN] = now
    record_security_event(
        SecurityEvent.Kind.LOGIN, context=AuditContext.of(request), user=user, actor=user
    )


@receiver(user_logged_out)
def record_logout(sender, request, user, **kwargs):
    if user is None:
        return  # an anonymous visitor pressed "sign out": nothing ended
    # "timeout" when SessionTimeoutMiddleware ended it; "user" when they chose to.
    reason = getattr(request, "logout_reason", "user")
    record_security_event(
        SecurityEvent.Kind.LOGOUT,
        context=AuditContext.of(request),
        user=user,
        actor=user if reason == "user" else None,
        detail={"reason": reason},
    )


def _account(username: str):
    return User.objects.filter(username=username).first() if username else None


@receiver(user_login_failed)
def record_failed_login(sender, credentials, request=None, **kwargs):
    # Django has already replaced the password in `credentials`.
    username = str(credentials.get("username", ""))[:150]
    record_security_event(
        SecurityEvent.Kind.LOGIN_FAILED,
        context=AuditContext.of(request),
        user=_account(username),
        username=username,
        detail={"locked_out": True} if getattr(request, "axes_locked_out", False) else {},
    )


@receiver(user_locked_out)
def record_lockout(sender, request, username, ip_address, **kwargs):
    # Axes sends this when the lockout begins and again for every attempt refused during
    # it (each counted, which restarts the cool-off); those are failed logins already.
    failures = getattr(request, "axes_failures_since_start", None)
    limit = get_failure_limit(request, getattr(request, "axes_credentials", None))
    if failures != limit:
        return
    record_security_event(
        SecurityEvent.Kind.LOCKED_OUT,
        context=AuditContext.of(request),
        user=_account(username or ""),
        username=username or "",
        detail={"failures": failures},
    )

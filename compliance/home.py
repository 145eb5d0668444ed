"""The compliance officer's home page (registered in bankcrm.registry.HOME_PAGES by the
app's ready(): bankcrm does not import compliance). A fixed number of queries."""

from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.utils import timezone

from bankcrm.models import SecurityEvent, User
from compliance import access, selectors
from compliance.entries import entries_for
from compliance.models import DataChange

LIST_SIZE = 10


def compliance(request):
    since = timezone.now() - timedelta(days=1)
    lockouts = AccessAttempt.objects.filter(failures_since_start__gte=settings.AXES_FAILURE_LIMIT)
    open_alerts = access.alerts_for_reviewer(request.user).open()
    changes = list(DataChange.objects.order_by("-at", "-id")[:LIST_SIZE])
    for row in changes:
        row.audit_kind = selectors.WRITES
    context = {
        "open_alert_count": open_alerts.count(),
        "open_alerts": open_alerts.select_related("rule", "user").order_by("-raised_at")[
            :LIST_SIZE
        ],
        "frozen": User.objects.filter(frozen_at__isnull=False).order_by("-frozen_at")[:LIST_SIZE],
        "lockouts": lockouts.order_by("-attempt_time")[:LIST_SIZE],
        "lockout_count": lockouts.count(),
        "failed_logins": SecurityEvent.objects.filter(
            kind=SecurityEvent.Kind.LOGIN_FAILED, at__gte=since
        ).count(),
        # Who changed which object: the values are on the audit trail.
        "recent_changes": entries_for(changes, values=False),
    }
    return "compliance/home.html", context

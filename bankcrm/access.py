"""What every app's access module shares: the refusal a user gets for an object that is
not theirs, and the check for an action they may not take.

Apps' access functions raise `not_found(...)` for an object outside the user's scope (or
that does not exist: the two are not told apart) and `require(...)` for an action the role
may not take. bankcrm.middleware.RefusedAccessMiddleware records both as security events,
with the object asked for, so compliance sees who probes for what is not theirs and the
access-anomaly rules can count refusals."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from bankcrm.models import StaffNotification


class NotFoundForUser(Http404):
    """A 404 from an access function: the object asked for is not the user's."""

    def __init__(self, object_type: str, object_id):
        super().__init__(object_type)
        self.object_type = object_type
        self.object_id = str(object_id)[:50]


def not_found(object_type: str, object_id) -> NotFoundForUser:
    """`raise not_found("customers.customer", pk) from None` in an access function."""
    return NotFoundForUser(object_type, object_id)


def require(condition: bool) -> None:
    """Inside scope but not allowed this action: 403 (the row's existence is no secret)."""
    if not condition:
        raise PermissionDenied


def notification_for_user(user, pk) -> StaffNotification:
    """One of the user's own staff messages; anyone else's is not found, and asking for it
    is recorded like any other refusal."""
    try:
        return StaffNotification.objects.only("link").get(recipient=user, pk=int(pk))
    except (StaffNotification.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("bankcrm.staffnotification", pk) from None

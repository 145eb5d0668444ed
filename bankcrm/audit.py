"""Recording sensitive reads (the access log) and security events (sign-ins, MFA, freezes).
Data changes are recorded by database triggers (the data-change trail: the tables are listed
in compliance/audited.py), which read the connection's audit context set here: a service
that writes as `actor=` from `context=` wraps its writes in `acting(actor=…, context=…)`."""

import contextlib
import functools
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from bankcrm import registry
from bankcrm.dbsession import CONTEXT_SQL
from bankcrm.models import AccessLog, SecurityEvent


def client_ip(request) -> str | None:
    # REMOTE_ADDR only: behind the proxy, gunicorn's forwarded_allow_ips sets it correctly;
    # an X-Forwarded-For header from a client is not evidence.
    return request.META.get("REMOTE_ADDR") or None


@dataclass(frozen=True)
class AuditContext:
    """Where an action comes from, as the audit trail records it: the client's address and
    the id of a web request, or nothing for the system's own work. Services take it beside
    `actor=` (keyword-only, never the request); a view makes it with `AuditContext.of`."""

    ip: str | None = None
    request_id: str = ""

    @classmethod
    def of(cls, request) -> "AuditContext":
        if request is None:  # a signal sent outside a request
            return cls()
        return cls(ip=client_ip(request), request_id=str(getattr(request, "id", ""))[:64])


SYSTEM = AuditContext()  # the system's own work: no address, no request


def access_row(
    *,
    actor,
    context: AuditContext,
    action: str,
    object_type: str,
    object_id="",
    customer_id: int | None = None,
    reason: str = "",
    detail: dict | None = None,
) -> AccessLog:
    """The access-log row for a sensitive read by `actor`, not yet saved."""
    return AccessLog(
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        customer_id=customer_id,
        reason=reason,
        detail=detail or {},
        ip_address=context.ip,
        request_id=context.request_id,
    )


def record_access(*, actor, context: AuditContext, action: str, **fields) -> AccessLog:
    """Logs a sensitive read (fields as access_row takes them), then lets the listeners see
    it (compliance's access-anomaly rules, without bankcrm importing them)."""
    row = access_row(actor=actor, context=context, action=action, **fields)
    row.save(force_insert=True)
    for listener in registry.READ_LISTENERS:
        listener(row=row, context=context)
    return row


def record_security_event(
    kind: str,
    *,
    context: AuditContext = SYSTEM,
    user=None,
    username: str = "",
    actor=None,
    customer_id: int | None = None,
    detail: dict | None = None,
    dedupe_key: str | None = None,
) -> SecurityEvent | None:
    """A sign-in or account-security event. With `dedupe_key`, a second event with the same
    key is not written (sweeps that may run twice); None is returned then."""
    fields = {
        "kind": kind,
        "user": user,
        "username": (username or getattr(user, "username", ""))[:150],
        "actor": actor,
        "customer_id": customer_id,
        "ip_address": context.ip,
        "request_id": context.request_id,
        "detail": detail or {},
    }
    if dedupe_key is None:
        return SecurityEvent.objects.create(**fields)
    try:
        with transaction.atomic():
            return SecurityEvent.objects.create(dedupe_key=dedupe_key, **fields)
    except IntegrityError:
        return None  # recorded by an earlier run


# ---- who is writing: context the database's audit triggers read ---------------------------


def set_audit_context(*, actor_id=None, label: str = "", ip=None, request_id: str = "") -> None:
    """Tell the data-change triggers (compliance/audited.py) who writes on this
    connection: a user, or a label such as `task:…` or `import:…`. Session settings on a
    pooled connection: clear_audit_context() must follow.

    The context is kept on Django's connection object as well, and put on the database
    session again whenever Django connects anew: Celery's Django fix-up closes the
    connection before each task, after the task's context was set (so a task's changes
    were recorded as nobody's), and a pooled connection may change under a long task."""
    from django.db import connection

    values = {"actor_id": actor_id, "label": label, "ip": ip, "request_id": request_id}
    connection.bankcrm_audit_context = values
    if connection.connection is not None:
        _apply(connection, values)


def _apply(connection, values: dict | None) -> None:
    values = values or {}
    actor_id = values.get("actor_id")
    with connection.cursor() as cursor:
        cursor.execute(
            CONTEXT_SQL,
            [
                str(actor_id) if actor_id else "",
                (values.get("label") or "")[:100],
                values.get("ip") or "",
                (values.get("request_id") or "")[:64],
            ],
        )


def reapply_audit_context(sender, connection, **kwargs) -> None:
    """django.db.backends.signals.connection_created: a new (or pooled) database session
    gets the context its Django connection carries (bankcrm/apps.py connects this)."""
    values = getattr(connection, "bankcrm_audit_context", None)
    if values:
        _apply(connection, values)


def clear_audit_context() -> None:
    from django.db import connection

    connection.bankcrm_audit_context = None
    if connection.connection is None:
        return  # nothing was written on a connection: nothing to clear
    _apply(connection, None)


class audit_context:  # noqa: N801 - used as a context manager
    """`with audit_context(actor=user, label="import:12"):` for work outside a request, or
    for work the system does inside one (an access rule freezing an account); the context
    that was set before comes back afterwards."""

    def __init__(self, *, actor=None, label: str = "", ip=None, request_id: str = ""):
        self.values = {"actor_id": getattr(actor, "pk", None), "label": label, "ip": ip,
                       "request_id": request_id}  # fmt: skip

    def __enter__(self):
        from django.db import connection

        self.previous = getattr(connection, "bankcrm_audit_context", None)
        set_audit_context(**self.values)
        return self

    def __exit__(self, *exc):
        if self.previous:
            set_audit_context(**self.previous)
        else:
            clear_audit_context()
        return False


def acting(*, actor, context: AuditContext):
    """The data-change triggers' context for a service's writes: `actor` acting from
    `context` (a web request's address and id, labelled "web" as the request middleware
    labels it), whether or not the caller is a request (an admin action, a test, a task
    acting for someone)."""
    from_request = bool(context.ip or context.request_id)
    if actor is None and not from_request:
        # The system's own work keeps the label its caller set (a task's `task:<name>`,
        # the demo's `demo`, an import's `import:<id>`) instead of blanking it.
        return contextlib.nullcontext()
    return audit_context(
        actor=actor, label="web" if from_request else "", ip=context.ip,
        request_id=context.request_id,
    )  # fmt: skip


def acts(service):
    """A service's writes are `actor`'s from `context` in the data-change trail: the
    decorated function takes keyword-only `actor=` and `context=` and runs in acting()."""

    @functools.wraps(service)
    def wrapper(*args, actor, context: AuditContext, **kwargs):
        with acting(actor=actor, context=context):
            return service(*args, actor=actor, context=context, **kwargs)

    return wrapper


def record_refusal(
    *, user, context: AuditContext, status: int, path: str, method: str, object_type: str = "",
    object_id: str = "",
):  # fmt: skip
    """A refused access by `user` (404 from an access function, or 403) as a security event:
    the object asked for and the path, never a query string (it may hold what was typed).
    Then the listeners (the access-anomaly rules) see it."""
    customer_id = None
    if object_type == "customers.customer" and object_id.isdigit() and len(object_id) < 19:
        customer_id = int(object_id)
    event = record_security_event(
        SecurityEvent.Kind.ACCESS_REFUSED,
        context=context,
        user=user,
        customer_id=customer_id,
        detail={
            "status": status,
            "object_type": object_type,
            "object_id": object_id,
            "path": path[:200],
            "method": method,
        },
    )
    for listener in registry.REFUSAL_LISTENERS:
        listener(event=event, context=context)
    return event

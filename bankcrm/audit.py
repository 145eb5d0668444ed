"""Recording sensitive reads (the access log). Writes are audited by django-auditlog."""

from bankcrm.models import AccessLog


def client_ip(request) -> str | None:
    # REMOTE_ADDR only: behind the proxy, gunicorn's forwarded_allow_ips sets it correctly;
    # an X-Forwarded-For header from a client is not evidence.
    return request.META.get("REMOTE_ADDR") or None


def record_access(
    request,
    action: str,
    *,
    object_type: str,
    object_id="",
    customer_id: int | None = None,
    reason: str = "",
    detail: dict | None = None,
) -> AccessLog:
    return AccessLog.objects.create(
        actor=request.user,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        customer_id=customer_id,
        reason=reason,
        detail=detail or {},
        ip_address=client_ip(request),
        request_id=getattr(request, "id", ""),
    )

"""Reading the audit trail: filtered, newest first, keyset-paginated (a page costs the same
on the first and the millionth row)."""

from datetime import datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from bankcrm.models import AccessLog
from compliance.models import DataChange

PAGE = 50


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_rows(params: dict) -> QuerySet:
    """AccessLog rows for reads, DataChange rows for writes, filtered by `params` (the
    cleaned AuditFilterForm)."""
    writes = params.get("kind") == "writes"
    qs = DataChange.objects.all() if writes else AccessLog.objects.select_related("actor")
    if params.get("customer"):
        qs = qs.filter(customer_id=params["customer"].pk)
    if params.get("actor"):
        qs = qs.filter(actor_id=params["actor"].pk)
    action = params.get("action")
    if action:
        qs = qs.filter(op=action) if writes else qs.filter(action=action)
    if params.get("object_type"):
        if writes:
            qs = qs.filter(table_name=params["object_type"])
        else:
            qs = qs.filter(object_type=params["object_type"].replace("_", ".", 1))
    if params.get("since"):
        qs = qs.filter(at__gte=_day_start(params["since"]))
    if params.get("until"):
        qs = qs.filter(at__lt=_day_start(params["until"] + timedelta(days=1)))
    if params.get("ip"):
        qs = qs.filter(ip_address=params["ip"])
    return qs.order_by("-at", "-id")


def page_after(qs: QuerySet, cursor: str | None) -> tuple[list, str | None]:
    """One page after `cursor` ("<iso time>|<id>" of the last row shown) and the next one."""
    if cursor:
        try:
            at_text, pk_text = cursor.rsplit("|", 1)
            at, pk = datetime.fromisoformat(at_text), int(pk_text)
        except ValueError:
            at = pk = None
        if at is not None:
            from django.db.models import Q

            qs = qs.filter(Q(at__lt=at) | Q(at=at, id__lt=pk))
    rows = list(qs[: PAGE + 1])
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    next_cursor = f"{rows[-1].at.isoformat()}|{rows[-1].pk}" if more else None
    return rows, next_cursor

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from bankcrm.audit import record_access
from bankcrm.exports import csv_download
from bankcrm.models import AccessLog, User
from bankcrm.roles import Role
from compliance import selectors
from compliance.forms import AuditFilterForm

EXPORT_LIMIT = 100_000


def _require_reviewer(user) -> None:
    """Compliance officers and admins (both pass TOTP first, MfaRequiredMiddleware)."""
    if not (user.has_role(Role.COMPLIANCE_OFFICER, Role.ADMIN) or user.is_superuser):
        raise PermissionDenied


def _filtered(request):
    form = AuditFilterForm(request.GET or None)
    params = form.cleaned_data if form.is_valid() else {"kind": "reads"}
    params["kind"] = params.get("kind") or "reads"
    return form, params, selectors.audit_rows(params)


@login_required
@require_GET
def audit_trail(request):
    _require_reviewer(request.user)
    form, params, rows = _filtered(request)
    page, next_cursor = selectors.page_after(rows, request.GET.get("after"))
    if params["kind"] == "writes":
        # DataChange keeps the user's id (rows outlive renames): name them, in one query.
        users = User.objects.in_bulk({r.actor_id for r in page if r.actor_id})
        for r in page:
            r.actor = users.get(r.actor_id)
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "form": form,
        "params": params,
        "rows": page,
        "next_cursor": next_cursor,
        "query": query.urlencode(),
        "writes": params["kind"] == "writes",
    }
    template = "compliance/_audit_rows.html" if request.htmx else "compliance/audit.html"
    return render(request, template, context)


@login_required
@require_GET
def audit_export(request):
    """The filtered trail as CSV; the export itself is a sensitive read and is logged with
    its filter and row count."""
    _require_reviewer(request.user)
    form, params, rows = _filtered(request)
    if request.GET and not form.is_valid():
        return HttpResponseBadRequest(_("The filter is not valid."))
    count = min(rows.count(), EXPORT_LIMIT)
    shown = {k: str(getattr(v, "pk", v)) for k, v in params.items() if v not in ("", None)}
    record_access(
        request,
        AccessLog.Action.EXPORT,
        object_type="compliance.audit",
        customer_id=params["customer"].pk if params.get("customer") else None,
        detail={"filter": shown, "rows": count},
    )
    writes = params["kind"] == "writes"
    if writes:
        header = [
            _("When"),
            _("Table"),
            _("Row"),
            _("Operation"),
            _("Customer id"),
            _("User id"),
            _("By"),
            _("IP address"),
            _("Request id"),
            _("Changes"),
        ]
    else:
        header = [
            _("When"),
            _("Who"),
            _("Action"),
            _("Object type"),
            _("Object id"),
            _("Customer id"),
            _("Reason"),
            _("IP address"),
            _("Request id"),
            _("Detail"),
        ]

    def line(r) -> list:
        at = timezone.localtime(r.at).strftime("%Y-%m-%d %H:%M:%S")
        if writes:
            return [
                at,
                r.table_name,
                r.row_pk,
                r.get_op_display(),
                r.customer_id or "",
                r.actor_id or "",
                r.actor_label,
                r.ip_address or "",
                r.request_id,
                r.changes,
            ]
        return [
            at,
            r.actor.username,
            r.get_action_display(),
            r.object_type,
            r.object_id,
            r.customer_id or "",
            r.reason,
            r.ip_address or "",
            r.request_id,
            r.detail,
        ]

    lines = (line(r) for r in rows[:EXPORT_LIMIT].iterator(chunk_size=2000))
    return csv_download(header, lines, name=f"audit-{params['kind']}")

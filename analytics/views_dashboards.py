"""The KPI dashboard and the reports pages (issue 21).

The dashboard reads the daily snapshots only (analytics.dashboards), in the user's scope
(analytics.access.dashboard_scope_for_user): head office every branch, a branch manager
their branch, an RM their book. A bar's drill-down is a link to the customer list with its
own filters, so the list behind it stays scoped by customers.access; a branch's bar narrows
the dashboard itself. The charts' numbers travel in a JSON block read by a static script
(CSP: no inline script), and every chart has its table.
"""

import base64
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import json_script
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from analytics import access, reports, value
from analytics.dashboards import PERIODS, Filters, book_dashboard
from analytics.models import ReportRun
from bankcrm.access import require
from bankcrm.audit import AuditContext, record_access
from bankcrm.forms import BootstrapMixin
from bankcrm.models import AccessLog, Branch
from customers.access import can_see_assets
from customers.models import Customer

LIFECYCLES = ("active", "dormant", "prospect", "closed")


class DashboardFilterForm(BootstrapMixin, forms.Form):
    months = forms.TypedChoiceField(
        label=gettext_lazy("Period"), coerce=int, required=False, empty_value=12,
        choices=[(m, gettext_lazy("%(n)d months") % {"n": m}) for m in PERIODS],
    )  # fmt: skip
    branch = forms.ModelChoiceField(
        label=gettext_lazy("Branch"), queryset=Branch.objects.filter(is_active=True),
        required=False, empty_label=gettext_lazy("All branches"),
    )  # fmt: skip
    tier = forms.ChoiceField(
        label=gettext_lazy("Value tier"), required=False,
        choices=[("", gettext_lazy("All tiers")), *Customer.Tier.choices],
    )  # fmt: skip

    def __init__(self, *args, bank_wide: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not bank_wide:
            del self.fields["branch"]  # a branch manager or RM cannot widen or move scope


def _customers_url(**params) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    return reverse("customers:list") + (f"?{query}" if query else "")


def _dashboard_url(request, **changes) -> str:
    query = request.GET.copy()
    for key, val in changes.items():
        query[key] = val
    return reverse("analytics:dashboard") + "?" + query.urlencode()


def _number(value) -> float:
    return round(float(value or 0), 2)


def _charts(request, book, filters: Filters, drill: bool) -> dict:
    """The charts' data, labelled in the reader's language, with each bar's link."""
    tier_labels = dict(Customer.Tier.choices)
    lifecycle_labels = dict(Customer.Lifecycle.choices)
    months = [p.label for p in book.points]
    charts = {
        "trend": {
            "type": "line", "labels": months, "series": [
                {"label": _("Deposits"), "data": [_number(p.deposits) for p in book.points]},
                {"label": _("Loans"), "data": [_number(p.loans) for p in book.points]},
                {"label": _("AUM"), "data": [_number(p.aum) for p in book.points]},
                {"label": _("AUM, daily average of the month"),
                 "data": [_number(p.aum_avg) for p in book.points]},
            ],
        },
        "tiers": {
            "type": "bar",
            "labels": [str(tier_labels.get(r["tier"], r["tier"])) for r in book.by_tier],
            "series": [{"label": _("AUM"), "data": [_number(r.get("aum")) for r in book.by_tier]},
                       {"label": _("Deposits"),
                        "data": [_number(r.get("deposits")) for r in book.by_tier]}],
            "links": [_customers_url(tier=r["tier"]) if drill else "" for r in book.by_tier],
        },
        "lifecycle": {
            "type": "bar",
            "labels": [str(lifecycle_labels[k]) for k in LIFECYCLES],
            "series": [{"label": _("Customers"),
                        "data": [book.lifecycle.get(k, 0)
                                 for k in LIFECYCLES]}],
            "links": [_customers_url(lifecycle=k, tier=filters.tier) if drill else ""
                      for k in LIFECYCLES],
        },
        "retention": {
            "type": "line", "labels": months, "percent": True, "series": [
                {"label": _("30-day retention"),
                 "data": [round(p.retention * 100, 1) if p.retention is not None else None
                          for p in book.points]},
            ],
        },
        "crosssell": {
            "type": "line", "labels": months, "series": [
                {"label": _("Products per customer"),
                 "data": [round(p.cross_sell, 2) if p.cross_sell else None for p in book.points]},
            ],
        },
    }  # fmt: skip
    if len(book.by_branch) > 1 or filters.branch_id:
        charts["branches"] = {
            "type": "bar", "labels": [r["name"] for r in book.by_branch],
            "series": [{"label": _("AUM"), "data": [_number(r["aum"]) for r in book.by_branch]},
                       {"label": _("Loans"),
                        "data": [_number(r["loans"]) for r in book.by_branch]}],
            "links": [_dashboard_url(request, branch=r["id"]) for r in book.by_branch],
        }  # fmt: skip
    return charts


@login_required
@require_GET
def dashboard(request):
    scope = access.dashboard_scope_for_user(request.user)
    require(scope is not None)
    # Unbound on a first visit, so the selects show the defaults the figures use.
    form = DashboardFilterForm(
        request.GET or None, bank_wide=scope.is_bank, initial={"months": Filters.months}
    )
    params = form.cleaned_data if form.is_valid() else {}
    branch = params.get("branch")
    filters = Filters(
        months=params.get("months") or 12, branch_id=branch.pk if branch else None,
        tier=params.get("tier") or "",
    )  # fmt: skip
    book = book_dashboard(request.user, scope, filters)
    drill = can_see_assets(request.user)
    charts = _charts(request, book, filters, drill)
    for row in book.by_tier:
        row["link"] = _customers_url(tier=row["tier"]) if drill else ""
    for row in book.by_branch:
        row["link"] = _dashboard_url(request, branch=row["id"])
    context = {
        "form": form, "book": book, "filters": filters, "scope": scope, "drill": drill,
        "charts": charts, "chart_data": json_script(charts, "dashboard-data"),
        "lifecycle_links": dict(zip(LIFECYCLES,
                                    charts["lifecycle"]["links"], strict=True)),
        "tiers": {t.code: t for t in value.tiers()},
        "english": (get_language() or "").startswith("en"),
        "tier_labels": dict(Customer.Tier.choices),
        "can_report": access.report_definitions_for_user(request.user).exists(),
    }  # fmt: skip
    return render(request, "analytics/dashboard.html", context)


# ---- reports ------------------------------------------------------------------------------


@login_required
@require_GET
def report_list(request):
    """The reports the user may download (their roles are recipients, within their
    scope), newest runs first; what beat generated is listed here for its recipients."""
    definitions = list(access.report_definitions_for_user(request.user).select_related("branch"))
    require(bool(definitions) or access.dashboard_scope_for_user(request.user) is not None)
    runs = (
        access.report_runs_for_user(request.user)
        .select_related("definition", "requested_by")
        .defer("content", "failure")  # the error is for administrators (the admin)
        .order_by("-created_at")[:50]
    )
    return render(request, "analytics/reports.html", {"definitions": definitions, "runs": runs})


@login_required
@require_POST
def report_request(request, pk):
    """On demand: a run of the definition as of today, generated on commit by a worker
    (and by the morning sweep should the worker be down)."""
    definition = access.report_definition_for_user(request.user, pk)
    try:
        reports.report_request(actor=request.user, context=AuditContext.of(request),
                               definition=definition)  # fmt: skip
    except reports.ReportRequestRefusedError as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, _("The report is being generated; it will be listed here."))
    return redirect("analytics:reports")


@login_required
@require_GET
def report_download(request, pk):
    """The file, decrypted for a recipient; every download is an audited export."""
    run = access.report_run_for_user(request.user, pk)
    if run.status != ReportRun.Status.DONE or not run.content:
        return HttpResponse(_("This report is not ready."), status=409)
    record_access(
        actor=request.user, context=AuditContext.of(request), action=AccessLog.Action.EXPORT,
        object_type="analytics.reportrun", object_id=run.pk,
        detail={"report": run.definition.name, "period": run.period, "format":
                run.definition.format, "bytes": run.size},
    )  # fmt: skip
    response = HttpResponse(base64.b64decode(run.content), content_type=run.content_type)
    response["Content-Disposition"] = f'attachment; filename="{run.file_name}"'
    return response

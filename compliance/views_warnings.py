"""Risk warnings on screen: compliance's list with the history, one warning's page (with its
signals, and the clearing form for those who may clear it), and what compliance adds to
customers' pages through bankcrm.registry (the 360 header's badges, the customer list's
"with risk warnings", the RM's and branch manager's home section)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from bankcrm.access import require
from bankcrm.audit import AuditContext
from bankcrm.models import AccessLog
from bankcrm.registry import Badge, ListFilter
from compliance import access
from compliance.forms import WarningClearForm, WarningFilterForm
from compliance.models import RiskSignal, RiskWarning, Severity
from compliance.warnings import any_warning_exists, warning_clear
from customers.access import customers_for_user, log_customer_read

PAGE_SIZE = 50
SIGNALS_SHOWN = 50
HOME_LIST_SIZE = 10
TONES = {Severity.SEVERE: "danger", Severity.WARNING: "warning", Severity.INFO: "info"}


@login_required
@require_GET
def warning_list(request):
    """Every warning, open and ended, newest first: compliance officers and admins."""
    access.require_reviewer(request.user)
    form = WarningFilterForm(request.GET or None)
    warnings = access.warnings_for_user(request.user)
    if form.is_valid():
        params = form.cleaned_data
        if params["status"]:
            warnings = warnings.filter(status=params["status"])
        if params["kind"]:
            warnings = warnings.filter(kind=params["kind"])
        if params["severity"]:
            warnings = warnings.filter(severity=params["severity"])
        if params["cif"]:
            warnings = warnings.filter(customer__cif=params["cif"].strip().upper())
    elif request.GET:
        warnings = warnings.none()
    warnings = warnings.select_related("customer", "kind", "cleared_by").order_by(
        "-opened_at", "-id"
    )
    page = Paginator(warnings, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "compliance/warnings.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def warning_detail(request, pk: int):
    """A warning with its signals; a POST clears it with a reason. Showing it is a read of
    the customer's data (the evidence may name a court case), logged as one."""
    warning = access.warning_for_user(request.user, pk)
    can_clear = access.can_clear_warning(request.user, warning)
    form = WarningClearForm(request.POST or None)
    if request.method == "POST":
        require(can_clear)
        if form.is_valid():
            cleared = warning_clear(
                warning=warning, actor=request.user, reason=form.cleaned_data["reason"],
                context=AuditContext.of(request),
            )  # fmt: skip
            if cleared:
                messages.success(request, _("The warning is cleared."))
            else:
                messages.warning(request, _("This warning had already ended."))
            return redirect("compliance:warning-detail", pk=warning.pk)
    log_customer_read(
        actor=request.user, context=AuditContext.of(request), action=AccessLog.Action.VIEW,
        customer=warning.customer, object_type="compliance.riskwarning",
        detail={"warning": warning.pk},
    )  # fmt: skip
    signals = RiskSignal.objects.filter(warning=warning).order_by("-occurred_at", "-id")
    context = {
        "warning": warning,
        "signals": signals[:SIGNALS_SHOWN],
        "can_clear": can_clear and warning.status == RiskWarning.Status.OPEN,
        "form": form,
        "tone": TONES[warning.severity],
    }
    status = 400 if form.errors else 200
    return render(request, "compliance/warning_detail.html", context, status=status)


# ---- what customers' pages show (registered in apps.py) -----------------------------------


def customer_badges(request, customer) -> list[Badge]:
    """The 360 header: one badge per warning in force, most severe first, with what the RM
    should do. One query; none for roles that do not see warnings."""
    if not access.can_see_warnings(request.user):
        return []
    warnings = (
        RiskWarning.objects.in_force().filter(customer=customer).select_related("kind")
        .order_by("-severity", "-last_seen")
    )  # fmt: skip
    return [
        Badge(
            label=f"{w.kind.name} · {w.get_severity_display()}",
            tone=TONES[w.severity],
            note=w.kind.action,
            url=reverse("compliance:warning-detail", args=[w.pk]),
            testid=f"risk-warning-{w.kind.code}",
        )
        for w in warnings
    ]


def _with_warnings(customers):
    return customers.filter(any_warning_exists())


WITH_WARNINGS = ListFilter(label=gettext_lazy("With risk warnings"), apply=_with_warnings)


def home_section(request) -> dict | None:
    """The RM's and branch manager's home: warnings in force on the customers they see,
    most severe first. Two queries."""
    if not access.can_see_warnings(request.user):
        return None
    in_scope = RiskWarning.objects.in_force().filter(
        customer__in=customers_for_user(request.user).values("pk")
    )
    rows = (
        in_scope.select_related("customer", "kind")
        .only("severity", "last_seen", "kind__name_zh", "kind__name_en", "kind__code",
              "customer__name", "customer__cif")
        .order_by("-severity", "-last_seen", "-id")[:HOME_LIST_SIZE]
    )  # fmt: skip
    return {
        "template": "compliance/_home_warnings.html",
        "warnings": rows,
        "warning_count": in_scope.count(),
        "tones": TONES,
        "list_url": reverse("customers:list") + "?with_warnings=on",
    }

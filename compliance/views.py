from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bankcrm.audit import AuditContext, record_access
from bankcrm.exports import csv_download
from bankcrm.models import AccessLog
from compliance import access, selectors, services
from compliance.entries import Entry, csv_detail, entries_for, iterate_entries, plain
from compliance.forms import AuditFilterForm, FreezeForm, ReviewForm
from compliance.models import AccessAlert

EXPORT_LIMIT = 100_000


def _filtered(request):
    """The filter form, its cleaned values and the records it selects (None when the
    filter is not valid: nothing is listed rather than everything)."""
    form = AuditFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return form, {}, None
    params = form.cleaned_data if form.is_bound else {}
    params["kind"] = params.get("kind") or selectors.READS
    return form, params, {params["kind"]: selectors.audit_sources(params)}


def _page(request, sources: dict | None) -> dict:
    """One page of entries after the "older" link's cursor; CursorError for a made-up one."""
    rows, next_cursor = [], None
    if sources is not None:
        rows, next_cursor = selectors.page_after(sources, request.GET.get("after"))
    query = request.GET.copy()
    query.pop("after", None)
    return {"entries": entries_for(rows), "next_cursor": next_cursor, "query": query.urlencode()}


def _render_page(request, template: str, context: dict, *, status: int = 200):
    """The whole page, or only its rows for htmx (the "older" link)."""
    if request.htmx:
        return render(request, "compliance/_entries.html", context, status=status)
    return render(request, template, context, status=status)


def _bad_link():
    return HttpResponseBadRequest(_("This page link is not valid: open the list again."))


def _export(request, sources: dict, *, name: str, detail: dict, customer_id=None):
    """The records as CSV. The export is itself a sensitive read: logged with what was
    asked for and how many rows it gave."""
    # Up to now: the export's own log row (written next) is not part of what it exports.
    until = timezone.now()
    count = selectors.count_merged(sources, limit=EXPORT_LIMIT, until=until)
    record_access(
        actor=request.user,
        context=AuditContext.of(request),
        action=AccessLog.Action.EXPORT,
        object_type="compliance.audit",
        customer_id=customer_id,
        detail={**detail, "rows": count},
    )
    # Usernames and CIF numbers stay in columns of their own, for matching with other
    # systems' records; everything else reads as on the screen.
    header = [
        _("When (Beijing time)"), _("Username"), _("Who"), _("Records"), _("Action"),
        _("By (system)"), _("Account"), _("Object"), _("CIF number"), _("Customer"),
        _("IP address"), _("Request id"), _("Reason"), _("Detail"),
    ]  # fmt: skip

    def line(e: Entry) -> list:
        username = e.actor.obj.username if e.actor and e.actor.obj else ""
        subject = (e.subject.obj.username if e.subject.obj else e.subject.text) if e.subject else ""
        return [
            timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M:%S"), username,
            e.actor.text if e.actor else "", e.kind_label, e.action, plain(e.source), subject,
            " ".join(filter(None, [e.object_kind, e.object.plain if e.object else ""])),
            e.customer.cif if e.customer else "", e.customer_part.text if e.customer_part else "",
            e.ip, e.request_id, e.reason, csv_detail(e),
        ]  # fmt: skip

    rows = selectors.iterate_merged(sources, limit=EXPORT_LIMIT, until=until)
    return csv_download(header, (line(e) for e in iterate_entries(rows)), name=name)


@login_required
@require_GET
def audit_trail(request):
    access.require_reviewer(request.user)
    form, params, sources = _filtered(request)
    try:
        context = {"form": form, "params": params, **_page(request, sources)}
    except selectors.CursorError:
        return _bad_link()
    status = 200 if sources is not None else 400
    return _render_page(request, "compliance/audit.html", context, status=status)


@login_required
@require_GET
def audit_export(request):
    access.require_reviewer(request.user)
    _form, params, sources = _filtered(request)
    if sources is None:
        return HttpResponseBadRequest(_("The filter is not valid."))
    shown = {k: str(getattr(v, "pk", v)) for k, v in params.items() if v not in ("", None)}
    customer = params.get("customer")
    return _export(
        request, sources, name=f"audit-{params['kind']}", detail={"filter": shown},
        customer_id=customer.pk if customer else None,
    )  # fmt: skip


@login_required
@require_GET
def customer_history(request, pk: int):
    """Who read this customer, what changed, which delegations ran out: everything, newest
    first. Opening it is logged: who watches the watchers is audited too."""
    customer = access.customer_for_reviewer(request.user, pk)
    if not request.GET.get("after"):
        record_access(
            actor=request.user, context=AuditContext.of(request), action=AccessLog.Action.VIEW,
            object_type="compliance.customer_history",
            object_id=customer.pk, customer_id=customer.pk,
        )  # fmt: skip
    try:  # a first page has no cursor to be bad: the history's opening is logged once
        page = _page(request, selectors.customer_history_sources(customer))
    except selectors.CursorError:
        return _bad_link()
    return _render_page(request, "compliance/customer_history.html", {"customer": customer, **page})


@login_required
@require_GET
def customer_history_export(request, pk: int):
    customer = access.customer_for_reviewer(request.user, pk)
    return _export(
        request, selectors.customer_history_sources(customer), name=f"history-{customer.cif}",
        detail={"history_of": customer.cif}, customer_id=customer.pk,
    )  # fmt: skip


@login_required
@require_GET
def user_activity(request, pk: int):
    account = access.account_for_reviewer(request.user, pk)
    try:
        page = _page(request, selectors.user_activity_sources(account))
    except selectors.CursorError:
        return _bad_link()
    # Through the reviewer's alerts: none when the account is their own.
    alerts = (
        access.alerts_for_reviewer(request.user).filter(user=account)
        .select_related("rule", "reviewed_by").order_by("-raised_at")[:10]
    )  # fmt: skip
    context = {
        "account": account,
        "alerts": alerts,
        "can_act": access.can_act_on(request.user, account),
        "freeze_form": FreezeForm(),
        **page,
    }
    return _render_page(request, "compliance/user_activity.html", context)


@login_required
@require_GET
def user_activity_export(request, pk: int):
    account = access.account_for_reviewer(request.user, pk)
    return _export(
        request, selectors.user_activity_sources(account), name=f"activity-{account.username}",
        detail={"activity_of": account.username},
    )  # fmt: skip


def _account_action(request, pk: int, service, *, done: str, nothing: str):
    """Freeze or unfreeze by hand: a compliance officer, someone else's account, a reason."""
    account = access.account_for_reviewer(request.user, pk)
    if not access.can_act_on(request.user, account):
        raise PermissionDenied
    form = FreezeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason of at least ten characters."))
    elif service(
        user=account,
        officer=request.user,
        reason=form.cleaned_data["reason"],
        context=AuditContext.of(request),
    ):
        messages.success(request, done)
    else:
        messages.info(request, nothing)
    return redirect("compliance:user-activity", pk=account.pk)


@login_required
@require_POST
def user_freeze(request, pk: int):
    return _account_action(
        request, pk, services.account_freeze,
        done=_("The account is frozen and its sessions are ended."),
        nothing=_("The account was frozen already."),
    )  # fmt: skip


@login_required
@require_POST
def user_unfreeze(request, pk: int):
    return _account_action(
        request, pk, services.account_unfreeze,
        done=_("The freeze is lifted: the user can sign in again."),
        nothing=_("The account was not frozen."),
    )  # fmt: skip


ALERT_TABS = ["open", "dismissed", "confirmed", "all"]


@login_required
@require_GET
def alert_list(request):
    status = request.GET.get("status", "open")
    if status not in ALERT_TABS:
        status = "open"
    alerts = access.alerts_for_reviewer(request.user).select_related(
        "rule", "user__branch", "reviewed_by"
    )
    if status != "all":
        alerts = alerts.filter(status=status)
    context = {
        "alerts": alerts.order_by("-raised_at", "-pk")[:200],
        "status": status,
        "tabs": [(tab, _label(tab)) for tab in ALERT_TABS],
    }
    return render(request, "compliance/alerts.html", context)


def _label(tab: str) -> str:
    return _("All") if tab == "all" else AccessAlert.Status(tab).label


@login_required
@require_http_methods(["GET", "POST"])
def alert_detail(request, pk: int):
    alert = access.alert_for_reviewer(request.user, pk)
    can_review = access.can_act(request.user) and alert.status == AccessAlert.Status.OPEN
    form = ReviewForm(request.POST or None, initial={"unfreeze": True})
    if not alert.user.is_frozen:
        del form.fields["unfreeze"]
    if request.method == "POST":
        if not can_review:
            raise PermissionDenied
        if form.is_valid():
            reviewed = services.alert_review(
                alert=alert,
                reviewer=request.user,
                decision=form.cleaned_data["decision"],
                note=form.cleaned_data["note"],
                unfreeze=form.cleaned_data.get("unfreeze", False),
                context=AuditContext.of(request),
            )
            if reviewed:
                messages.success(request, _("The review is recorded."))
            else:
                messages.warning(request, _("Someone reviewed this alert a moment earlier."))
            return redirect("compliance:alert-detail", pk=alert.pk)
    reads = AccessLog.objects.filter(
        actor=alert.user, at__gte=alert.window_start, at__lte=alert.raised_at
    )
    rows, _next = selectors.page_after({selectors.READS: reads}, None)
    context = {
        "alert": alert,
        "form": form,
        "can_review": can_review,
        "entries": entries_for(rows),
        "activity_url": reverse("compliance:user-activity", args=[alert.user_id]),
    }
    return render(request, "compliance/alert_detail.html", context)

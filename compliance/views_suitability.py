"""Recording a sale (RMs and branch managers, from the 360 page) and the suitability screen
(compliance officers; admins read)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from bankcrm.audit import AuditContext, record_access
from bankcrm.exports import csv_download
from bankcrm.models import AccessLog
from compliance import access, sales, selectors_suitability
from compliance.suitability import suitability_check
from compliance.suitability_forms import CHECK, RECORD, SaleForm, SuitabilityFilterForm
from compliance.suitability_models import Purpose
from customers.access import products_for_user

PAGE = 50
EXPORT_LIMIT = 100_000


@login_required
@require_http_methods(["GET", "POST"])
def sale_create(request, pk: int):
    """Check, then record. "check" runs the rules (a block is recorded, with its reasons in
    the user's language) and shows what an allowed sale needs; "record" checks again, in the
    service, and saves the sale with its evidence, or only the block."""
    customer = access.customer_for_sale(request, pk)
    products = products_for_user(request.user).on_sale().order_by("risk_level", "code")
    verdict, status = None, 200
    if request.method == "GET":
        form = SaleForm(initial={"product": request.GET.get("product")}, products=products)
    else:
        form = SaleForm(request.POST, products=products)
        context = AuditContext.of(request)
        if not form.is_valid():
            status = 400
        elif request.POST.get("action") == RECORD:
            data = form.cleaned_data
            try:
                outcome = sales.sale_record(
                    actor=request.user, context=context, customer=customer,
                    product=data["product"], amount=data["amount"], channel=data["channel"],
                    confirmation_method=data["confirmation_method"],
                    confirmation_ref=data["confirmation_ref"],
                    recording_ref=data["recording_ref"],
                    recording_sha256=data["recording_sha256"],
                    customer_insists=data["customer_insists"],
                )  # fmt: skip
            except sales.SaleInvalidError as exc:
                form.add_error(exc.field, exc.message)
                status = 400
                verdict = suitability_check(
                    customer=customer, product=data["product"], purpose=Purpose.SALE,
                    customer_insists=data["customer_insists"], record=False,
                )  # fmt: skip
            else:
                if outcome.sale is not None:
                    messages.success(
                        request,
                        _("Sale %(reference)s recorded: give this reference to core banking.")
                        % {"reference": outcome.sale.reference},
                    )
                    return redirect("customers:detail", pk=customer.pk)
                verdict = outcome.verdict
        else:
            data = form.cleaned_data
            verdict = suitability_check(
                customer=customer, product=data["product"], purpose=Purpose.SALE,
                customer_insists=data["customer_insists"], actor=request.user, context=context,
            )  # fmt: skip
    return render(
        request,
        "compliance/sale_form.html",
        {"customer": customer, "form": form, "verdict": verdict, "CHECK": CHECK,
         "RECORD": RECORD},
        status=status,
    )  # fmt: skip


def _filtered(request):
    checks = access.suitability_checks_for_reviewer(request.user)
    form = SuitabilityFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return form, None, {}
    params = form.cleaned_data if form.is_bound else {}
    return form, selectors_suitability.filter_checks(checks, params), params


@login_required
@require_GET
def suitability_list(request):
    form, checks, _params = _filtered(request)
    if checks is None:
        return render(request, "compliance/suitability.html", {"form": form, "page": None},
                      status=400)  # fmt: skip
    page = Paginator(selectors_suitability.with_details(checks), PAGE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "compliance/suitability.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )  # fmt: skip


@login_required
@require_GET
def suitability_export(request):
    _form, checks, params = _filtered(request)
    if checks is None:
        return HttpResponseBadRequest(_("The filter is not valid."))
    checks = selectors_suitability.with_details(checks)
    count = min(checks.count(), EXPORT_LIMIT)
    shown = {k: str(getattr(v, "pk", v)) for k, v in params.items() if v not in ("", None)}
    record_access(
        actor=request.user, context=AuditContext.of(request), action=AccessLog.Action.EXPORT,
        object_type="compliance.suitability", detail={"filter": shown, "rows": count},
    )  # fmt: skip
    rows = (
        selectors_suitability.csv_row(check)
        for check in checks[:EXPORT_LIMIT].iterator(chunk_size=2000)
    )
    return csv_download(selectors_suitability.csv_header(), rows, name="suitability")

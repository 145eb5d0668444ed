import csv
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bankcrm import masking
from bankcrm.audit import AuditContext, record_access
from bankcrm.exports import csv_download
from bankcrm.models import AccessLog, User
from bankcrm.roles import Role
from customers import access, imports, selectors, services
from customers.forms import (
    ConsentForm,
    ContactForm,
    CustomerFilterForm,
    DelegationForm,
    ImportUploadForm,
    InteractionForm,
    ProductFilterForm,
    RevealForm,
    RiskQuestionnaireForm,
    SearchForm,
    TransactionFilterForm,
    too_large,
)
from customers.imports import FileError
from customers.models import CustomerDelegation, RiskQuestionnaire
from customers.panels import badges_for, panels_for

PAGE_SIZE = 25
# Ids of the 360 page's forms that its fragments render again.
REVEAL_IDS, TX_IDS = "reveal_%s", "tx_%s"


def _filtered(request):
    form = CustomerFilterForm(request.GET or None)
    params = form.cleaned_data if form.is_valid() else {}
    scope = access.customers_for_user(request.user)
    return form, params, selectors.filter_customers(scope, params)


@login_required
@require_GET
def customer_list(request):
    form, _params, customers = _filtered(request)
    # Lists show masked copies: the encrypted columns are not even read.
    customers = customers.select_related("primary_rm", "branch").defer(*access.ENCRYPTED_FIELDS)
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "can_export": access.can_export(request.user),
    }
    template = "customers/_list_results.html" if request.htmx else "customers/list.html"
    return render(request, template, context)


@login_required
@require_GET
def customer_export(request):
    access.require(access.can_export(request.user))
    form, params, customers = _filtered(request)
    if not form.is_valid() and request.GET:
        return HttpResponseBadRequest(_("The filter is not valid."))
    rows = customers.select_related("primary_rm", "branch").only(
        "cif", "name", "name_latin", "kind", "national_id_masked", "mobile_masked",
        "email_masked", "tier", "lifecycle", "kyc_status", "kyc_expires_on", "risk_level",
        "tags", "branch__code", "primary_rm__username",
    )  # fmt: skip
    count = customers.count()
    record_access(
        actor=request.user,
        context=AuditContext.of(request),
        action=AccessLog.Action.EXPORT,
        object_type="customers.customer",
        detail={
            "filter": {k: str(v) for k, v in params.items() if v not in ("", None, False)},
            "rows": count,
        },
    )
    header = [
        _("CIF number"), _("Name"), _("Name (Latin)"), _("Type"), _("ID number"), _("Mobile"),
        _("E-mail"), _("Value tier"), _("Lifecycle"), _("KYC status"), _("KYC expires on"),
        _("Risk level"), _("Tags"), _("Branch"), _("Relationship manager"),
    ]  # fmt: skip

    lines = (
        [
            c.cif, c.name, c.name_latin, c.get_kind_display(), c.national_id_masked,
            c.mobile_masked, c.email_masked, c.get_tier_display(), c.get_lifecycle_display(),
            c.get_kyc_status_display(), c.kyc_expires_on or "", c.get_risk_level_display(),
            " ".join(c.tags), c.branch.code, c.primary_rm.username if c.primary_rm else "",
        ]
        for c in rows.iterator(chunk_size=2000)
    )  # fmt: skip
    return csv_download(header, lines, name="customers")


@login_required
@require_GET
def customer_search(request):
    form = SearchForm({"q": request.GET.get("q", "")[:100]})
    template = "customers/_search_results.html" if request.htmx else "customers/search.html"
    if not form.is_valid():  # a character no customer's name holds (NUL)
        context = {"query": "", "result": selectors.SearchResult([], False, ""), "form": form}
        return render(request, template, context, status=400)
    query = form.cleaned_data["q"]
    result = selectors.SearchResult([], False, "")
    if query:
        scope = access.customers_for_user(request.user).defer(*access.ENCRYPTED_FIELDS)
        result = selectors.search_customers(scope, query)
        if result.by_identifier:
            # Never the identifier itself in the log: its kind and the hit count.
            record_access(
                actor=request.user,
                context=AuditContext.of(request),
                action=AccessLog.Action.SEARCH,
                object_type="customers.customer",
                customer_id=result.customers[0].pk if len(result.customers) == 1 else None,
                detail={"by": result.kind, "hits": len(result.customers)},
            )
        # An exact reference (CIF, ID, mobile, account number) names one customer: open it.
        if result.kind != "name" and len(result.customers) == 1 and not request.htmx:
            return redirect("customers:detail", pk=result.customers[0].pk)
    return render(request, template, {"query": query, "result": result, "form": form})


@login_required
@require_GET
def customer_detail(request, pk):
    customer = access.customer_read_by_user(
        request, pk, related=("branch", "primary_rm", "household"), defer=access.ENCRYPTED_FIELDS
    )
    see_assets = access.can_see_assets(request.user)
    context = {
        "customer": customer,
        "see_assets": see_assets,
        "can_edit": access.can_edit(request.user, customer),
        "can_reveal": access.can_reveal(request.user, customer),
        "can_log": access.can_log_interaction(request.user, customer),
        "timeline": selectors.timeline_entries(customer, request.user),
        "consents": selectors.consents_in_force(customer),
        "risk": selectors.current_risk_assessment(customer),
        "relationships": selectors.related_parties(customer, request.user),
        "household": selectors.household_view(customer, request.user) if see_assets else None,
        # One page, several forms: each its own ids, so every label names its own field.
        "interaction_form": InteractionForm(auto_id="interaction_%s"),
        "consent_form": ConsentForm(auto_id="consent_%s"),
        "reveal_form": RevealForm(auto_id=REVEAL_IDS),
        "tx_form": TransactionFilterForm(auto_id=TX_IDS),
        "panels": panels_for(request, customer),
        "badges": badges_for(request, customer),
    }
    if access.can_delegate(request.user, customer):
        context.update(
            can_delegate=True,
            now=timezone.now(),
            delegations=selectors.delegations_recent(customer),
            delegation_form=DelegationForm(auto_id="delegation_%s"),
        )
    if see_assets:
        holdings = selectors.holdings_summary(customer)
        history = selectors.monthly_deposit_balances(customer, holdings.deposits)
        transactions, has_more = selectors.transactions_page(customer, {}, page=1)
        context.update(
            holdings=holdings,
            chart=json.dumps(
                {"labels": [m for m, _ in history], "values": [float(v) for _, v in history]}
            ),
            transactions=transactions,
            tx_has_more=has_more,
            tx_page=1,
        )
    return render(request, "customers/detail.html", context)


@login_required
@require_GET
def customer_transactions(request, pk):
    form = TransactionFilterForm(request.GET, auto_id=TX_IDS)
    if not form.is_valid():  # the form's errors only: no transaction is shown, nothing read
        customer = access.customer_for_user(request.user, pk, defer=access.ENCRYPTED_FIELDS)
        access.require(access.can_see_assets(request.user))
        return render(
            request, "customers/_transactions.html", {"tx_form": form, "customer": customer},
            status=400,
        )  # fmt: skip
    shown = {k: str(v) for k, v in form.cleaned_data.items() if v not in (None, "")}
    customer = access.customer_read_by_user(
        request, pk, what="customers.transactions", detail={"filter": shown},
        allowed=access.can_see_assets, defer=access.ENCRYPTED_FIELDS,
    )  # fmt: skip
    page = form.cleaned_data.get("page") or 1
    transactions, has_more = selectors.transactions_page(customer, form.cleaned_data, page=page)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "customer": customer,
        "tx_form": form,
        "transactions": transactions,
        "tx_has_more": has_more,
        "tx_page": page,
        "tx_query": query.urlencode(),
    }
    return render(request, "customers/_transactions.html", context)


@login_required
@require_POST
def customer_reveal(request, pk):
    customer = access.customer_for_user(request.user, pk)
    access.require(access.can_reveal(request.user, customer))
    form = RevealForm(request.POST, auto_id=REVEAL_IDS)
    if not form.is_valid():
        return render(
            request, "customers/_reveal.html", {"customer": customer, "reveal_form": form},
            status=400,
        )  # fmt: skip
    field = form.cleaned_data["field"]
    value = services.identifier_reveal(
        actor=request.user, context=AuditContext.of(request), customer=customer, field=field,
        reason=form.cleaned_data["reason"],
    )  # fmt: skip
    context = {
        "customer": customer,
        "revealed": value,
        "field_label": dict(form.fields["field"].choices)[field],
    }
    return render(request, "customers/_reveal.html", context)


@login_required
@require_POST
def interaction_create(request, pk):
    customer = access.customer_for_user(request.user, pk)
    access.require(access.can_log_interaction(request.user, customer))
    form = InteractionForm(request.POST)
    if form.is_valid():
        services.interaction_log(actor=request.user, customer=customer, **form.cleaned_data)
        messages.success(request, _("Interaction logged."))
        return redirect("customers:detail", pk=customer.pk)
    return _detail_with_errors(request, customer, interaction_form=form)


@login_required
@require_POST
def consent_create(request, pk):
    customer = access.customer_for_user(request.user, pk)
    access.require(access.can_edit(request.user, customer))
    form = ConsentForm(request.POST)
    if form.is_valid():
        services.consent_record(actor=request.user, customer=customer, **form.cleaned_data)
        messages.success(request, _("Consent recorded."))
        return redirect("customers:detail", pk=customer.pk)
    return _detail_with_errors(request, customer, consent_form=form)


def _detail_with_errors(request, customer, **forms):
    """Re-render the form that failed, keeping what the user typed (nothing is lost)."""
    return render(
        request,
        "customers/form_page.html",
        {"customer": customer, "form": next(iter(forms.values())), "errors_only": True},
        status=400,
    )


@login_required
@require_http_methods(["GET", "POST"])
def contact_edit(request, pk):
    if request.method == "POST":
        customer = access.customer_for_user(request.user, pk)
        access.require(access.can_edit(request.user, customer))
        form = ContactForm(request.POST, current=_masked_contact(customer))
        if form.is_valid():
            services.contact_update(actor=request.user, customer=customer, **form.changes())
            messages.success(request, _("Contact details saved."))
            return redirect("customers:detail", pk=customer.pk)
    else:
        # The current details are shown masked, like everywhere else, and the page is a
        # logged read; a full value takes a reveal with its reason.
        customer = access.customer_read_by_user(
            request, pk, what="customers.contact", detail={"shown": "masked"},
            allowed=access.can_edit,
        )  # fmt: skip
        form = ContactForm(current=_masked_contact(customer))
    return render(
        request,
        "customers/form_page.html",
        {"customer": customer, "form": form, "title": _("Edit contact details")},
    )


def _masked_contact(customer) -> dict[str, str]:
    return {
        "mobile": customer.mobile_masked,
        "email": customer.email_masked,
        "address": masking.mask_address(customer.address),
    }


@login_required
@require_http_methods(["GET", "POST"])
def risk_assess(request, pk):
    customer = access.customer_for_user(request.user, pk)
    access.require(access.can_edit(request.user, customer))
    questionnaire = RiskQuestionnaire.objects.filter(is_active=True).first()
    if questionnaire is None:
        messages.error(request, _("No risk questionnaire is active. Ask an administrator."))
        return redirect("customers:detail", pk=customer.pk)
    form = RiskQuestionnaireForm(
        request.POST or None, questionnaire=questionnaire, language=get_language()
    )
    if request.method == "POST" and form.is_valid():
        profile = services.risk_profile_assess(
            actor=request.user, customer=customer, questionnaire=questionnaire,
            answers=form.cleaned_data,
        )  # fmt: skip
        messages.success(
            request,
            _("Risk profile: %(level)s (score %(score)s).")
            % {"level": profile.get_level_display(), "score": profile.score},
        )
        return redirect("customers:detail", pk=customer.pk)
    return render(
        request,
        "customers/form_page.html",
        {"customer": customer, "form": form, "title": _("Risk questionnaire")},
    )


# ---- delegation ---------------------------------------------------------------------------


def _delegation_candidates(request, customer):
    return (
        User.objects.filter(
            is_active=True, groups__name__in=[Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER]
        )
        .exclude(pk=request.user.pk)
        .exclude(pk=customer.primary_rm_id)
        .distinct()
        .order_by("username")
    )


@login_required
@require_POST
def delegation_create(request, pk):
    customer = access.customer_for_user(request.user, pk)
    access.require(access.can_delegate(request.user, customer))
    form = DelegationForm(request.POST, candidates=_delegation_candidates(request, customer))
    if not form.is_valid():
        return _detail_with_errors(request, customer, delegation_form=form)
    services.delegation_grant(actor=request.user, customer=customer, **form.cleaned_data)
    messages.success(request, _("Access delegated."))
    return redirect("customers:detail", pk=customer.pk)


@login_required
@require_POST
def delegation_revoke(request, pk, delegation_pk):
    customer = access.customer_for_user(request.user, pk)
    access.require(access.can_delegate(request.user, customer))
    delegation = get_object_or_404(CustomerDelegation, pk=delegation_pk, content_object=customer)
    services.delegation_revoke(actor=request.user, delegation=delegation)
    messages.success(request, _("Delegation ended."))
    return redirect("customers:detail", pk=customer.pk)


# ---- imports ------------------------------------------------------------------------------


# Form fields and multipart boundaries besides the file.
_UPLOAD_SLACK = 1024 * 1024


@csrf_exempt  # checked below, once the upload's size is bounded (the check reads the body)
@login_required
@require_http_methods(["GET", "POST"])
def import_list(request):
    access.require(access.can_import(request.user))
    if request.method == "POST":
        limit = imports.MAX_UPLOAD_BYTES + _UPLOAD_SLACK
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:  # refused before a byte of the body is read
            form = ImportUploadForm(kinds=access.import_kinds(request.user))
            return _import_page(request, form, upload_error=too_large(), status=413)
        request.upload_handlers.insert(0, imports.UploadLimitHandler(request, limit=limit))
    return _import_list(request)


@csrf_protect
def _import_list(request):
    kinds = access.import_kinds(request.user)
    form = ImportUploadForm(request.POST or None, request.FILES or None, kinds=kinds)
    if request.method == "POST":
        if request.upload_handlers[0].exceeded:  # a body without a length, cut off
            form = ImportUploadForm(kinds=kinds)
            return _import_page(request, form, upload_error=too_large(), status=413)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                batch = services.import_upload(
                    actor=request.user, context=AuditContext.of(request),
                    kind=form.cleaned_data["kind"], upload=upload,
                )  # fmt: skip
            except FileError as exc:
                form.add_error("file", str(exc))
            else:
                return redirect("customers:import-detail", pk=batch.pk)
    return _import_page(request, form, status=400 if request.method == "POST" else 200)


def _import_page(request, form, *, status: int, upload_error: str = ""):
    context = {
        "form": form,
        "upload_error": upload_error,
        "batches": access.imports_for_user(request.user)[:20],
        "columns": {
            kind: imports.column_help(kind)
            for kind in imports.COLUMNS
            if access.can_import(request.user, kind)
        },
    }
    return render(request, "customers/imports.html", context, status=status)


@login_required
@require_GET
def import_detail(request, pk):
    batch = access.import_for_user(request.user, pk)
    template = "customers/_import_status.html" if request.htmx else "customers/import_detail.html"
    header, rows = imports.preview_table(batch)
    context = {
        "batch": batch,
        "preview_header": header,
        "preview_rows": rows,
        "labels": imports.column_labels(batch.kind),
    }
    return render(request, template, context)


@login_required
@require_POST
def import_commit(request, pk):
    batch = access.import_for_user(request.user, pk)
    if services.import_commit(actor=request.user, context=AuditContext.of(request), batch=batch):
        messages.success(request, _("Import started."))
    else:
        messages.error(request, _("This file is not ready to import."))
    return redirect("customers:import-detail", pk=batch.pk)


@login_required
@require_POST
def import_discard(request, pk):
    batch = access.import_for_user(request.user, pk)
    discarded = services.import_discard(
        actor=request.user, context=AuditContext.of(request), batch=batch
    )
    if not discarded:
        messages.error(request, _("This import has finished; there is nothing to discard."))
    elif batch.created_count or batch.updated_count:
        messages.warning(
            request,
            _(
                "The import was stopped. The %(n)s rows it had already created or changed stay, "
                "with their audit entries; the rest of the file was not imported."
            )
            % {"n": batch.created_count + batch.updated_count},
        )
    else:
        messages.success(request, _("The file was discarded; nothing was imported."))
    return redirect("customers:import-list")


@login_required
@require_GET
def import_template(request, kind):
    """An empty file with the headers in the user's language (both languages read back)."""
    if kind not in imports.COLUMNS:
        raise Http404
    access.require(access.can_import(request.user, kind))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response.write("\ufeff")  # Excel opens UTF-8 Chinese correctly only with a BOM
    csv.writer(response).writerow(imports.template_header(kind))
    response["Content-Disposition"] = f'attachment; filename="bankcrm-{kind}-template.csv"'
    return response


# ---- product catalogue --------------------------------------------------------------------

PRODUCT_PAGE_SIZE = 25


def product_list_context(request) -> dict:
    """The product list's page: filters, one page of products (two queries, however many
    products), and whether the user maintains the catalogue."""
    access.require(access.can_read_products(request.user))
    form = ProductFilterForm(request.GET or None)
    params = form.cleaned_data if form.is_valid() else {}
    products = selectors.filter_products(access.products_for_user(request.user), params)
    page = Paginator(products, PRODUCT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "today": timezone.localdate(),
        "can_manage": access.can_manage_products(request.user),
    }


@login_required
@require_GET
def product_list(request):
    context = product_list_context(request)
    template = "customers/_product_results.html" if request.htmx else "customers/products.html"
    return render(request, template, context)


@login_required
@require_GET
def product_detail(request, pk):
    access.require(access.can_read_products(request.user))
    product = access.product_for_user(request.user, pk)
    context = {
        "product": product,
        "documents": selectors.product_documents(product),
        "today": timezone.localdate(),
        "can_manage": access.can_manage_products(request.user),
    }
    return render(request, "customers/product.html", context)


@login_required
@require_GET
def product_document_download(request, pk, document_pk):
    """A version of a product document, as uploaded. Product documents hold no personal
    data; the download is logged (access log, no customer) so what was handed out is known."""
    access.require(access.can_read_products(request.user))
    product = access.product_for_user(request.user, pk)
    document = access.product_document_for_user(request.user, product, document_pk)
    record_access(
        actor=request.user, context=AuditContext.of(request), action=AccessLog.Action.VIEW,
        object_type="customers.productdocument", object_id=document.pk,
        detail={"product": product.code, "kind": document.kind, "version": document.version},
    )  # fmt: skip
    response = HttpResponse(bytes(document.content), content_type=document.content_type)
    response["Content-Disposition"] = content_disposition_header(True, document.file_name)
    response["X-Content-Type-Options"] = "nosniff"
    return response

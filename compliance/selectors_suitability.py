"""Reading the suitability records for the compliance screen and its export: blocked checks,
allowed sales with their evidence, and set-based runs, newest first."""

from datetime import datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.suitability_models import SuitabilityCheck


def _local_midnight(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def filter_checks(checks: QuerySet[SuitabilityCheck], params: dict) -> QuerySet:
    """The screen's filters: dates (local, inclusive), verdict, code, purpose, product code,
    who (username) and the customer's branch."""
    if params.get("date_from"):
        checks = checks.filter(at__gte=_local_midnight(params["date_from"]))
    if params.get("date_to"):
        checks = checks.filter(at__lt=_local_midnight(params["date_to"] + timedelta(days=1)))
    if params.get("verdict") == "blocked":
        checks = checks.filter(allowed=False)
    elif params.get("verdict") == "allowed":
        checks = checks.filter(allowed=True, customer__isnull=False)
    if params.get("code"):
        checks = checks.filter(code=params["code"])
    if params.get("purpose"):
        checks = checks.filter(purpose=params["purpose"])
    if params.get("product"):
        checks = checks.filter(product__code=params["product"].strip().upper())
    if params.get("rm"):
        checks = checks.filter(actor__username=params["rm"].strip())
    if params.get("branch"):
        checks = checks.filter(branch=params["branch"])
    return checks


def with_details(checks: QuerySet) -> QuerySet:
    """Everything a row shows, in the one query of its page (the sale is one-to-one)."""
    return (
        checks.select_related("actor", "customer", "branch", "product", "ruleset", "sale")
        .defer("customer__national_id", "customer__mobile", "customer__email", "customer__address")
        .order_by("-at", "-id")
    )


def sale_of(check):
    try:
        return check.sale
    except SuitabilityCheck.sale.RelatedObjectDoesNotExist:
        return None


def csv_header() -> list:
    return [
        _("When (Beijing time)"), _("Username"), _("Branch"), _("CIF number"), _("Customer"),
        _("Product code"), _("Product risk"), _("Purpose"), _("Verdict"), _("Code"),
        _("Reasons"), _("Rules version"), _("Sale reference"), _("Amount"), _("Currency"),
        _("Status"), _("Questionnaire version"), _("Risk tolerance"), _("Warning shown"),
        _("Customer confirmed by"), _("Confirmation reference"), _("Recording reference"),
        _("Recording SHA-256"), _("Cooling-off ends"), _("Customers checked"),
        _("Customers allowed"),
    ]  # fmt: skip


def csv_row(check) -> list:
    sale = sale_of(check)
    local = timezone.localtime
    return [
        local(check.at).strftime("%Y-%m-%d %H:%M:%S"),
        check.actor.username if check.actor else "",
        check.branch.name if check.branch else "",
        check.customer.cif if check.customer else "",
        check.customer.name if check.customer else "",
        check.product.code, f"R{check.product.risk_level}", check.get_purpose_display(),
        _("Allowed") if check.allowed else _("Blocked"), check.code,
        " ".join(check.reasons), check.ruleset.version,
        *(
            [sale.reference, sale.amount, sale.currency, sale.get_status_display(),
             sale.questionnaire_version or "",
             f"C{sale.customer_risk_level}" if sale.customer_risk_level else "",
             sale.warning_text, sale.get_confirmation_method_display(), sale.confirmation_ref,
             sale.recording_ref, sale.recording_sha256,
             local(sale.cooling_off_ends).strftime("%Y-%m-%d %H:%M") if sale.cooling_off_ends
             else ""]
            if sale else [""] * 12
        ),
        check.customers_checked if check.customers_checked is not None else "",
        check.customers_allowed if check.customers_allowed is not None else "",
    ]  # fmt: skip

"""Recording a sale, the first user of the suitability engine, and its confirmation by core
banking.

sale_record() runs the check again inside its transaction (whatever the page showed), and
then either records the block (a SuitabilityCheck row, nothing else) or the sale with the
evidence the regulator asks for: the assessment it relied on (questionnaire version, level,
score, lowest category), the product's risk, the warning text the customer was shown and
how they confirmed it (signature on paper, SMS one-time password), the 双录 recording's
reference and SHA-256 when the verdict requires one, and the end of the cooling-off period.
Missing evidence saves nothing (SaleInvalidError).

A sale is `recorded` until core banking sends `sale.confirmed` with its reference and the
account that holds it: the sale links to that holding (created if core banking has not
sent it yet) and becomes `confirmed`. A replayed or second confirmation changes nothing; a
confirmation that arrives before its sale is parked and applied when replayed.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bankcrm import crypto
from bankcrm.audit import AuditContext, acting, audit_context
from compliance.suitability import Verdict, check_record, suitability_check
from compliance.suitability_models import Purpose, Sale
from customers.ingest.services import ParkedError
from customers.models import ACCOUNT_NUMBER_INDEX, Account, Customer, Product, ProductKind

SHA256 = re.compile(r"^[0-9a-f]{64}$")


class SaleInvalidError(Exception):
    """The sale cannot be recorded as given (evidence missing, an amount below the product's
    minimum): nothing was saved. `field` names the form field at fault."""

    def __init__(self, field: str, message):
        super().__init__(str(message))
        self.field = field
        self.message = message


@dataclass(frozen=True)
class SaleOutcome:
    verdict: Verdict
    sale: Sale | None  # None when blocked (only the block was recorded)


def new_reference(at: datetime) -> str:
    """What the RM keys into core banking and core banking sends back: SL-<date>-<random>."""
    return f"SL-{timezone.localtime(at):%Y%m%d}-{secrets.token_hex(4).upper()}"


@transaction.atomic
def sale_record(
    *, actor, context: AuditContext, customer: Customer, product: Product, amount: Decimal,
    channel: str, confirmation_method: str, confirmation_ref: str, recording_ref: str = "",
    recording_sha256: str = "", customer_insists: bool = False, at: datetime | None = None,
) -> SaleOutcome:  # fmt: skip
    """Checks and records. Blocked: the block is recorded and returned (sale None), nothing
    else. Allowed: the sale with its evidence and the check that allowed it. SaleInvalidError
    (nothing saved) when the amount or the evidence does not do."""
    at = at or timezone.now()
    if amount is None or amount <= 0 or amount < product.min_amount:
        raise SaleInvalidError("amount", _msg("amount", product))
    with acting(actor=actor, context=context):
        # The rules are applied here, to the product as it is now, whatever the page showed.
        product = Product.objects.get(pk=product.pk)
        verdict = suitability_check(
            customer=customer, product=product, purpose=Purpose.SALE, at=at,
            customer_insists=customer_insists, actor=actor, context=context,
        )  # fmt: skip
        if not verdict.allowed:
            return SaleOutcome(verdict, None)
        required = verdict.requirements
        recording_sha256 = (recording_sha256 or "").strip().lower()
        recording_ref = (recording_ref or "").strip()
        if required.dual_recording and not recording_ref:
            raise SaleInvalidError("recording_ref", _msg("recording_ref", product))
        if (required.dual_recording or recording_sha256) and not SHA256.match(recording_sha256):
            raise SaleInvalidError("recording_sha256", _msg("recording_sha256", product))
        if not (confirmation_ref or "").strip():
            raise SaleInvalidError("confirmation_ref", _msg("confirmation_ref", product))
        check = check_record(actor=actor, customer=customer, product=product, verdict=verdict)
        assessment = verdict.assessment
        sale = Sale.objects.create(
            reference=new_reference(at),
            suitability_check=check,
            customer=customer,
            product=product,
            branch_id=customer.branch_id,
            recorded_by=actor,
            recorded_at=at,
            amount=amount,
            currency=product.currency,
            channel=channel,
            risk_profile_id=assessment.profile_id,
            questionnaire_version=assessment.questionnaire_version,
            customer_risk_level=assessment.assessed_level,
            risk_score=assessment.score,
            lowest_category=assessment.lowest_category,
            special_care=verdict.special_care,
            product_risk_level=product.risk_level,
            warning_text=verdict.warning_text,
            confirmation_method=confirmation_method,
            confirmation_ref=confirmation_ref.strip(),
            mismatch_confirmed=required.mismatch_confirmation,
            recording_required=required.dual_recording,
            recording_ref=recording_ref,
            recording_sha256=recording_sha256,
            cooling_off_ends=required.cooling_off_until,
        )
    return SaleOutcome(verdict, sale)


def _msg(field: str, product: Product):
    if field == "amount":
        return _("At least %(minimum)s %(currency)s.") % {
            "minimum": product.min_amount, "currency": product.currency,
        }  # fmt: skip
    return {
        "recording_ref": _("This sale needs a dual recording (双录): give its reference."),
        "recording_sha256": _("Give the recording's SHA-256 (64 hexadecimal characters)."),
        "confirmation_ref": _("Give the signed form's number or the OTP's reference."),
    }[field]


# ---- confirmation by core banking (integration event `sale.confirmed`) --------------------

# The holding a confirmed sale becomes, by the product's type.
HOLDING_KIND = {
    ProductKind.CURRENT_DEPOSIT: Account.Kind.CURRENT,
    ProductKind.TIME_DEPOSIT: Account.Kind.TIME_DEPOSIT,
    ProductKind.LOAN: Account.Kind.LOAN,
    ProductKind.CREDIT_CARD: Account.Kind.CARD,
}


def apply_sale_confirmed(event, batch) -> None:
    """Links the sale (by reference) to its holding. The sale's row is locked, so two
    deliveries of one confirmation cannot both apply; one already confirmed is left as it
    is (a replay, or a second confirmation, changes nothing). Parked, for an admin's replay:
    a reference no sale has yet, an account of another customer, another currency."""
    data = event.payload
    with audit_context(label=f"source:{event.source.code}", request_id=f"event:{event.event_id}"):
        sale = (
            Sale.objects.select_for_update().select_related("product")
            .filter(reference=data["sale_reference"]).first()
        )  # fmt: skip
        if sale is None:
            raise ParkedError("unknown_sale")
        if sale.status == Sale.Status.CONFIRMED:
            return
        if data["currency"] != sale.currency:
            raise ParkedError("currency_mismatch")
        index = crypto.blind_index(data["account_number"], purpose=ACCOUNT_NUMBER_INDEX)
        holding = Account.objects.filter(number_index=index).first()
        if holding is not None and holding.customer_id != sale.customer_id:
            raise ParkedError("holding_of_another_customer")
        product = sale.product
        if holding is None:
            holding = Account(
                customer_id=sale.customer_id,
                kind=HOLDING_KIND.get(product.kind, Account.Kind.WEALTH),
                product=product,
                product_name=product.name_zh,
                currency=sale.currency,
                balance=data["amount"],
                balance_as_of=event.occurred_at,
                balance_sequence=event.sequence,
                risk_level=f"R{product.risk_level}",
                opened_on=timezone.localdate(event.occurred_at),
            )
            holding.set_number(data["account_number"])
            holding.save()
        elif holding.product_id is None:
            Account.objects.filter(pk=holding.pk).update(product=product)
        Sale.objects.filter(pk=sale.pk, status=Sale.Status.RECORDED).update(
            status=Sale.Status.CONFIRMED,
            holding=holding,
            confirmed_at=event.occurred_at,
            confirmation_event=f"{event.source.code}:{event.event_id}"[:100],
        )

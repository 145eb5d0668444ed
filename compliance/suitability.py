"""The suitability engine: may this customer be offered this product, for this purpose, now?

Every module asks through `suitability_check(customer=, product=, purpose=, at=)` (one
customer) or `eligible_customers(customers, product, purpose=, at=)` (many, in one SQL
statement); both apply the rules of the SuitabilityRuleSet in force at `at`, and a test
holds them equal on random populations. The rules, in the order a verdict names them:

1. the product is on sale (`product_not_on_sale`) and `at`'s local date (Asia/Shanghai) is
   inside its sale window (`outside_sale_window`);
2. the customer's kind may buy it (`wrong_customer_kind`), their tier is at least its
   minimum (`below_min_tier`);
3. marketing only: no severe risk warning (`severe_warning_marketing`; the customer may still
   be served and may still buy: warnings restrict what the bank pushes, not what it sells);
4. the product's risk is at most what the customer's tolerance admits (the rule set's
   matrix, C1 → R1 … C5 → all): without a valid assessment R1 only
   (`assessment_missing_or_expired`), in the lowest category R1 only (`lowest_category`);
   a wealth product (理财) above the tolerance is a hard block (`wealth_hard_block`); any
   other product above it is `risk_exceeds_tolerance`, which a sale (only) may pass when the
   customer insists in writing after a special warning (the mismatch confirmation, with
   dual recording): what the fund and insurance rules allow and the wealth rules forbid.

An allowed sale carries what it still needs (`Requirements`): dual audio-video recording
双录 (private placements; a customer's insisted mismatch; products of the rule set's
recording kinds, wealth, fund and insurance by default, sold to a special-care customer or
at or above its recording risk, R4 by default), the end of the cooling-off period (private
placements: 24 hours), a special risk warning the customer confirms (private placements,
special care, mismatch), and the warning text the customer is shown.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from bankcrm.audit import SYSTEM, AuditContext, acting
from compliance.suitability_models import (
    RULE_DEFAULTS,
    Purpose,
    SuitabilityCheck,
    SuitabilityRuleSet,
)
from compliance.warnings import has_severe_warning, severe_warning_exists
from customers.models import (
    Customer,
    Product,
    ProductKind,
    RiskProfile,
    RiskTolerance,
    born_on_or_before_for_age,
)
from customers.models.products import ProductEligibility, ProductRisk, eligible_tiers
from customers.selectors import RiskAssessment, current_risk_assessment

ALLOWED = "allowed"
# Codes of a block that stops every purpose; risk_exceeds_tolerance alone may be passed
# by a sale whose customer insists (not by marketing or service).
OVERRIDABLE = frozenset({"risk_exceeds_tolerance"})

# ---- the rule set in force ----------------------------------------------------------------


def ruleset_in_force(at: datetime | None = None) -> SuitabilityRuleSet:
    """The version in force at `at` (now): the highest whose effective_from has come (one
    indexed read; not cached, so a new version counts in every process at once). Version 1
    is seeded by migration; a database emptied since (a flushed test database) gets it
    again, with the same regulatory defaults."""
    at = at or timezone.now()
    ruleset = SuitabilityRuleSet.objects.in_force(at)
    if ruleset is None:
        ruleset, _created = SuitabilityRuleSet.objects.get_or_create(
            version=1,
            defaults={
                **RULE_DEFAULTS,
                "effective_from": datetime(2000, 1, 1, tzinfo=UTC),
                "note": "Regulatory defaults",
            },
        )
    return ruleset


@transaction.atomic
def ruleset_add_version(
    *, actor, values: dict, note: str = "", effective_from=None, context: AuditContext = SYSTEM
):
    """A new version of the rules with `values` (fields of SuitabilityRuleSet), numbered
    after the latest (under a lock, so two editors cannot take one number). The old
    versions stay as they were: checks name the version they applied. The insert is
    `actor`'s in the data-change trail, whoever calls (the admin, a shell, a task)."""
    with acting(actor=actor, context=context):
        SuitabilityRuleSet.objects.select_for_update().order_by("-version").first()
        latest = SuitabilityRuleSet.objects.order_by("-version").values_list("version", flat=True)
        return SuitabilityRuleSet.objects.create(
            version=(latest.first() or 0) + 1,
            created_by=actor,
            note=note,
            effective_from=effective_from or timezone.now(),
            **values,
        )


# ---- verdicts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    """One reason, shown in the reader's language (a lazy message and its values)."""

    code: str
    message: object  # a lazy translation
    params: dict = field(default_factory=dict)

    def __str__(self) -> str:
        text = str(self.message)
        return text % self.params if self.params else text


@dataclass(frozen=True)
class Requirements:
    """What an allowed sale still needs before it may be recorded."""

    dual_recording: bool = False
    cooling_off_until: datetime | None = None
    special_warning: bool = False
    mismatch_confirmation: bool = False

    def as_json(self) -> dict:
        return {
            "dual_recording": self.dual_recording,
            "cooling_off_until": self.cooling_off_until.isoformat()
            if self.cooling_off_until
            else None,
            "special_warning": self.special_warning,
            "mismatch_confirmation": self.mismatch_confirmation,
        }


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    code: str  # ALLOWED, or the first reason's code
    reasons: tuple[Reason, ...]
    ruleset: SuitabilityRuleSet
    purpose: str
    at: datetime
    assessment: RiskAssessment | None = None
    special_care: bool = False
    requirements: Requirements = Requirements()
    warning_text: str = ""  # what the customer is shown (the bank's language)

    @property
    def ruleset_version(self) -> int:
        return self.ruleset.version

    @property
    def codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]

    @property
    def overridable(self) -> bool:
        """Blocked only because the product's risk is above the tolerance, for a sale of a
        product that is not a hard block: the customer may insist (with the special warning
        and dual recording)."""
        return (
            not self.allowed
            and self.purpose == Purpose.SALE
            and bool(self.reasons)
            and all(reason.code in OVERRIDABLE for reason in self.reasons)
        )

    def reasons_text(self) -> list[str]:
        return [str(reason) for reason in self.reasons]


@dataclass(frozen=True)
class CustomerFacts:
    """What the rules read about a customer (one indexed read and, for marketing, the
    warnings)."""

    customer_id: int
    kind: str
    tier: str
    birth_date: object
    assessment: RiskAssessment
    severe_warning: bool = False


def customer_facts(customer: Customer, *, purpose: str, at: datetime) -> CustomerFacts:
    day = timezone.localdate(at)
    return CustomerFacts(
        customer_id=customer.pk,
        kind=customer.kind,
        tier=customer.tier,
        birth_date=customer.birth_date,
        assessment=current_risk_assessment(customer, on=day),
        severe_warning=purpose == Purpose.MARKETING and has_severe_warning(customer.pk, at),
    )


def _risk_label(level: int) -> str:
    return str(ProductRisk(level).label)


def _tolerance_label(level: int | None) -> str:
    return str(RiskTolerance(level).label) if level else str(_("none"))


def evaluate(
    *, rules: SuitabilityRuleSet, facts: CustomerFacts, product: Product, purpose: str,
    at: datetime, customer_insists: bool = False,
) -> Verdict:  # fmt: skip
    """The rules applied to what was read: no query. suitability_check reads and records;
    the 360 panel evaluates every product on sale against one read of the customer."""
    if purpose not in Purpose.values:
        raise ValueError(f"unknown purpose {purpose!r}")
    day = timezone.localdate(at)
    reasons: list[Reason] = []
    if product.status != Product.Status.ON_SALE:
        reasons.append(Reason("product_not_on_sale", _("The product is not on sale (%(status)s)."),
                              {"status": product.get_status_display()}))  # fmt: skip
    elif not product.is_on_sale(day):
        reasons.append(Reason(
            "outside_sale_window", _("The product is sold from %(starts)s to %(ends)s."),
            {"starts": product.sale_starts or "…", "ends": product.sale_ends or "…"},
        ))  # fmt: skip
    if not product.admits_kind(facts.kind):
        reasons.append(Reason(
            "wrong_customer_kind", _("The product is for %(kinds)s only."),
            {"kinds": ProductEligibility(product.eligible_kinds).label},
        ))  # fmt: skip
    if not product.admits_tier(facts.tier):
        reasons.append(Reason(
            "below_min_tier", _("The product needs a customer tier of %(tier)s or above."),
            {"tier": product.get_min_tier_display()},
        ))  # fmt: skip
    if purpose == Purpose.MARKETING and facts.severe_warning:
        reasons.append(Reason(
            "severe_warning_marketing",
            _("The customer has a severe risk warning: they may be served, not marketed to."),
        ))  # fmt: skip
    assessment = facts.assessment
    tolerance = assessment.level
    lowest = tolerance is not None and assessment.lowest_category
    max_risk = 1 if tolerance is None or lowest else rules.max_risk(tolerance)
    mismatch = product.risk_level > max_risk
    params = {"risk": _risk_label(product.risk_level), "tolerance": _tolerance_label(tolerance)}
    if mismatch:
        if tolerance is None:
            message = (_("The risk assessment has expired: only R1 products until it is renewed.")
                       if assessment.expired else
                       _("The customer has no risk assessment: only R1 products until they "
                         "answer the questionnaire."))  # fmt: skip
            reasons.append(Reason("assessment_missing_or_expired", message))
        elif lowest:
            reasons.append(Reason(
                "lowest_category",
                _("The customer is in the lowest risk category: R1 products only."),
            ))  # fmt: skip
        elif product.kind == ProductKind.WEALTH and rules.wealth_hard_block:
            reasons.append(Reason(
                "wealth_hard_block",
                _("A wealth product of %(risk)s is above the customer's tolerance %(tolerance)s"
                  ": it may not be sold, even if the customer insists."), params,
            ))  # fmt: skip
        else:
            reasons.append(Reason(
                "risk_exceeds_tolerance",
                _("The product's risk %(risk)s is above the customer's tolerance %(tolerance)s."),
                params,
            ))  # fmt: skip
    special_care = facts.birth_date is not None and facts.birth_date <= born_on_or_before_for_age(
        rules.special_care_age, day
    )
    base = {"ruleset": rules, "purpose": purpose, "at": at, "assessment": assessment,
            "special_care": special_care}  # fmt: skip
    insisted = (
        customer_insists
        and purpose == Purpose.SALE
        and reasons
        and all(r.code in OVERRIDABLE for r in reasons)
    )
    if reasons and not insisted:
        return Verdict(allowed=False, code=reasons[0].code, reasons=tuple(reasons), **base)
    requirements = _requirements(
        rules, product, special_care=special_care, mismatch=insisted, at=at
    )
    return Verdict(
        allowed=True,
        code=ALLOWED,
        reasons=tuple(reasons),  # an insisted mismatch keeps its reason on the record
        requirements=requirements,
        warning_text=_warning_text(
            rules, product, assessment, requirements, special_care=special_care
        ),
        **base,
    )


def _requirements(rules, product, *, special_care: bool, mismatch: bool, at) -> Requirements:
    recorded_kind = product.kind in rules.recording_kinds
    recording = (
        product.private_placement
        or mismatch
        or (recorded_kind and (special_care or product.risk_level >= rules.recording_min_risk))
    )
    cooling = at + timedelta(hours=rules.cooling_off_hours) if product.private_placement else None
    return Requirements(
        dual_recording=recording,
        cooling_off_until=cooling,
        special_warning=product.private_placement or special_care or mismatch,
        mismatch_confirmation=mismatch,
    )


def _warning_text(rules, product, assessment, requirements, *, special_care: bool) -> str:
    """The risk warning the customer reads and confirms, in the bank's language (Chinese):
    kept with the sale as shown."""
    with translation.override(settings.LANGUAGE_CODE):
        lines = [
            str(_("This product's risk level is %(risk)s; your risk tolerance is %(tolerance)s.")
                % {"risk": _risk_label(product.risk_level),
                   "tolerance": _tolerance_label(assessment.level)}),
        ]  # fmt: skip
        if product.kind not in (ProductKind.CURRENT_DEPOSIT, ProductKind.TIME_DEPOSIT):
            lines.append(str(_("This product is not a deposit. Its value may fall and you may "
                               "lose money: invest prudently.")))  # fmt: skip
        if requirements.mismatch_confirmation:
            lines.append(str(_("This product's risk is above your risk tolerance. You have asked "
                               "to buy it nonetheless and confirm that you may lose part or all "
                               "of the amount invested.")))  # fmt: skip
        if requirements.cooling_off_until:
            until = timezone.localtime(requirements.cooling_off_until)
            lines.append(str(_("This is a private placement: you may cancel within the "
                               "cooling-off period of %(hours)d hours, until %(until)s.")
                             % {"hours": rules.cooling_off_hours,
                                "until": until.strftime("%Y-%m-%d %H:%M")}))  # fmt: skip
        if special_care:
            lines.append(str(_("Take your time to decide; you may ask a family member to be "
                               "present.")))  # fmt: skip
        return "\n".join(lines)


# ---- one customer -------------------------------------------------------------------------


def suitability_check(
    *, customer: Customer, product: Product, purpose: str, at: datetime | None = None,
    customer_insists: bool = False, actor=None, context: AuditContext | None = None,
    record: bool = True,
) -> Verdict:  # fmt: skip
    """The verdict for one customer and product. A blocked verdict is recorded (a
    SuitabilityCheck row, by `actor`) unless `record` is False (a page that only shows
    what may be offered); an allowed one is recorded when its sale is (compliance.sales)."""
    at = at or timezone.now()
    rules = ruleset_in_force(at)
    verdict = evaluate(
        rules=rules, facts=customer_facts(customer, purpose=purpose, at=at), product=product,
        purpose=purpose, at=at, customer_insists=customer_insists,
    )  # fmt: skip
    if record and not verdict.allowed:
        check_record(actor=actor, customer=customer, product=product, verdict=verdict)
    return verdict


def check_record(*, actor, customer: Customer, product: Product, verdict: Verdict):
    """The verdict as evidence: reasons as the bank's language words them."""
    with translation.override(settings.LANGUAGE_CODE):
        reasons = verdict.reasons_text()
    return SuitabilityCheck.objects.create(
        at=verdict.at,
        actor=actor if actor is not None and actor.is_authenticated else None,
        customer=customer,
        branch_id=customer.branch_id,
        product=product,
        ruleset=verdict.ruleset,
        purpose=verdict.purpose,
        allowed=verdict.allowed,
        code=verdict.code,
        reasons=reasons,
        requirements=verdict.requirements.as_json() if verdict.allowed else {},
    )


def verdicts_for_products(
    customer: Customer, products, *, purpose: str, at: datetime | None = None
) -> list[tuple[Product, Verdict]]:
    """Every product of `products` judged for one customer, reading the customer once (the
    360 page's panel): nothing is recorded."""
    at = at or timezone.now()
    rules = ruleset_in_force(at)
    facts = customer_facts(customer, purpose=purpose, at=at)
    return [
        (p, evaluate(rules=rules, facts=facts, product=p, purpose=purpose, at=at)) for p in products
    ]


# ---- many customers -----------------------------------------------------------------------


def eligible_customers(
    customers: QuerySet[Customer], product: Product, *, purpose: str, at: datetime | None = None
) -> QuerySet[Customer]:
    """The customers of `customers` that `product` may be offered to for `purpose` at
    `at`: the same rules as suitability_check (without a customer's insistence), as one SQL
    statement. What depends on the product alone is decided here (not on sale: none); kind
    and tier are plain filters; the risk rule is a semi-join on the current assessment that
    reads only the partial unique index risk_profile_one_current (its INCLUDE columns:
    level, expiry, lowest category); marketing adds NOT EXISTS of a severe warning."""
    if purpose not in Purpose.values:
        raise ValueError(f"unknown purpose {purpose!r}")
    at = at or timezone.now()
    day = timezone.localdate(at)
    rules = ruleset_in_force(at)
    if not product.is_on_sale(day):
        return customers.none()
    qs = customers
    if product.eligible_kinds != ProductEligibility.BOTH:
        qs = qs.filter(kind=product.eligible_kinds)
    tiers = eligible_tiers(product.min_tier)
    if len(tiers) < len(Customer.Tier.values):
        qs = qs.filter(tier__in=tiers)
    if product.risk_level > 1:  # R1 is open to everyone; above it, a valid assessment
        levels = rules.levels_admitting(product.risk_level)
        qs = qs.filter(
            Exists(
                RiskProfile.objects.filter(
                    customer_id=OuterRef("pk"),
                    is_current=True,
                    level__in=levels,
                    expires_on__gte=day,
                    lowest_category=False,
                )
            )
        )
    if purpose == Purpose.MARKETING:
        # compliance.warnings' own condition, over its partial index of open severe ones.
        qs = qs.filter(~severe_warning_exists("pk", at))
    return qs


def eligible_customers_recorded(
    customers: QuerySet[Customer], product: Product, *, purpose: str, actor,
    at: datetime | None = None,
) -> tuple[QuerySet[Customer], SuitabilityCheck]:  # fmt: skip
    """eligible_customers for a run over many customers (a campaign's audience), recorded
    as ONE SuitabilityCheck summary row for the product, purpose and run (how many were
    checked and how many may be offered), not one per customer: a million rows a campaign
    would tell an auditor nothing the rules and the counts do not."""
    at = at or timezone.now()
    eligible = eligible_customers(customers, product, purpose=purpose, at=at)
    checked, allowed = customers.count(), eligible.count()
    row = SuitabilityCheck.objects.create(
        at=at,
        actor=actor if actor is not None and actor.is_authenticated else None,
        product=product,
        ruleset=ruleset_in_force(at),
        purpose=purpose,
        allowed=allowed > 0,
        code="set_run",
        customers_checked=checked,
        customers_allowed=allowed,
    )
    return eligible, row

"""Reads for the customer list, search and 360 page. Each returns in a fixed number of
queries however much history a customer has."""

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.search import TrigramSimilarity
from django.db import connection
from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Collate, Greatest, Upper
from django.utils import timezone
from django.utils.translation import gettext as _

from bankcrm import crypto, registry
from bankcrm.validators import normalise_mobile
from customers import access
from customers.models import (
    ACCOUNT_NUMBER_INDEX,
    MOBILE_INDEX,
    NATIONAL_ID_INDEX,
    SPECIAL_CARE_AGE,
    Account,
    Consent,
    Customer,
    Product,
    ProductDocument,
    RiskProfile,
    RiskTolerance,
    Transaction,
    born_on_or_before_for_age,
    tier_rank,
)

LIST_SORTS = {
    "cif": "cif",
    "name": "name",
    "tier": tier_rank().desc(),  # private banking first
    "kyc": "kyc_expires_on",
    "newest": "-created_at",
}


def filter_customers(qs: QuerySet[Customer], params) -> QuerySet[Customer]:
    """Apply the list filters from cleaned form data (CustomerFilterForm)."""
    if params.get("tier"):
        qs = qs.filter(tier=params["tier"])
    if params.get("lifecycle"):
        qs = qs.filter(lifecycle=params["lifecycle"])
    if params.get("risk_level"):
        qs = qs.filter(risk_level=params["risk_level"])
    if params.get("tag"):
        qs = qs.filter(tags__contains=[params["tag"]])
    if params.get("kyc_expiring"):
        qs = qs.kyc_expiring(30)
    for name, list_filter in registry.CUSTOMER_LIST_FILTERS.items():
        if params.get(name):
            qs = list_filter.apply(qs)
    return qs.order_by(LIST_SORTS.get(params.get("sort") or "cif", "cif"), "pk")


# ---- search -------------------------------------------------------------------------------

# CIF numbers are letters and digits; an exact hit on the unique index is tried first.
_CIF = re.compile(r"^[A-Z]{1,4}\d{4,16}$", re.IGNORECASE)
_DIGITS = re.compile(r"^\+?[\d\s-]+$")


@dataclass
class SearchResult:
    customers: list
    by_identifier: bool  # exact identifier searches are sensitive reads: the view logs them
    kind: str


def search_customers(scope: QuerySet[Customer], query: str, limit: int = 20) -> SearchResult:
    """Name (Chinese or pinyin, prefix or fuzzy), CIF, account number, full mobile or full
    national ID — always inside `scope`."""
    query = query.strip()
    compact = re.sub(r"[\s-]", "", query).removeprefix("+")
    fields = ("primary_rm", "branch")
    if _CIF.match(compact):
        found = list(scope.filter(cif=compact.upper()).select_related(*fields))
        if found:
            return SearchResult(found, False, "cif")
    if len(compact) == 18 and (compact[:17].isdigit() or compact[:2].isalnum()):
        index = crypto.blind_index(compact, purpose=NATIONAL_ID_INDEX)
        found = scope.filter(national_id_index=index).select_related(*fields)
        return SearchResult(list(found), True, "national_id")
    if _DIGITS.match(query) and len(compact) >= 11:
        if len(compact) in (11, 13) and compact.lstrip("86").startswith("1"):
            try:
                index = crypto.blind_index(normalise_mobile(compact), purpose=MOBILE_INDEX)
            except Exception:  # not a valid mobile: try it as an account number
                index = None
            if index:
                found = scope.filter(mobile_index=index).select_related(*fields)
                return SearchResult(list(found), True, "mobile")
        index = crypto.blind_index(compact, purpose=ACCOUNT_NUMBER_INDEX)
        account_owner = Account.objects.filter(number_index=index).values("customer_id")
        found = scope.filter(pk__in=account_owner).select_related(*fields)
        return SearchResult(list(found), True, "account")
    if len(query) < 1:
        return SearchResult([], False, "name")
    return SearchResult(_search_names(scope, query, limit, fields), False, "name")


_CJK = re.compile(r"[\u3400-\u9fff]")


def _search_names(scope, query: str, limit: int, fields) -> list[Customer]:
    """Prefix first, in name order, on the byte-ordered (COLLATE "C") indexes of the Chinese
    name and of the upper-cased Latin name: the first `limit` matches are read straight off
    the index, even among a million customers. Only when nothing starts with the query does
    a trigram search (GIN indexes, the `%` similarity operator) look for typos and fragments.
    """
    if _CJK.search(query):
        key, value = Collate("name", "C"), query
    else:
        key, value = Collate(Upper("name_latin"), "C"), query.upper()
    found = list(
        scope.annotate(search_key=key)
        .filter(search_key__startswith=value)
        .select_related(*fields)
        .order_by("search_key", "pk")[:limit]
    )
    if found or len(query) < 2:
        return found
    upper = query.upper()
    return list(
        scope.annotate(
            name_upper=Upper("name"),
            latin_upper=Upper("name_latin"),
            similarity=Greatest(
                TrigramSimilarity(Upper("name"), upper),
                TrigramSimilarity(Upper("name_latin"), upper),
            ),
        )
        .filter(Q(name_upper__trigram_similar=upper) | Q(latin_upper__trigram_similar=upper))
        .select_related(*fields)
        .order_by("-similarity", "pk")[:limit]
    )


# ---- the 360 page ------------------------------------------------------------------------


DEPOSIT_KINDS = (Account.Kind.CURRENT, Account.Kind.TIME_DEPOSIT)


@dataclass
class Holdings:
    accounts: list
    by_kind: dict
    assets: dict  # currency -> Decimal
    liabilities: dict
    # Open current and time deposits in the default currency: what the balance chart shows.
    deposits: Decimal


def holdings_summary(customer: Customer) -> Holdings:
    # The masked number is shown; the encrypted one is not decrypted.
    accounts = list(customer.accounts.defer("number").order_by("kind", "opened_on", "pk"))
    by_kind: dict[str, list] = defaultdict(list)
    assets: dict[str, Decimal] = defaultdict(Decimal)
    liabilities: dict[str, Decimal] = defaultdict(Decimal)
    deposits = Decimal(0)
    for account in accounts:
        by_kind[account.kind].append(account)
        if account.status == Account.Status.CLOSED:
            continue
        (liabilities if account.is_liability else assets)[account.currency] += account.balance
        if account.kind in DEPOSIT_KINDS and account.currency == settings.DEFAULT_CURRENCY:
            deposits += account.balance
    return Holdings(accounts, dict(by_kind), dict(assets), dict(liabilities), deposits)


def monthly_deposit_balances(customer: Customer, current_total: Decimal, months: int = 12) -> list:
    """Month-end balance of the customer's deposits over the last `months`, derived from the
    current balance and the monthly net flows (one grouped query on the (customer, time)
    index)."""
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    first = date(today.year, today.month, 1)
    starts = []
    for _month in range(months):
        starts.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    starts.reverse()
    since = datetime.combine(starts[0], datetime.min.time(), tzinfo=tz)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT date_trunc('month', booked_at AT TIME ZONE %s)::date AS month,
                   sum(CASE WHEN direction = 'credit' THEN amount ELSE -amount END)
              FROM customers_transaction
             WHERE customer_id = %s AND booked_at >= %s AND currency = %s
             GROUP BY 1
            """,
            [settings.TIME_ZONE, customer.pk, since, settings.DEFAULT_CURRENCY],
        )
        flows = dict(cursor.fetchall())
    # Walk back from today's balance: the end of month m is the end of m+1 minus its flows.
    points = []
    balance = current_total
    for start in reversed(starts):
        points.append((start.strftime("%Y-%m"), balance))
        balance -= flows.get(start, Decimal(0))
    points.reverse()
    return points


def transactions_page(customer: Customer, filters: dict, *, page: int, size: int = 20):
    qs = (
        Transaction.objects.filter(customer=customer)
        .select_related("account")
        .defer("account__number")
    )
    # Local-day bounds as instants, so the (customer, booked_at) index serves the range.
    tz = timezone.get_current_timezone()
    if filters.get("date_from"):
        qs = qs.filter(booked_at__gte=datetime.combine(filters["date_from"], time.min, tzinfo=tz))
    if filters.get("date_to"):
        end = filters["date_to"] + timedelta(days=1)
        qs = qs.filter(booked_at__lt=datetime.combine(end, time.min, tzinfo=tz))
    if filters.get("kind"):
        qs = qs.filter(kind=filters["kind"])
    if filters.get("min_amount") is not None:
        qs = qs.filter(amount__gte=filters["min_amount"])
    if filters.get("max_amount") is not None:
        qs = qs.filter(amount__lte=filters["max_amount"])
    offset = (page - 1) * size
    rows = list(qs.order_by("-booked_at", "-pk")[offset : offset + size + 1])
    return rows[:size], len(rows) > size


@dataclass
class TimelineEntry:
    at: datetime
    kind: str  # interaction | consent | risk | account
    title: str
    detail: str
    channel: str = ""
    actor: str = ""
    confidential_hidden: bool = False
    # An interaction's note: ("interaction", id), and its (label, score) when a higher app
    # annotates it (bankcrm.registry.TEXT_ANNOTATIONS: its sentiment).
    ref: tuple[str, int] | None = None
    annotation: tuple[str, float] | None = None


def timeline_entries(customer: Customer, user, limit: int = 25) -> list[TimelineEntry]:
    """Interactions, consent changes, risk assessments and account openings, newest first;
    the notes shown carry their annotation (one query for all of them)."""
    entries = []
    for item in customer.interactions.select_related("actor").order_by("-occurred_at")[:limit]:
        hidden = item.confidential and not access.can_read_confidential(user, item)
        entries.append(
            TimelineEntry(
                at=item.occurred_at,
                kind="interaction",
                title=item.subject,
                detail="" if hidden else item.notes,
                channel=item.get_channel_display(),
                actor=item.actor.display_name if item.actor else "",
                confidential_hidden=hidden,
                ref=None if hidden or not item.notes else ("interaction", item.pk),
            )
        )
    annotations = registry.text_annotations([e.ref for e in entries if e.ref])
    for entry in entries:
        entry.annotation = annotations.get(entry.ref) if entry.ref else None
    for consent in customer.consents.select_related("recorded_by").order_by("-recorded_at")[:limit]:
        entries.append(
            TimelineEntry(
                at=consent.recorded_at,
                kind="consent",
                title=consent.get_purpose_display(),
                detail=consent.source,
                channel=consent.get_channel_display(),
                actor=consent.recorded_by.display_name if consent.recorded_by else "",
            )
        )
    profiles = customer.risk_profiles.select_related("assessed_by", "questionnaire")
    for profile in profiles.order_by("-assessed_at")[:limit]:
        entries.append(
            TimelineEntry(
                at=profile.assessed_at,
                kind="risk",
                title=profile.get_level_display(),
                detail=_("score %(score)s, questionnaire v%(version)s, valid until %(until)s")
                % {
                    "score": profile.score,
                    "version": profile.questionnaire.version,
                    "until": profile.expires_on.isoformat(),
                },
                actor=profile.assessed_by.display_name if profile.assessed_by else "",
            )
        )
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]


def consents_in_force(customer: Customer) -> list[Consent]:
    return list(Consent.objects.filter(customer=customer).current())


# ---- risk tolerance (what the suitability rules read) -------------------------------------


@dataclass(frozen=True)
class RiskAssessment:
    """A customer's risk tolerance as the suitability rules see it on `on`.

    `level` is the tolerance in force: None when there is no assessment or it has expired
    (the rules then allow R1 only). `assessed_level` is what the last questionnaire gave,
    expired or not (for showing). `lowest_category` (最低风险承受能力类别) limits the customer
    to R1 whatever the level; `max_product_risk` folds all of that into the highest product
    risk (1-5) the tolerance admits. `needs_special_care`: aged 65 or over on `on`."""

    level: int | None
    assessed_level: int | None
    lowest_category: bool
    expires_on: date | None
    expired: bool
    needs_special_care: bool
    profile_id: int | None = None
    questionnaire_version: int | None = None
    score: int | None = None
    assessed_at: datetime | None = None

    @property
    def max_product_risk(self) -> int:
        if self.level is None or self.lowest_category:
            return 1
        return self.level

    @property
    def missing(self) -> bool:
        return self.profile_id is None

    @property
    def label(self) -> str:
        """The assessed level's label (C3 稳健型), expired or not; "" when never assessed."""
        return "" if self.assessed_level is None else str(RiskTolerance(self.assessed_level).label)


def current_risk_assessment(customer: Customer, on: date | None = None) -> RiskAssessment:
    """The customer's current assessment (one indexed row: risk_profile_one_current) read as
    on the local date `on` (today). Valid through expires_on, expired the day after."""
    day = on or timezone.localdate()
    profile = (
        RiskProfile.objects.current()
        .filter(customer_id=customer.pk)
        .select_related("questionnaire")
        .only(
            "pk", "level", "lowest_category", "expires_on", "score", "assessed_at",
            "questionnaire__version",
        )
        .first()
    )  # fmt: skip
    elderly = customer.birth_date is not None and customer.birth_date <= (
        born_on_or_before_for_age(SPECIAL_CARE_AGE, day)
    )
    if profile is None:
        return RiskAssessment(None, None, False, None, False, elderly)
    expired = profile.expires_on < day
    return RiskAssessment(
        level=None if expired else profile.level,
        assessed_level=profile.level,
        lowest_category=profile.lowest_category,
        expires_on=profile.expires_on,
        expired=expired,
        needs_special_care=elderly,
        profile_id=profile.pk,
        questionnaire_version=profile.questionnaire.version,
        score=profile.score,
        assessed_at=profile.assessed_at,
    )


# The same rules as RiskAssessment.max_product_risk, for a set-based query over customers:
# join the current assessment (an index probe on risk_profile_one_current, whose INCLUDE
# columns answer it without reading the table) and compare with a product's risk level.
#   SELECT c.id FROM customers_customer c
#     LEFT JOIN customers_riskprofile r ON r.customer_id = c.id AND r.is_current
#    WHERE <MAX_PRODUCT_RISK_SQL> >= %(product_risk)s
MAX_PRODUCT_RISK_SQL = (
    "CASE WHEN r.id IS NULL OR r.expires_on < %(today)s OR r.lowest_category THEN 1"
    " ELSE r.level END"
)


def with_max_product_risk(customers: QuerySet[Customer], on: date | None = None):
    """`customers` annotated with `max_product_risk` (1-5), the highest product risk their
    current assessment admits on `on` (RiskAssessment.max_product_risk, in SQL), and
    `special_care` (aged 65 or over): one query however many customers."""
    day = on or timezone.localdate()
    current = RiskProfile.objects.current().filter(customer_id=OuterRef("pk"))
    level = Subquery(current.filter(expires_on__gte=day, lowest_category=False).values("level"))
    return customers.annotate(
        max_product_risk=Coalesce(level, Value(1)),
        special_care=Q(birth_date__isnull=False)
        & Q(birth_date__lte=born_on_or_before_for_age(SPECIAL_CARE_AGE, day)),
    )


# ---- the product catalogue ----------------------------------------------------------------


def filter_products(qs: QuerySet[Product], params) -> QuerySet[Product]:
    """The product list's filters (ProductFilterForm), in code order."""
    if params.get("kind"):
        qs = qs.filter(kind=params["kind"])
    if params.get("risk_level"):
        qs = qs.filter(risk_level=params["risk_level"])
    if params.get("on_sale"):
        qs = qs.on_sale()
    return qs.order_by("code", "pk")


def product_documents(product: Product) -> dict[str, list[ProductDocument]]:
    """The product's documents by kind, newest version first (the first is current); one
    query, without the files' contents."""
    by_kind: dict[str, list] = {kind: [] for kind in ProductDocument.Kind.values}
    rows = (
        ProductDocument.objects.filter(product=product)
        .defer("content")
        .select_related("uploaded_by")
        .order_by("kind", "-version")
    )
    for document in rows:
        by_kind[document.kind].append(document)
    return by_kind


@dataclass
class HouseholdMember:
    card: "access.RelatedCustomer"
    assets: Decimal | None  # None outside the viewer's scope
    liabilities: Decimal | None


@dataclass
class HouseholdView:
    name: str
    members: list[HouseholdMember]
    # In CNY, over the members the viewer may see: a total that counted the others would
    # give away their figures (total minus what is shown).
    total_assets: Decimal
    total_liabilities: Decimal
    hidden: int  # members outside the viewer's scope, shown by masked name only


def household_view(customer: Customer, user) -> HouseholdView | None:
    if customer.household_id is None:
        return None
    members = list(
        Customer.objects.filter(household_id=customer.household_id)
        .only("pk", "cif", "name", "kind")
        .annotate(
            assets=Sum(
                "accounts__balance",
                filter=~Q(accounts__kind__in=Account.LIABILITY_KINDS)
                & Q(accounts__currency=settings.DEFAULT_CURRENCY)
                & ~Q(accounts__status=Account.Status.CLOSED),
                default=Decimal(0),
            ),
            liabilities=Sum(
                "accounts__balance",
                filter=Q(accounts__kind__in=Account.LIABILITY_KINDS)
                & Q(accounts__currency=settings.DEFAULT_CURRENCY)
                & ~Q(accounts__status=Account.Status.CLOSED),
                default=Decimal(0),
            ),
        )
        .order_by("cif")
    )
    cards = access.related_customers_for_user(user, members)
    shown = []
    for m in members:
        card = cards[m.pk]
        figures = (m.assets, m.liabilities) if card.in_scope else (None, None)
        shown.append(HouseholdMember(card, *figures))
    # In scope first, then the others (their order would hint at their CIFs).
    shown.sort(key=lambda m: not m.card.in_scope)
    visible = [m for m in shown if m.card.in_scope]
    return HouseholdView(
        name=customer.household.name,
        members=shown,
        total_assets=sum((m.assets for m in visible), Decimal(0)),
        total_liabilities=sum((m.liabilities for m in visible), Decimal(0)),
        hidden=len(shown) - len(visible),
    )


@dataclass
class RelatedParty:
    kind_label: str
    role: str
    share_percent: Decimal | None
    card: "access.RelatedCustomer"


def related_parties(customer: Customer, user) -> list[RelatedParty]:
    rows = list(
        customer.relationships.select_related("related")
        .only(
            "kind", "role", "share_percent", "customer_id", "related__cif", "related__name",
            "related__kind",
        )
        .order_by("kind", "related__cif")
    )  # fmt: skip
    cards = access.related_customers_for_user(user, [r.related for r in rows])
    return [
        RelatedParty(r.get_kind_display(), r.role, r.share_percent, cards[r.related_id])
        for r in rows
    ]


def delegations_recent(customer: Customer) -> list:
    """Delegations in force and those ended in the last 30 days, newest first."""
    from customers.models import CustomerDelegation

    since = timezone.now() - timedelta(days=30)
    return list(
        CustomerDelegation.objects.filter(content_object=customer, expires_at__gt=since)
        .select_related("user", "permission", "granted_by")
        .order_by("-granted_at")
    )

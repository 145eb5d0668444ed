"""Segment conditions: a registry of fields, and a tree of them compiled to one query.

A segment's `conditions` is a tree: a group `{"op": "and"|"or"|"not", "children": [...]}`
(NOT negates the AND of its children) whose leaves are conditions
`{"field": "tier", "op": "in", "value": ["affluent"]}`, with `"days": 30` for fields over a
window (transactions). compile_tree() turns it into one `Q` over customers.Customer:
customer attributes are plain column tests (the table's own indexes), holdings, consents and
tickets are EXISTS subqueries and transaction aggregates correlated scalar subqueries, each
bounded by the customer's id first, so they read the (customer, …) indexes of those tables
and PostgreSQL can run them as semi-joins. The result is always used inside the builder's
scope (marketing.access.audience_scope), so a segment holds only what its owner may see.

Fields are registered, not listed here: SEGMENT_FIELDS is an extension point keyed by the
field's key. marketing registers the fields of the layers below it (this module's end);
a higher app (analytics' scores) registers its own in its AppConfig.ready():

    from marketing.segments import SEGMENT_FIELDS, SegmentField, number_q
    SEGMENT_FIELDS.register(SegmentField(
        key="churn_score", label=_("Churn score"), group=_("Scores"), kind="number",
        q=number_q(Subquery(...score of OuterRef("pk")...))), key="churn_score")

and the builder, the compiler and the explanation in words pick it up unchanged. A field
says how to test a condition (`q(condition) -> Q`) and, by its kind, which operators and
values it takes; explain() says the tree in words in the active language.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bankcrm.models import Branch, User
from bankcrm.registry import ExtensionPoint
from bankcrm.roles import Role
from customers.models import Account, Consent, Customer, RiskTolerance, Transaction
from service.models import Category, Ticket

SEGMENT_FIELDS = ExtensionPoint("segment fields", keyed=True)

MAX_DEPTH = 4
MAX_CONDITIONS = 30
MAX_DAYS = 3650

# Operators by kind of field, with how they read in a sentence.
OPERATORS = {
    "choice": {"in": _("is one of"), "not_in": _("is none of")},
    "number": {"gte": _("is at least"), "lte": _("is at most"), "between": _("is between")},
    "days": {"within": _("falls within the next"), "passed": _("has passed")},
    "flag": {"yes": _("yes"), "no": _("no")},
    "recency": {"within": _("within the last"), "not_within": _("not within the last")},
}
GROUP_OPS = {"and": _("all of"), "or": _("any of"), "not": _("none of")}


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: object = None
    days: int | None = None


@dataclass(frozen=True)
class SegmentField:
    """A field conditions can test. `q(condition)` returns the test as a Q over Customer;
    `choices()` lists the values of a choice field [(value, label)]; `window` fields take
    a number of days (the window of an aggregate)."""

    key: str
    label: Promise | str
    group: Promise | str
    kind: str  # a key of OPERATORS
    q: Callable[[Condition], Q]
    choices: Callable[[], list[tuple[str, str]]] | None = None
    window: bool = False
    free: bool = False  # a choice field whose values are typed (tags), not listed
    unit: Promise | str = ""
    help: Promise | str = ""
    operators: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "operators", OPERATORS[self.kind])


# ---- validating and compiling a tree ---------------------------------------------------


def empty_tree() -> dict:
    return {"op": "and", "children": []}


def clean_tree(tree, *, depth: int = 0, counter: list | None = None) -> dict:
    """The tree as stored: groups and conditions checked against the registry, values
    normalised (choices known, numbers Decimal-safe strings, days in range); anything
    else is a ValidationError."""
    counter = counter if counter is not None else [0]
    if not isinstance(tree, dict):
        raise ValidationError(_("A condition group is malformed."))
    if "field" in tree:
        counter[0] += 1
        if counter[0] > MAX_CONDITIONS:
            raise ValidationError(
                _("A segment has at most %(n)s conditions.") % {"n": MAX_CONDITIONS}
            )
        return clean_condition(tree)
    op = tree.get("op")
    children = tree.get("children", [])
    if op not in GROUP_OPS or not isinstance(children, list):
        raise ValidationError(_("A condition group is malformed."))
    if depth >= MAX_DEPTH:
        raise ValidationError(_("Groups nest at most %(n)s deep.") % {"n": MAX_DEPTH})
    return {
        "op": op,
        "children": [clean_tree(c, depth=depth + 1, counter=counter) for c in children],
    }


def clean_condition(raw: dict) -> dict:
    spec = SEGMENT_FIELDS.get(raw.get("field"))
    if spec is None:
        raise ValidationError(_("Unknown field."))
    op = raw.get("op")
    if op not in spec.operators:
        raise ValidationError(_("%(field)s: choose a condition.") % {"field": spec.label})
    value = raw.get("value")
    out = {"field": spec.key, "op": op}
    if spec.kind == "choice":
        values = value if isinstance(value, list) else str(value or "").split(",")
        values = [str(v).strip()[:30] for v in values if str(v or "").strip()]
        known = set(values) if spec.free else {str(v) for v, _label in spec.choices()}
        if not values or not set(values) <= known:
            raise ValidationError(
                _("%(field)s: choose one or more values.") % {"field": spec.label}
            )
        out["value"] = sorted(set(values))
    elif spec.kind == "number":
        bounds = value if isinstance(value, list) else [value]
        try:
            numbers = [Decimal(str(v).strip()) for v in bounds]
        except (InvalidOperation, ValueError):
            raise ValidationError(_("%(field)s: enter a number.") % {"field": spec.label}) from None
        if len(numbers) != (2 if op == "between" else 1) or any(not n.is_finite() for n in numbers):
            raise ValidationError(_("%(field)s: enter a number.") % {"field": spec.label})
        if op == "between" and numbers[0] > numbers[1]:
            numbers.reverse()
        out["value"] = [str(n) for n in numbers] if op == "between" else str(numbers[0])
    elif spec.kind in ("days", "recency") and op != "passed":
        out["value"] = _days(value, spec)
    if spec.window:
        out["days"] = _days(raw.get("days"), spec)
    return out


def _days(value, spec) -> int:
    try:
        days = int(str(value).strip())
    except (TypeError, ValueError):
        days = -1
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(
            _("%(field)s: a number of days from 1 to %(max)s.")
            % {"field": spec.label, "max": MAX_DAYS}
        )
    return days


def compile_tree(tree: dict) -> Q:
    """One Q over Customer for a cleaned tree (clean_tree)."""
    if "field" in tree:
        spec = SEGMENT_FIELDS.get(tree["field"])
        return spec.q(Condition(tree["field"], tree["op"], tree.get("value"), tree.get("days")))
    parts = [compile_tree(child) for child in tree["children"]]
    if tree["op"] == "or":
        if not parts:
            return Q(pk__in=[])  # any of nothing: nobody
        combined = parts[0]
        for part in parts[1:]:
            combined |= part
        return combined
    combined = Q()
    for part in parts:
        combined &= part
    return ~combined if tree["op"] == "not" and parts else combined


# ---- saying a tree in words ------------------------------------------------------------


def explain(tree: dict) -> str:
    """The conditions as a sentence in the active language: "Everyone" for an empty tree."""
    text = _explain(tree, top=True)
    return text or gettext("Every customer in scope")


def _explain(tree: dict, *, top: bool = False) -> str:
    if "field" in tree:
        return explain_condition(tree)
    parts = [_explain(child) for child in tree["children"]]
    if not parts:
        return ""
    if tree["op"] == "not":
        return gettext("not (%(what)s)") % {"what": gettext(" and ").join(parts)}
    joiner = gettext(" and ") if tree["op"] == "and" else gettext(" or ")
    text = joiner.join(parts)
    return text if top or len(parts) == 1 else gettext("(%(what)s)") % {"what": text}


def explain_condition(cond: dict) -> str:
    spec = SEGMENT_FIELDS.get(cond["field"])
    if spec is None:
        return "?"
    op, value = cond["op"], cond.get("value")
    words = {"field": str(spec.label), "op": str(spec.operators[op]), "unit": str(spec.unit)}
    if spec.kind == "choice":
        names = dict(spec.choices()) if not spec.free else {}
        words["values"] = gettext(", ").join(str(names.get(v, v)) for v in value)
        text = gettext("%(field)s %(op)s %(values)s") % words
    elif spec.kind == "number" and op == "between":
        words.update(low=value[0], high=value[1])
        text = gettext("%(field)s is between %(low)s and %(high)s %(unit)s") % words
    elif spec.kind == "number":
        text = gettext("%(field)s %(op)s %(value)s %(unit)s") % {**words, "value": value}
    elif spec.kind == "days" and op == "passed":
        text = gettext("%(field)s has passed") % words
    elif spec.kind == "days":
        text = gettext("%(field)s falls within the next %(days)s days") % {**words, "days": value}
    elif spec.kind == "recency" and op == "within":
        text = gettext("%(field)s within the last %(days)s days") % {**words, "days": value}
    elif spec.kind == "recency":
        text = gettext("%(field)s not within the last %(days)s days") % {**words, "days": value}
    else:  # flag
        text = words["field"] if op == "yes" else gettext("not %(field)s") % words
    if spec.window and cond.get("days"):
        text += gettext(" (last %(days)s days)") % {"days": cond["days"]}
    return " ".join(text.split())


# ---- building blocks for fields ---------------------------------------------------------


def choice_q(column: str) -> Callable[[Condition], Q]:
    def q(cond: Condition) -> Q:
        test = Q(**{f"{column}__in": cond.value})
        return test if cond.op == "in" else ~test

    return q


def number_q(expression) -> Callable[[Condition], Q]:
    """A number field over an expression of the customer (a column or a subquery)."""

    def q(cond: Condition) -> Q:
        if cond.op == "between":
            low, high = (Decimal(v) for v in cond.value)
            return Q(GreaterThanOrEqual(expression, low)) & Q(LessThanOrEqual(expression, high))
        lookup = GreaterThanOrEqual if cond.op == "gte" else LessThanOrEqual
        return Q(lookup(expression, Decimal(cond.value)))

    return q


def date_within_q(column: str) -> Callable[[Condition], Q]:
    """Dates ahead (an expiry): within the next N days, from today; or already passed."""

    def q(cond: Condition) -> Q:
        today = timezone.localdate()
        if cond.op == "passed":
            return Q(**{f"{column}__lt": today})
        return Q(**{f"{column}__range": (today, today + timedelta(days=cond.value))})

    return q


def exists_q(make: Callable[[Condition], Exists]) -> Callable[[Condition], Q]:
    def q(cond: Condition) -> Q:
        test = Q(make(cond))
        return ~test if cond.op in ("no", "not_in", "not_within") else test

    return q


def _age_q(cond: Condition) -> Q:
    """Age in whole years from the birth date: a range of birth dates (the column's)."""
    today = timezone.localdate()

    def born_by(years: int) -> date:  # the latest birth date of someone `years` old today
        try:
            return today.replace(year=today.year - years)
        except ValueError:  # 29 February
            return today.replace(year=today.year - years, day=28)

    if cond.op == "between":
        low, high = (int(Decimal(v)) for v in cond.value)
        return Q(birth_date__lte=born_by(low), birth_date__gt=born_by(high + 1))
    years = int(Decimal(cond.value))
    if cond.op == "gte":
        return Q(birth_date__lte=born_by(years))
    return Q(birth_date__gt=born_by(years + 1))


def _since(days: int):
    return timezone.now() - timedelta(days=days)


def _txn_window(cond: Condition):
    return Transaction.objects.filter(customer=OuterRef("pk"), booked_at__gte=_since(cond.days))


def _txn_aggregate(aggregate, output_field):
    def expression(cond: Condition):
        rows = _txn_window(cond).order_by().values("customer").annotate(v=aggregate).values("v")
        return Coalesce(Subquery(rows), Value(0), output_field=output_field)

    def q(cond: Condition) -> Q:
        return number_q(expression(cond))(cond)

    return q


def _holds(cond: Condition) -> Exists:
    return Exists(
        Account.objects.filter(customer=OuterRef("pk"), kind__in=cond.value, status="active")
    )


def _deposits_total(cond: Condition) -> Q:
    rows = (
        Account.objects.filter(customer=OuterRef("pk"), status="active")
        .exclude(kind__in=Account.LIABILITY_KINDS)
        .order_by()
        .values("customer")
        .annotate(v=Sum("balance"))
        .values("v")
    )
    return number_q(Coalesce(Subquery(rows), Value(Decimal(0))))(cond)


def _maturing(cond: Condition) -> Q:
    today = timezone.localdate()
    return Q(
        Exists(
            Account.objects.filter(
                customer=OuterRef("pk"),
                status="active",
                kind__in=[Account.Kind.TIME_DEPOSIT, Account.Kind.WEALTH],
                matures_on__range=(today, today + timedelta(days=cond.value)),
            )
        )
    )


def consent_in_force(channel: str, customer_ref="pk"):
    """The marketing consent in force for `channel`: the latest record for that channel or
    for all channels (a withdrawal for all after a grant for SMS withdraws SMS; a grant for
    SMS after it grants SMS again); NULL when the customer never said."""
    return Subquery(
        Consent.objects.filter(
            customer=OuterRef(customer_ref), purpose=Consent.Purpose.MARKETING,
            channel__in=[channel, Consent.Channel.ALL],
        ).order_by("-recorded_at", "-pk").values("granted")[:1]
    )  # fmt: skip


def _consent_q(cond: Condition) -> Q:
    combined = Q()
    for channel in cond.value:
        granted = Q(Exact(Coalesce(consent_in_force(channel), False), True))
        combined &= granted if cond.op == "in" else ~granted
    return combined


def _open_complaint(cond: Condition) -> Exists:
    return Exists(
        Ticket.objects.filter(customer=OuterRef("pk"), category=Category.COMPLAINT).exclude(
            status__in=Ticket.CLOSED_STATES
        )
    )


def _last_csat():
    rows = (
        Ticket.objects.filter(customer=OuterRef("pk"), satisfaction__isnull=False)
        .order_by("-updated_at", "-pk")
        .values("satisfaction")[:1]
    )
    return Subquery(rows)


def _recent_activity(cond: Condition) -> Exists:
    return Exists(
        Transaction.objects.filter(customer=OuterRef("pk"), booked_at__gte=_since(cond.value))
    )


def _txn_channel(cond: Condition) -> Exists:
    return Exists(_txn_window(cond).filter(channel__in=cond.value))


# ---- choices read when the builder is shown ---------------------------------------------


def _branches():
    return [
        (str(pk), name) for pk, name in Branch.objects.order_by("code").values_list("pk", "name")
    ]


def _rms():
    rms = User.objects.filter(groups__name=Role.RELATIONSHIP_MANAGER, is_active=True).order_by(
        "username"
    )
    return [(str(u.pk), u.display_name) for u in rms]


def _fixed(choices):
    return lambda: [(str(v), str(label)) for v, label in choices]


CUSTOMER = _("Customer")
HOLDINGS = _("Holdings")
TRANSACTIONS = _("Transactions")
CONSENTS = _("Consents")
SERVICE = _("Service")
YEARS = _("years")
CNY = _("yuan")


def _register_defaults() -> None:
    fields = [
        SegmentField("tier", _("Value tier"), CUSTOMER, "choice", choice_q("tier"),
                     choices=_fixed(Customer.Tier.choices)),
        SegmentField("lifecycle", _("Lifecycle"), CUSTOMER, "choice", choice_q("lifecycle"),
                     choices=_fixed(Customer.Lifecycle.choices)),
        SegmentField("kind", _("Customer type"), CUSTOMER, "choice", choice_q("kind"),
                     choices=_fixed(Customer.Kind.choices)),
        SegmentField("branch", _("Branch"), CUSTOMER, "choice", choice_q("branch_id"),
                     choices=_branches),
        SegmentField("rm", _("Relationship manager"), CUSTOMER, "choice",
                     choice_q("primary_rm_id"), choices=_rms),
        SegmentField("age", _("Age"), CUSTOMER, "number", _age_q, unit=YEARS),
        SegmentField("gender", _("Gender"), CUSTOMER, "choice", choice_q("gender"),
                     choices=_fixed(Customer.Gender.choices)),
        SegmentField("tags", _("Tags"), CUSTOMER, "choice", _tags_q, free=True,
                     help=_("Tags separated by commas")),
        SegmentField("risk_level", _("Risk level"), CUSTOMER, "choice", choice_q("risk_level"),
                     choices=_fixed(RiskTolerance.choices)),
        SegmentField("risk_expiry", _("Risk assessment expiry"), CUSTOMER, "days",
                     date_within_q("risk_expires_on")),
        SegmentField("kyc_status", _("KYC status"), CUSTOMER, "choice", choice_q("kyc_status"),
                     choices=_fixed(Customer.KycStatus.choices)),
        SegmentField("kyc_expiry", _("KYC expiry"), CUSTOMER, "days",
                     date_within_q("kyc_expires_on")),
        SegmentField("holds", _("Holds a product type"), HOLDINGS, "choice", exists_q(_holds),
                     choices=_fixed(Account.Kind.choices)),
        SegmentField("deposits", _("Total deposits and investments"), HOLDINGS, "number",
                     _deposits_total, unit=CNY),
        SegmentField("maturing", _("A time deposit or wealth product matures"), HOLDINGS,
                     "days", _maturing),
        SegmentField("txn_count", _("Number of transactions"), TRANSACTIONS, "number",
                     _txn_aggregate(Count("pk"), IntegerField()), window=True),
        SegmentField("txn_sum", _("Amount transacted"), TRANSACTIONS, "number",
                     _txn_aggregate(Sum("amount"), DecimalField()), window=True, unit=CNY),
        SegmentField("last_activity", _("Last transaction"), TRANSACTIONS, "recency",
                     exists_q(_recent_activity)),
        SegmentField("txn_channel", _("Transacted through"), TRANSACTIONS, "choice",
                     exists_q(_txn_channel), choices=_fixed(Transaction.Channel.choices),
                     window=True),
        SegmentField("consent", _("Marketing consent granted on"), CONSENTS, "choice",
                     _consent_q, choices=_fixed(
                         [(c, label) for c, label in Consent.Channel.choices if c != "all"])),
        SegmentField("open_complaint", _("Has an open complaint"), SERVICE, "flag",
                     exists_q(_open_complaint)),
        SegmentField("last_csat", _("Last satisfaction score (1–5)"), SERVICE, "number",
                     number_q(_last_csat())),
    ]  # fmt: skip
    for spec in fields:
        SEGMENT_FIELDS.register(spec, key=spec.key)


def _tags_q(cond: Condition) -> Q:
    test = Q(tags__overlap=cond.value)  # the GIN index
    return test if cond.op == "in" else ~test


_register_defaults()


def fields_by_group() -> list[tuple[str, list[SegmentField]]]:
    groups: dict[str, list[SegmentField]] = {}
    for spec in SEGMENT_FIELDS:
        groups.setdefault(str(spec.group), []).append(spec)
    return list(groups.items())


def label_of(key: str) -> str:
    spec = SEGMENT_FIELDS.get(key)
    return str(spec.label) if spec else key


# ---- editing a tree (the builder page) ---------------------------------------------------


def _node(tree: dict, path: str) -> dict:
    node = tree
    for part in [p for p in path.split(".") if p]:
        node = node["children"][int(part)]
    return node


def tree_add(tree: dict, path: str, node: dict) -> dict:
    """A copy of the tree with `node` appended to the group at `path` ("" is the root,
    "1.0" the first child of the root's second)."""
    import copy

    result = copy.deepcopy(tree or empty_tree())
    try:
        group = _node(result, path)
    except (IndexError, KeyError, ValueError, TypeError):
        raise ValidationError(_("That group no longer exists.")) from None
    if "field" in group:
        raise ValidationError(_("That group no longer exists."))
    group["children"].append(node)
    return result


def tree_remove(tree: dict, path: str) -> dict:
    import copy

    result = copy.deepcopy(tree or empty_tree())
    parts = [p for p in path.split(".") if p]
    if not parts:
        return empty_tree()
    try:
        parent = _node(result, ".".join(parts[:-1]))
        del parent["children"][int(parts[-1])]
    except (IndexError, KeyError, ValueError, TypeError):
        raise ValidationError(_("That condition no longer exists.")) from None
    return result


def tree_rows(tree: dict, path: str = "", depth: int = 0) -> list[dict]:
    """The tree as rows for the builder: groups and conditions with their path and depth."""
    tree = tree or empty_tree()
    if "field" in tree:
        return [{"path": path, "depth": depth, "group": False, "text": explain_condition(tree)}]
    rows = [{"path": path, "depth": depth, "group": True, "op": tree["op"],
             "text": str(GROUP_OPS[tree["op"]])}]  # fmt: skip
    for index, child in enumerate(tree["children"]):
        child_path = f"{path}.{index}" if path else str(index)
        rows += tree_rows(child, child_path, depth + 1)
    return rows

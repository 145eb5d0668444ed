"""The only way views reach customers and what may be shown of them.

Row scope by role (ARCHITECTURE.md): an RM sees the customers whose primary RM they are, a
branch manager the branch, compliance everything (read-only); delegations add single
customers until they expire; other apps (service) register how their roles reach customers.
Everything outside scope is 404. Model-level permissions never widen the scope.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from bankcrm import crypto, masking, registry
from bankcrm.access import not_found, require
from bankcrm.audit import AuditContext, record_access
from bankcrm.models import AccessLog
from bankcrm.roles import Role
from bankcrm.validators import normalise_mobile
from customers.models import (
    MOBILE_INDEX,
    Customer,
    CustomerDelegation,
    ImportBatch,
    Product,
    ProductDocument,
)


def customers_for_user(user) -> QuerySet[Customer]:
    """The customers `user` may see, as plain indexable conditions: `primary_rm = me`,
    `branch = mine`, `id IN (the few delegated ids, read first)`. PostgreSQL can then drive
    any page from the best index (the RM's or the branch's, the name prefix for a search)
    and test the scope as a filter, at a million customers. An OR with a subquery (EXISTS
    or IN) would make it test every customer instead."""
    qs = Customer.objects.all()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.has_role(Role.COMPLIANCE_OFFICER):
        return qs
    delegated = list(
        CustomerDelegation.objects.filter(user=user, expires_at__gt=timezone.now()).values_list(
            "content_object_id", flat=True
        )
    )
    scope = Q(pk__in=delegated)
    if user.has_role(Role.BRANCH_MANAGER) and user.branch_id:
        scope |= Q(branch_id=user.branch_id)
    if user.has_role(Role.RELATIONSHIP_MANAGER):
        scope |= Q(primary_rm=user)
    # Roles of higher apps (the service desk's) reach customers as those apps decide
    # (bankcrm.registry.CUSTOMER_SCOPES: role -> Q over Customer).
    for role, provider in registry.CUSTOMER_SCOPES.items():
        if user.has_role(role):
            scope |= provider(user)
    return qs.filter(scope)


# Encrypted columns a page that shows only masked copies does not need to decrypt.
ENCRYPTED_FIELDS = ("national_id", "mobile", "email", "address")


def customer_for_user(user, pk, *, related=(), defer=()) -> Customer:
    try:
        return customers_for_user(user).select_related(*related).defer(*defer).get(pk=int(pk))
    except (Customer.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("customers.customer", pk) from None


def customer_read_by_user(
    request,
    pk,
    *,
    what: str = "customers.customer",
    detail=None,
    allowed=None,
    related=(),
    defer=(),
) -> Customer:
    """The customer, as customer_for_user finds it, for a page or fragment that shows the
    customer's protected data (holdings, transactions, history, contact details): the read
    is logged in the access log as a view of `what` and counted by the access-anomaly rules,
    so reading many customers' transactions is seen like reading many 360 pages. Lists and
    name searches show only list fields (name, CIF, tier, masked mobile) and are logged when
    exported or searched by identifier; pages that change data log their writes instead.
    `allowed(user, customer)`, if given, must hold as well (403 otherwise, after the
    scope's 404; a refused read is not logged as one).
    tests/customers/test_permission_matrix.py checks that every customer page logs."""
    customer = customer_for_user(request.user, pk, related=related, defer=defer)
    if allowed is not None:
        require(allowed(request.user, customer))
    log_customer_read(
        actor=request.user, context=AuditContext.of(request), action=AccessLog.Action.VIEW,
        customer=customer, object_type=what, detail=detail,
    )  # fmt: skip
    return customer


def log_customer_read(
    *, actor, context: AuditContext, action: str, customer: Customer, reason="", detail=None,
    object_type="customers.customer",
):  # fmt: skip
    """An access-log row for a sensitive read of one customer (never the values read)."""
    return record_access(
        actor=actor, context=context, action=action, object_type=object_type,
        object_id=customer.pk, customer_id=customer.pk, reason=reason, detail=detail,
    )  # fmt: skip


_CIF = re.compile(r"^[A-Za-z0-9-]{1,20}$")


def customer_for_intake(request, ref: str) -> Customer | None:
    """The caller on the line, by exact CIF or full mobile number, for opening a ticket; None
    unless exactly one customer matches. Service desk staff take calls from any customer of
    the bank but cannot browse them: only an exact reference finds one (others look in their
    own scope). Every lookup, found or not, is logged as a search by identifier (the kind of
    reference and the number of hits, never the value) and counted by the access-anomaly
    rules on searches, so trying references one after another is seen."""
    user = request.user
    scope = Customer.objects.all() if _takes_calls(user) else customers_for_user(user)
    scope = scope.defer(*ENCRYPTED_FIELDS)
    ref = "".join(ref.split())
    match, found = "cif", []
    if _CIF.match(ref):
        found = list(scope.filter(cif=ref.upper())[:2])
    if not found:
        try:
            mobile = normalise_mobile(ref)
        except ValidationError:
            mobile = None
        if mobile:
            match = "mobile"
            index = crypto.blind_index(mobile, purpose=MOBILE_INDEX)
            found = list(scope.filter(mobile_index=index)[:2])
    customer = found[0] if len(found) == 1 else None
    record_access(
        actor=user, context=AuditContext.of(request), action=AccessLog.Action.SEARCH,
        object_type="customers.customer", customer_id=customer.pk if customer else None,
        detail={"by": "caller_lookup", "match": match, "hits": len(found)},
    )  # fmt: skip
    return customer


def _takes_calls(user) -> bool:
    return user.has_role(Role.SERVICE_AGENT, Role.SERVICE_SUPERVISOR)


def customer_for_user_by_cif(user, cif: str) -> Customer:
    try:
        return customers_for_user(user).get(cif=cif)
    except Customer.DoesNotExist:
        raise not_found("customers.customer", f"cif:{cif}") from None


# ---- customers met through another customer ----------------------------------------------


@dataclass(frozen=True)
class RelatedCustomer:
    """What a user may see of a customer met on another customer's page (a household member,
    a related party). Inside the user's scope: name, CIF and a link, like any customer they
    may open. Outside it: only that the person exists, with a masked name (a company's name,
    which is public, in full), and no CIF, no link and no figures: the viewer may not open
    that customer, so the page may not show what the customer's own page would."""

    pk: int | None  # None outside scope: nothing to link to
    name: str
    cif: str
    in_scope: bool


def related_customers_for_user(user, customers: Iterable[Customer]) -> dict[int, RelatedCustomer]:
    """Each of `customers` as `user` may see it, keyed by id; one query for the scope test."""
    customers = list(customers)
    if not customers:
        return {}
    ids = {c.pk for c in customers}
    visible = set(customers_for_user(user).filter(pk__in=ids).values_list("pk", flat=True))
    cards = {}
    for c in customers:
        if c.pk in visible:
            cards[c.pk] = RelatedCustomer(pk=c.pk, name=c.name, cif=c.cif, in_scope=True)
        else:
            name = c.name if c.kind == Customer.Kind.CORPORATE else masking.mask_name(c.name)
            cards[c.pk] = RelatedCustomer(pk=None, name=name, cif="", in_scope=False)
    return cards


# ---- field scope and actions -------------------------------------------------------------

_BOOK_ROLES = (Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER, Role.COMPLIANCE_OFFICER)


def can_see_assets(user, customer: Customer | None = None) -> bool:
    """Balances and holdings: not for service agents, who work tickets, not portfolios."""
    return user.has_role(*_BOOK_ROLES)


def can_reveal(user, customer: Customer) -> bool:
    """A full identifier, with a reason: compliance, and those who serve the customer: the
    RM, the branch manager, a colleague delegated to "view and change". A "view" delegation
    is for reading the customer's page (masked, as everywhere), not their identifiers."""
    if user.has_role(Role.COMPLIANCE_OFFICER):
        return True
    return user.has_role(Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER) and can_edit(
        user, customer
    )


def can_export(user) -> bool:
    return user.has_role(*_BOOK_ROLES)


def can_edit(user, customer: Customer) -> bool:
    """Compliance reads everything and changes nothing; a delegate needs change rights."""
    if user.has_role(Role.RELATIONSHIP_MANAGER) and customer.primary_rm_id == user.pk:
        return True
    if user.has_role(Role.BRANCH_MANAGER) and customer.branch_id == user.branch_id:
        return True
    return CustomerDelegation.objects.filter(
        content_object=customer,
        user=user,
        permission__codename="change_customer",
        expires_at__gt=timezone.now(),
    ).exists()


def can_read_confidential(user, interaction) -> bool:
    """A confidential note: its author's branch (the team that keeps the relationship) and
    compliance; everyone else in scope sees that a note exists, not what it says."""
    if user.has_role(Role.COMPLIANCE_OFFICER):
        return True
    actor = interaction.actor
    return actor is not None and actor.branch_id is not None and actor.branch_id == user.branch_id


def can_log_interaction(user, customer: Customer) -> bool:
    return can_edit(user, customer) or user.has_role(Role.SERVICE_AGENT, Role.SERVICE_SUPERVISOR)


def can_delegate(user, customer: Customer) -> bool:
    """The customer's own RM or branch manager; a delegate cannot pass access on."""
    if user.has_role(Role.RELATIONSHIP_MANAGER) and customer.primary_rm_id == user.pk:
        return True
    return user.has_role(Role.BRANCH_MANAGER) and customer.branch_id == user.branch_id


def imports_cover_all_branches(user) -> bool:
    """Admins import for any branch; branch managers only for their own."""
    return user.has_role(Role.ADMIN) or user.is_superuser


def import_branch_ids(user) -> frozenset[int] | None:
    """The branches whose customers an import by `user` may create or change: None for
    every branch (admins), the user's own for a branch manager, none for anyone else. A row
    for a customer outside them is refused, never moved into the importer's branch."""
    if imports_cover_all_branches(user):
        return None
    if user.has_role(Role.BRANCH_MANAGER) and user.branch_id:
        return frozenset([user.branch_id])
    return frozenset()


def import_kinds(user) -> frozenset[str]:
    """What `user` may import: customers and holdings (branch managers, admins), the product
    catalogue (product managers, admins)."""
    kinds = set()
    if user.has_role(Role.BRANCH_MANAGER) or imports_cover_all_branches(user):
        kinds |= {ImportBatch.Kind.CUSTOMERS, ImportBatch.Kind.HOLDINGS}
    if can_manage_products(user):
        kinds.add(ImportBatch.Kind.PRODUCTS)
    return frozenset(kinds)


def can_import(user, kind: str | None = None) -> bool:
    """Bulk loads are back-office work: branch managers (their branch), product managers
    (the catalogue) and admins."""
    kinds = import_kinds(user)
    return kind in kinds if kind is not None else bool(kinds)


def imports_for_user(user):
    if not can_import(user):
        return ImportBatch.objects.none()
    return ImportBatch.objects.filter(uploaded_by=user)


def import_for_user(user, pk):
    try:
        return imports_for_user(user).get(pk=int(pk))
    except (ObjectDoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("customers.importbatch", pk) from None


# ---- the product catalogue ---------------------------------------------------------------

_STAFF_ROLES = (
    Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER, Role.SERVICE_AGENT, Role.SERVICE_SUPERVISOR,
    Role.COMPLIANCE_OFFICER, Role.PRODUCT_MANAGER, Role.MARKETING_MANAGER, Role.ADMIN,
)  # fmt: skip


def can_read_products(user) -> bool:
    """The catalogue is no secret inside the bank: every staff role reads it."""
    return user.is_authenticated and (user.has_role(*_STAFF_ROLES) or user.is_superuser)


def can_manage_products(user) -> bool:
    """Product managers and admins maintain the catalogue (the admin site, imports)."""
    return user.has_role(Role.PRODUCT_MANAGER, Role.ADMIN) or user.is_superuser


def products_for_user(user) -> QuerySet[Product]:
    """Every product for staff; drafts only for those who maintain the catalogue (a draft is
    not yet a product anyone may offer)."""
    if not can_read_products(user):
        return Product.objects.none()
    if can_manage_products(user):
        return Product.objects.all()
    return Product.objects.exclude(status=Product.Status.DRAFT)


def product_for_user(user, pk) -> Product:
    try:
        return products_for_user(user).get(pk=int(pk))
    except (Product.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("customers.product", pk) from None


def product_document_for_user(user, product: Product, pk) -> ProductDocument:
    """A document version of a product the user may see (current or older)."""
    try:
        return ProductDocument.objects.get(product=product, pk=int(pk))
    except (ProductDocument.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("customers.productdocument", pk) from None

"""The only way views reach customers and what may be shown of them.

Row scope by role (ARCHITECTURE.md): an RM sees the customers whose primary RM they are, a
branch manager the branch, compliance everything (read-only); delegations add single
customers until they expire; other apps (service) register how their roles reach customers.
Everything outside scope is 404. Model-level permissions never widen the scope.
"""

from collections.abc import Callable

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from bankcrm.roles import Role
from customers.models import Customer, CustomerDelegation

# role -> function(user) returning a Q over Customer, registered by higher apps (service).
SCOPE_PROVIDERS: dict[str, Callable] = {}


def register_scope(role: str, provider: Callable) -> None:
    SCOPE_PROVIDERS[role] = provider


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
    for role, provider in SCOPE_PROVIDERS.items():
        if user.has_role(role):
            scope |= provider(user)
    return qs.filter(scope)


# Encrypted columns a page that shows only masked copies does not need to decrypt.
ENCRYPTED_FIELDS = ("national_id", "mobile", "email", "address")


def customer_for_user(user, pk, *, related=(), defer=()) -> Customer:
    try:
        return customers_for_user(user).select_related(*related).defer(*defer).get(pk=int(pk))
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def customer_for_user_by_cif(user, cif: str) -> Customer:
    try:
        return customers_for_user(user).get(cif=cif)
    except Customer.DoesNotExist:
        raise Http404 from None


# ---- field scope and actions -------------------------------------------------------------

_BOOK_ROLES = (Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER, Role.COMPLIANCE_OFFICER)


def can_see_assets(user) -> bool:
    """Balances and holdings: not for service agents, who work tickets, not portfolios."""
    return user.has_role(*_BOOK_ROLES)


def can_reveal(user) -> bool:
    return user.has_role(*_BOOK_ROLES)


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


def can_import(user) -> bool:
    """Bulk loads are back-office work: branch managers (their branch) and admins."""
    return user.has_role(Role.BRANCH_MANAGER) or imports_cover_all_branches(user)


def imports_for_user(user):
    from customers.models import ImportBatch

    if not can_import(user):
        return ImportBatch.objects.none()
    return ImportBatch.objects.filter(uploaded_by=user)


def import_for_user(user, pk):
    try:
        return imports_for_user(user).get(pk=int(pk))
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise Http404 from None


def require(condition: bool) -> None:
    """Inside scope but not allowed this action: 403 (the row's existence is no secret)."""
    if not condition:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied

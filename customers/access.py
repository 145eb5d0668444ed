"""The only way views reach customers: everything outside a user's scope is 404."""

from django.db.models import QuerySet
from django.http import Http404

from bankcrm.roles import Role
from customers.models import Customer


def customers_for_user(user) -> QuerySet[Customer]:
    """Row scope by role. Model permissions never widen it."""
    qs = Customer.objects.all()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.has_role(Role.COMPLIANCE_OFFICER):
        return qs
    if user.has_role(Role.BRANCH_MANAGER) and user.branch_id:
        return qs.filter(branch_id=user.branch_id)
    if user.has_role(Role.RELATIONSHIP_MANAGER):
        return qs.filter(primary_rm=user)
    return qs.none()


def customer_for_user(user, pk) -> Customer:
    try:
        return customers_for_user(user).get(pk=int(pk))
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise Http404 from None

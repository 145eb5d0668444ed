"""The only way views reach tickets."""

from django.db.models import Q, QuerySet

from bankcrm.roles import Role
from service.models import Ticket


def tickets_for_user(user) -> QuerySet[Ticket]:
    qs = Ticket.objects.all()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.has_role(Role.SERVICE_SUPERVISOR, Role.COMPLIANCE_OFFICER):
        return qs
    if user.has_role(Role.SERVICE_AGENT):
        # Agents work their own tickets and the unassigned pool they take from.
        return qs.filter(Q(assignee=user) | Q(assignee__isnull=True))
    return qs.none()

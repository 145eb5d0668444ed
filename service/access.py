"""The only way views reach tickets, and what each role may do with them, and how the
service desk's roles reach customers.

Agents see the tickets of their queues and those assigned to them; supervisors and
compliance every ticket (compliance read-only); relationship and branch managers the tickets
of the customers they may see (read-only, on the 360 page). Everything else is 404.

Customers (registered with customers.access by service/apps.py): an agent reaches the
customers of the tickets assigned to them that are open, or were resolved or closed within
SERVICE_AGENT_REACH_DAYS (a call back, a reopened case), not every customer they ever
served; a supervisor the customers of every open ticket.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from bankcrm.access import not_found, require  # noqa: F401 - require: views use access.require
from bankcrm.audit import AuditContext, record_access
from bankcrm.models import AccessLog
from bankcrm.roles import Role
from service.models import Queue, Ticket


def tickets_for_user(user) -> QuerySet[Ticket]:
    qs = Ticket.objects.all()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.has_role(Role.SERVICE_SUPERVISOR, Role.COMPLIANCE_OFFICER):
        return qs
    scope = Q(pk__in=[])
    if user.has_role(Role.SERVICE_AGENT):
        queues = list(user.service_queues.values_list("pk", flat=True))
        scope |= Q(assignee=user) | Q(queue_id__in=queues)
    if user.has_role(Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER):
        from customers.access import customers_for_user

        scope |= Q(customer__in=customers_for_user(user).values("pk"))
    return qs.filter(scope)


def tickets_of_customer_for_user(user, customer) -> QuerySet[Ticket]:
    """A customer's tickets, as their 360 page lists them (the page has checked the
    customer is in the user's scope): those who serve or oversee the customer (the RM, the
    branch manager, compliance, supervisors) see all of them; an agent those of their
    queues and their own."""
    every = (Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER, Role.COMPLIANCE_OFFICER,
             Role.SERVICE_SUPERVISOR)  # fmt: skip
    tickets = Ticket.objects.all() if user.has_role(*every) else tickets_for_user(user)
    return tickets.filter(customer=customer)


def ticket_for_user(user, pk, *, related=("customer", "queue", "assignee")) -> Ticket:
    try:
        return tickets_for_user(user).select_related(*related).get(pk=int(pk))
    except (Ticket.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("service.ticket", pk) from None


def ticket_read_by_user(request, pk) -> Ticket:
    """A ticket for its page: the page shows the customer's name, CIF, masked mobile and
    what they told the bank, so opening it is a logged read of that customer, counted by
    the access-anomaly rules like any customer page (issue 16, item 24)."""
    ticket = ticket_for_user(request.user, pk)
    record_access(
        actor=request.user, context=AuditContext.of(request), action=AccessLog.Action.VIEW,
        object_type="service.ticket", object_id=ticket.pk, customer_id=ticket.customer_id,
    )  # fmt: skip
    return ticket


def queue_for_user(user, code: str) -> Queue:
    """One of the user's queues by its code; another queue is not found (and recorded)."""
    queue = queues_for_user(user).filter(code=code).first()
    if queue is None:
        raise not_found("service.queue", code)
    return queue


def queues_for_user(user) -> QuerySet[Queue]:
    if user.has_role(Role.SERVICE_SUPERVISOR):
        return Queue.objects.filter(is_active=True)
    if user.has_role(Role.SERVICE_AGENT):
        return user.service_queues.filter(is_active=True)
    return Queue.objects.none()


def is_desk_user(user) -> bool:
    return user.has_role(Role.SERVICE_AGENT, Role.SERVICE_SUPERVISOR)


def can_supervise(user) -> bool:
    return user.has_role(Role.SERVICE_SUPERVISOR)


def can_work(user, ticket: Ticket) -> bool:
    """Reply, change status, resolve: supervisors, the assignee, and agents of its queue."""
    if user.has_role(Role.SERVICE_SUPERVISOR):
        return True
    if not user.has_role(Role.SERVICE_AGENT):
        return False
    if ticket.assignee_id == user.pk:
        return True
    return ticket.queue_id is not None and user.service_queues.filter(pk=ticket.queue_id).exists()


# ---- customers the service desk reaches (bankcrm.registry.CUSTOMER_SCOPES) ---------------


def agent_customer_scope(user) -> Q:
    """The customers of the agent's open tickets and of those resolved or closed recently.
    An agent's tickets are few: the ids are read first, so the planner gets plain values."""
    since = timezone.now() - timedelta(days=settings.SERVICE_AGENT_REACH_DAYS)
    worked = (
        Ticket.objects.filter(assignee=user)
        .filter(
            ~Q(status__in=Ticket.CLOSED_STATES)
            | Q(closed_at__gte=since)
            | Q(status=Ticket.Status.RESOLVED, resolved_at__gte=since)
        )
        .values_list("customer_id", flat=True)
    )
    return Q(pk__in=set(worked))


def supervisor_customer_scope(user) -> Q:
    return Q(pk__in=Ticket.objects.open().values("customer_id"))

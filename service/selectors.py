"""Named reads of the service desk that views and home pages share."""

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from bankcrm.models import User
from bankcrm.roles import Role
from service import access


def _count(tickets: QuerySet) -> Coalesce:
    """How many of `tickets` the outer user holds, as a correlated subquery (0, not NULL,
    for none): a GROUP BY over the tickets alone would leave out whoever has none."""
    per_user = (
        tickets.filter(assignee=OuterRef("pk")).order_by().values("assignee")
        .annotate(n=Count("pk")).values("n")
    )  # fmt: skip
    return Coalesce(Subquery(per_user, output_field=IntegerField()), Value(0))


def agent_load(user, open_tickets: QuerySet, *, now) -> QuerySet[User]:
    """Every active agent of the queues `user` may supervise, with their open and breached
    tickets, those with none included: they are whom new work should go to. Whoever else
    holds an open ticket of `open_tickets` (a supervisor, an agent moved off the queue) is
    listed too. Least loaded first; one query however many agents."""
    members = User.objects.filter(
        is_active=True,
        groups__name=Role.SERVICE_AGENT,
        service_queues__in=access.queues_for_user(user),
    ).values("pk")
    holders = open_tickets.filter(assignee__isnull=False).order_by().values("assignee_id")
    breached = open_tickets.filter(due_at__lt=now, paused_at__isnull=True)
    return (
        User.objects.filter(Q(pk__in=members) | Q(pk__in=holders))
        .annotate(total=_count(open_tickets), breached=_count(breached))
        .only("username", "first_name", "last_name", "is_active")
        .order_by("total", "-breached", "username")
    )

"""Named reads of the service desk that views and home pages share."""

from django.db.models import Count, FilteredRelation, Q, QuerySet

from bankcrm.models import User
from bankcrm.roles import Role
from service import access
from service.models import Ticket


def agent_load(supervisor, *, now) -> QuerySet[User]:
    """Every active agent of the queues `supervisor` may supervise, with their open and
    breached tickets, those with none included: they are whom new work should go to.
    Whoever else holds an open ticket (a supervisor, an agent moved off the queue) is
    listed too. Least loaded first.

    One query: the users LEFT JOINed to their open tickets (the partial index of open
    tickets by assignee) and grouped, one pass over the open assigned tickets however
    many agents; a GROUP BY over the tickets alone would leave out whoever has none."""
    members = User.objects.filter(
        is_active=True,
        groups__name=Role.SERVICE_AGENT,
        service_queues__in=access.queues_for_user(supervisor),
    ).values("pk")
    breached = Q(open__due_at__lt=now, open__paused_at__isnull=True)
    return (
        User.objects.annotate(
            open=FilteredRelation(
                "assigned_tickets", condition=~Q(assigned_tickets__status__in=Ticket.CLOSED_STATES)
            )
        )
        .annotate(total=Count("open"), breached=Count("open", filter=breached))
        .filter(Q(pk__in=members) | Q(total__gt=0))
        .only("username", "first_name", "last_name", "is_active")
        .order_by("total", "-breached", "username")
    )

"""The service desk's home page, for agents and supervisors: their tickets and the queue,
most urgent first. Registered in bankcrm.registry.HOME_PAGES by service/apps.py."""

from django.db.models import Count, Q
from django.utils import timezone

from service.access import tickets_for_user
from service.models import Ticket

LIST_SIZE = 10


def desk(request):
    tickets = tickets_for_user(request.user).open()
    mine = tickets.filter(assignee=request.user)
    counts = tickets.aggregate(
        mine=Count("pk", filter=Q(assignee=request.user)),
        pool=Count("pk", filter=Q(assignee__isnull=True)),
        overdue=Count("pk", filter=Q(due_at__lt=timezone.now(), paused_at__isnull=True)),
        p1=Count("pk", filter=Q(priority=Ticket.Priority.P1)),
    )
    context = {
        "counts": counts,
        "my_tickets": mine.select_related("customer").by_urgency()[:LIST_SIZE],
        "pool": tickets.filter(assignee__isnull=True)
        .select_related("customer")
        .by_urgency()[:LIST_SIZE],
        "now": timezone.now(),
    }
    return "service/home.html", context

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "service"
    verbose_name = _("Service desk")

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from django.db.models import Q

        from bankcrm.roles import Role
        from customers.access import register_scope
        from service.models import BusinessCalendar, CalendarException, CalendarHours, Ticket

        auditlog.register(Ticket)
        for model in (BusinessCalendar, CalendarHours, CalendarException):
            auditlog.register(model)

        # Agents reach a customer only through a ticket they work; supervisors through
        # any open ticket.
        def agent_scope(user):
            # An agent's own tickets are few: read the ids, give the planner plain values.
            ids = Ticket.objects.filter(assignee=user).values_list("customer_id", flat=True)
            return Q(pk__in=set(ids))

        def supervisor_scope(user):
            return Q(pk__in=Ticket.objects.open().values("customer_id"))

        register_scope(Role.SERVICE_AGENT, agent_scope)
        register_scope(Role.SERVICE_SUPERVISOR, supervisor_scope)

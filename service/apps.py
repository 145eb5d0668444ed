from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "service"
    verbose_name = _("Service desk")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from bankcrm.roles import Role
        from customers.access import register_scope
        from service.models import Ticket

        auditlog.register(Ticket)

        # Agents reach a customer only through a ticket they work; supervisors through
        # any open ticket.
        def agent_scope(user):
            return Ticket.objects.filter(assignee=user).order_by().values("customer_id")

        def supervisor_scope(user):
            return Ticket.objects.open().order_by().values("customer_id")

        register_scope(Role.SERVICE_AGENT, agent_scope)
        register_scope(Role.SERVICE_SUPERVISOR, supervisor_scope)

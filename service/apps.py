from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "service"
    verbose_name = _("Service desk")

    def ready(self) -> None:
        from auditlog.registry import auditlog
        from django.db.models import Exists, OuterRef, Q

        from bankcrm.roles import Role
        from customers.access import register_scope
        from service.models import Ticket

        auditlog.register(Ticket)

        # Agents reach a customer only through a ticket they work; supervisors through
        # any open ticket.
        def agent_scope(user):
            return Q(Exists(Ticket.objects.filter(customer=OuterRef("pk"), assignee=user)))

        def supervisor_scope(user):
            return Q(Exists(Ticket.objects.open().filter(customer=OuterRef("pk"))))

        register_scope(Role.SERVICE_AGENT, agent_scope)
        register_scope(Role.SERVICE_SUPERVISOR, supervisor_scope)

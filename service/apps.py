from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "service"
    verbose_name = _("Service desk")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from bankcrm.roles import Role
        from customers.access import register_scope
        from customers.ingest.services import register_handler
        from customers.panels import register_panel
        from service import access, models
        from service.intake import apply_service_request
        from service.models import Ticket
        from service.panels import customer_tickets

        # Ticket rows (auditlog) plus their own history (TicketEvent); configuration that
        # decides clocks, routing and what customers are told.
        auditlog.register(Ticket, exclude_fields=["sla_check_at", "due_at"])
        for model in (
            models.BusinessCalendar, models.CalendarHours, models.CalendarException,
            models.Queue, models.SlaPolicy, models.RoutingRule, models.Macro,
            models.KnowledgeArticle,
        ):  # fmt: skip
            auditlog.register(model)
        auditlog.register(models.Queue.members.through)
        auditlog.register(models.Notification, exclude_fields=["body", "subject"])
        register_handler("service.request", apply_service_request)

        # A changed calendar counts at once in this process (others within a minute).
        from django.db.models.signals import post_delete, post_save

        from service.sla import forget_calendars

        for model in (models.BusinessCalendar, models.CalendarHours, models.CalendarException):
            for signal in (post_save, post_delete):
                signal.connect(
                    lambda **kwargs: forget_calendars(), sender=model, weak=False,
                    dispatch_uid=f"forget-calendars-{model.__name__}-{signal is post_save}",
                )  # fmt: skip
        register_panel(customer_tickets)

        # Who on the desk reaches which customers is decided in service/access.py.
        register_scope(Role.SERVICE_AGENT, access.agent_customer_scope)
        register_scope(Role.SERVICE_SUPERVISOR, access.supervisor_customer_scope)

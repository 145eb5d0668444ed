from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "service"
    verbose_name = _("Service desk")

    def ready(self) -> None:
        from bankcrm import registry
        from bankcrm.roles import Role
        from service import access, home, models
        from service.intake import apply_service_request
        from service.panels import customer_tickets

        registry.EVENT_HANDLERS.register(apply_service_request, key="service.request")

        # A changed calendar counts at once in this process (others within a minute).
        from django.db.models.signals import post_delete, post_save

        from service.sla import forget_calendars

        for model in (models.BusinessCalendar, models.CalendarHours, models.CalendarException):
            for signal in (post_save, post_delete):
                signal.connect(
                    lambda **kwargs: forget_calendars(), sender=model, weak=False,
                    dispatch_uid=f"forget-calendars-{model.__name__}-{signal is post_save}",
                )  # fmt: skip
        registry.CUSTOMER_PANELS.register(customer_tickets)

        # Who on the desk reaches which customers is decided in service/access.py.
        registry.CUSTOMER_SCOPES.register(access.agent_customer_scope, key=Role.SERVICE_AGENT)
        registry.CUSTOMER_SCOPES.register(
            access.supervisor_customer_scope, key=Role.SERVICE_SUPERVISOR
        )
        registry.HOME_PAGES.register(home.desk, key=Role.SERVICE_AGENT)
        registry.HOME_PAGES.register(home.desk, key=Role.SERVICE_SUPERVISOR)

        from service import demo

        registry.DEMO_SEEDERS.register(demo.seed, order=20)  # after the layers below

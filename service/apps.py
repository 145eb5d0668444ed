from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "service"
    verbose_name = _("Service desk")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from service.models import Ticket

        auditlog.register(Ticket)

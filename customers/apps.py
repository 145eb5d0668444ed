from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from customers.models import Account, Customer, Interaction

        # Encrypted columns and blind indexes never reach audit rows; masked copies do.
        secret = ["national_id", "national_id_index", "mobile", "mobile_index", "email", "address"]
        auditlog.register(Customer, exclude_fields=secret)
        auditlog.register(Account, exclude_fields=["number", "number_index"])
        auditlog.register(Interaction)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from customers.models import (
            Account,
            Consent,
            Customer,
            CustomerDelegation,
            ExternalIdentity,
            Household,
            ImportBatch,
            Interaction,
            Relationship,
            RiskProfile,
        )

        # Encrypted columns and blind indexes never reach audit rows; masked copies do.
        secret = ["national_id", "national_id_index", "mobile", "mobile_index", "email", "address"]
        auditlog.register(Customer, exclude_fields=secret)
        auditlog.register(Account, exclude_fields=["number", "number_index"])
        auditlog.register(Interaction)
        auditlog.register(Consent)
        auditlog.register(RiskProfile)
        auditlog.register(Household)
        auditlog.register(Relationship)
        auditlog.register(ExternalIdentity)
        auditlog.register(CustomerDelegation)
        # Status changes of imports; the file itself (encrypted) never reaches an audit row.
        auditlog.register(ImportBatch, include_fields=["status", "kind", "file_name"])
        from customers.ingest.models import (
            InboxEvent,
            IntegrationSource,
            OutboundDelivery,
            Subscriber,
        )

        auditlog.register(IntegrationSource, exclude_fields=["secret", "previous_secret"])
        auditlog.register(Subscriber, exclude_fields=["secret"])
        # Admins' replays and retries (bulk updates, logged by the services); never payloads.
        auditlog.register(InboxEvent, include_fields=["status", "attempts", "error"])
        auditlog.register(
            OutboundDelivery, include_fields=["status", "attempts", "next_attempt_at"]
        )

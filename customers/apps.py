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
        from customers.models.integration import (
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

        # What customers/ plugs into core (bankcrm/registry.py).
        from bankcrm import registry
        from bankcrm.roles import Role
        from customers import home
        from customers.ingest import services as ingest

        registry.HOME_PAGES.register(home.relationship_manager, key=Role.RELATIONSHIP_MANAGER)
        registry.HOME_PAGES.register(home.branch_manager, key=Role.BRANCH_MANAGER)
        registry.HOME_PAGES.register(home.product_manager, key=Role.PRODUCT_MANAGER)
        for event_type, handler in ingest.HANDLERS.items():
            registry.EVENT_HANDLERS.register(handler, key=event_type)

        from customers import demo

        registry.DEMO_SEEDERS.register(demo.seed, order=10)  # after the layers below

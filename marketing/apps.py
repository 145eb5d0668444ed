from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketingConfig(AppConfig):
    name = "marketing"
    verbose_name = _("Marketing")

    def ready(self) -> None:
        from bankcrm import registry
        from bankcrm.roles import Role
        from marketing import (
            demo,
            home,
            receipts,
            segments,
        )

        # Configuration an auditor asks about and every campaign's life are in the
        # data-change trail (marketing 0003; compliance/audited.py lists the tables).

        registry.HOME_PAGES.register(home.marketing_manager, key=Role.MARKETING_MANAGER)
        registry.DEMO_SEEDERS.register(demo.seed, order=40)  # after compliance (30)
        # Message gateways' delivery receipts, through the integration API.
        registry.EVENT_HANDLERS.register(receipts.apply_message_receipt, key="message.receipt")
        # The audit trail shows a segment's conditions in words, as the builder does.
        registry.AUDIT_VALUE_TEXTS.register(
            segments.explain, key=("marketing_segment", "conditions")
        )

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MarketingConfig(AppConfig):
    name = "marketing"
    verbose_name = _("Marketing")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from bankcrm import registry
        from bankcrm.roles import Role
        from marketing import (
            access,
            home,
            models,
            segments,  # noqa: F401 - registers the fields of the layers below
        )

        # Configuration an auditor asks about, and every campaign's life; deliveries are
        # counted, not logged (a campaign writes a million).
        for model in (
            models.Segment, models.Campaign, models.CampaignStep, models.CampaignMessage,
            models.Variant, models.ProhibitedPhrase, models.FrequencyCap, models.Journey,
        ):  # fmt: skip
            auditlog.register(model)

        # Who in marketing reaches which customers is decided in marketing/access.py.
        registry.CUSTOMER_SCOPES.register(
            access.marketing_customer_scope, key=Role.MARKETING_MANAGER
        )
        registry.HOME_PAGES.register(home.marketing_manager, key=Role.MARKETING_MANAGER)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from analytics import models
        from analytics.panels import customer_value
        from bankcrm import registry

        # Model governance and the settings of the value formulas are audited (the model
        # text and the baseline's coefficients are stored, not diffed).
        auditlog.register(models.ModelVersion, exclude_fields=["model_text", "baseline"])
        for model in (models.TierThreshold, models.ProductMargin, models.ValuePolicy):
            auditlog.register(model)
        registry.CUSTOMER_PANELS.register(customer_value, order=10)

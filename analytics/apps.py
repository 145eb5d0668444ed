from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from analytics import home, models
        from analytics.panels import customer_value
        from bankcrm import registry

        # Model governance and the settings of the value formulas are audited (the model
        # text and the baseline's coefficients are stored, not diffed).
        auditlog.register(models.ModelVersion, exclude_fields=["model_text", "baseline"])
        for model in (models.TierThreshold, models.ProductMargin, models.ValuePolicy):
            auditlog.register(model)
        from django.db.models.signals import post_delete, post_save

        from analytics.value import SETTINGS_CACHE

        for model in (models.TierThreshold, models.ValuePolicy):
            for signal in (post_save, post_delete):
                signal.connect(
                    SETTINGS_CACHE.forget, sender=model, weak=False,
                    dispatch_uid=f"analytics-forget-{model.__name__}-{signal is post_save}",
                )  # fmt: skip
        registry.CUSTOMER_PANELS.register(customer_value, order=10)
        registry.HOME_SECTIONS.register(home.at_risk_customers, order=10)

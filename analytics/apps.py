from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("Analytics")

    def ready(self) -> None:
        # Model governance and the value formulas' settings are in the data-change trail:
        # their triggers are installed by analytics 0003 (compliance/audited.py lists them).
        from django.db.models.signals import post_delete, post_save

        from analytics import demo, home, models, needs, segments, sentiment
        from analytics.panels import customer_value, supervisor_follow_ups
        from analytics.value import SETTINGS_CACHE
        from bankcrm import registry

        for model in (models.TierThreshold, models.ValuePolicy):
            for signal in (post_save, post_delete):
                signal.connect(
                    SETTINGS_CACHE.forget, sender=model, weak=False,
                    dispatch_uid=f"analytics-forget-{model.__name__}-{signal is post_save}",
                )  # fmt: skip
        registry.CUSTOMER_PANELS.register(customer_value, order=10)
        registry.HOME_SECTIONS.register(home.at_risk_customers, order=10)
        registry.CUSTOMER_PANELS.register(needs.customer_needs, order=20)
        registry.TEXT_WRITTEN.register(sentiment.text_sentiment_request)
        registry.TEXT_ANNOTATIONS.register(sentiment.text_annotations)
        registry.SUPERVISOR_SECTIONS.register(supervisor_follow_ups)
        # The scores as segment fields: marketing's builder lists them unchanged.
        segments.register()
        registry.DEMO_SEEDERS.register(demo.seed, order=50)  # after marketing (40): it reads all

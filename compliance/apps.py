from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = _("Compliance")

    def ready(self) -> None:
        from bankcrm import registry
        from bankcrm.roles import Role
        from compliance import home
        from compliance.anomalies import on_access_recorded, on_access_refused

        # After every logged read and every refusal, the access-anomaly rules are checked.
        registry.READ_LISTENERS.register(on_access_recorded)
        registry.REFUSAL_LISTENERS.register(on_access_refused)
        registry.HOME_PAGES.register(home.compliance, key=Role.COMPLIANCE_OFFICER)

        # Risk warnings: signals from source systems, and where staff see them.
        from compliance import warnings

        registry.EVENT_HANDLERS.register(warnings.apply_risk_signal, key="risk.signal")
        from compliance import views_warnings

        registry.CUSTOMER_BADGES.register(views_warnings.customer_badges)
        registry.CUSTOMER_LIST_FILTERS.register(views_warnings.WITH_WARNINGS, key="with_warnings")
        registry.HOME_SECTIONS.register(views_warnings.home_section)
        # Suitability: the 360 page's "what may be offered" panel, and core banking's
        # confirmation of a recorded sale.
        from compliance.panels_suitability import offerable_products
        from compliance.sales import apply_sale_confirmed

        registry.CUSTOMER_PANELS.register(offerable_products)
        registry.EVENT_HANDLERS.register(apply_sale_confirmed, key="sale.confirmed")

        from compliance import demo

        registry.DEMO_SEEDERS.register(demo.seed, order=30)  # after the layers below
        registry.BULK_LOAD_RECORDERS.register(demo.recorded_as_one_load)

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
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

"""Sections other apps add to the customer 360 page (the service desk's tickets), registered
in bankcrm.registry.CUSTOMER_PANELS so that customers/ does not import them. A provider
returns a context dict with a `template`, or None when the user should not see the
section."""

from bankcrm import registry


def panels_for(request, customer) -> list[dict]:
    providers = registry.CUSTOMER_PANELS
    return [panel for provider in providers if (panel := provider(request, customer)) is not None]

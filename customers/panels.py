"""What other apps add to customers' pages, registered in bankcrm.registry so that
customers/ does not import them: sections of the 360 page (CUSTOMER_PANELS: the service
desk's tickets; a provider returns a context dict with a `template`, or None when the user
should not see it), badges of its header (CUSTOMER_BADGES: compliance's risk warnings) and
sections of the RM's and branch manager's home pages (HOME_SECTIONS)."""

from bankcrm import registry


def panels_for(request, customer) -> list[dict]:
    providers = registry.CUSTOMER_PANELS
    return [panel for provider in providers if (panel := provider(request, customer)) is not None]


def badges_for(request, customer) -> list:
    return [badge for provider in registry.CUSTOMER_BADGES for badge in provider(request, customer)]


def home_sections_for(request) -> list[dict]:
    return [section for provider in registry.HOME_SECTIONS if (section := provider(request))]

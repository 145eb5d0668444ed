"""Sections other apps add to the customer 360 page (the service desk's tickets), so that
customers/ does not import them. A provider returns a context dict with a `template`, or
None when the user should not see the section."""

from collections.abc import Callable

PANELS: list[Callable] = []


def register_panel(provider: Callable) -> None:
    if provider not in PANELS:
        PANELS.append(provider)


def panels_for(request, customer) -> list[dict]:
    return [panel for provider in PANELS if (panel := provider(request, customer)) is not None]

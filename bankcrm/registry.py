"""Extension points: how a higher app plugs into a lower layer that may not import it.

The layers (ARCHITECTURE.md, checked by import-linter in `make test`) are
core <- customers <- service | compliance <- marketing | sales <- analytics. A lower layer
declares an extension point here; a higher app registers into it in its
`AppConfig.ready()`; the lower layer reads what was registered when it needs it. There is
one mechanism for every such plug, so they can all be found in this file:

- HOME_PAGES, by role: builder(request) -> (template, context); read by bankcrm.views.home.
- CUSTOMER_PANELS: provider(request, customer) -> dict or None; sections of the 360 page.
- HOME_SECTIONS: provider(request) -> dict (with a `template`) or None; extra sections of
  the home pages of roles with a book of customers (customers.home).
- CUSTOMER_SCOPES, by role: provider(user) -> Q over customers.Customer; customers.access.
- EVENT_HANDLERS, by integration event type: handler(event, batch); the inbox worker.
- READ_LISTENERS: listener(row=AccessLog, request=...); after bankcrm.audit.record_access.
- REFUSAL_LISTENERS: listener(event=SecurityEvent, request=...); after a refused access.
- DEMO_SEEDERS, by `order` (the layer): seeder(demo: bankcrm.demo.Demo); manage.py seed_demo.
- BULK_LOAD_RECORDERS: factory(table, **detail) -> context manager; how a demo bulk load
  is recorded in the audit trail (compliance registers it).
- AUDIT_VALUE_TEXTS, by (table, column): text(raw) -> str; how the audit screens show a
  structured value a higher app stores (a segment's conditions, in words).
- CUSTOMER_BADGES: provider(request, customer) -> list[Badge]; badges in the 360 page's
  header, a Badge's `note` on its own line under them (a risk warning and what to do).
- CUSTOMER_LIST_FILTERS, by form field name: ListFilter(label, apply(queryset) ->
  queryset); a check box of the customer list (and its export) that narrows the scoped
  customers, inside the same query.
- TEXT_WRITTEN: listener(kind, pk, text); called through text_written() by the services
  that store a customer's free text, inside their transaction: customers.interaction_log
  ("interaction", the interaction's id, its notes), service.ticket_open ("ticket", the
  ticket's id, its description) and service.survey_answer ("survey", the ticket's id: one
  survey per ticket, its comment). analytics queues the text's sentiment there.
- TEXT_ANNOTATIONS: provider(refs) -> {(kind, pk): (label, score)}, refs a list of
  (kind, pk) as TEXT_WRITTEN names them; read through text_annotations() by the pages that
  show those texts (the ticket page, the 360 timeline), once per page whatever the number
  of texts. label is "positive", "neutral" or "negative", score the probability of
  positive (0-1); a text without one is absent.
- SUPERVISOR_SECTIONS: provider(request) -> dict (with a `template`) or None; extra
  sections of the service supervisor's page (service.views.supervisor).

Registering twice under one key with another value is an error at start-up: two apps
claiming the same role's home page is a bug to find, not a silent override.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured


class ExtensionPoint:
    """A named place higher apps register into. Keyed points hold one value per key (a
    role's home page); unkeyed ones a list, read in `order` then registration order."""

    def __init__(self, name: str, *, keyed: bool):
        self.name = name
        self.keyed = keyed
        self.by_key: dict[Any, Any] = {}  # keyed points (tests may patch an entry)
        self._listed: list[tuple[int, int, Any]] = []

    def register(self, value, *, key=None, order: int = 0):
        """Registers `value` (returned, so it can decorate a function)."""
        if self.keyed:
            if key is None:
                raise ImproperlyConfigured(f"{self.name}: a registration needs a key")
            current = self.by_key.get(key)
            if current is not None and current is not value:
                raise ImproperlyConfigured(f"{self.name}: {key!r} is registered already")
            self.by_key[key] = value
        elif all(existing is not value for _o, _n, existing in self._listed):
            self._listed.append((order, len(self._listed), value))
            self._listed.sort(key=lambda item: item[:2])
        return value

    def get(self, key, default=None):
        return self.by_key.get(key, default)

    def items(self):
        return self.by_key.items()

    def __iter__(self) -> Iterator:
        if self.keyed:
            return iter(self.by_key.values())
        return iter([value for _order, _n, value in self._listed])

    def __repr__(self) -> str:
        return f"<ExtensionPoint {self.name}>"


HOME_PAGES = ExtensionPoint("home pages", keyed=True)
CUSTOMER_PANELS = ExtensionPoint("customer 360 panels", keyed=False)
HOME_SECTIONS = ExtensionPoint("home page sections", keyed=False)
CUSTOMER_SCOPES = ExtensionPoint("customer scopes", keyed=True)
EVENT_HANDLERS = ExtensionPoint("integration event handlers", keyed=True)
READ_LISTENERS = ExtensionPoint("sensitive read listeners", keyed=False)
REFUSAL_LISTENERS = ExtensionPoint("refused access listeners", keyed=False)
DEMO_SEEDERS = ExtensionPoint("demo seeders", keyed=False)
BULK_LOAD_RECORDERS = ExtensionPoint("bulk load recorders", keyed=False)
AUDIT_VALUE_TEXTS = ExtensionPoint("audit value texts", keyed=True)
CUSTOMER_BADGES = ExtensionPoint("customer 360 header badges", keyed=False)
CUSTOMER_LIST_FILTERS = ExtensionPoint("customer list filters", keyed=True)


@dataclass(frozen=True)
class Badge:
    """One badge of a customer's 360 header: `tone` is a Bootstrap colour (danger, warning,
    info, secondary); `note`, if any, a line under the header; `url` where it leads."""

    label: str
    tone: str = "secondary"
    note: str = ""
    url: str = ""
    testid: str = ""


@dataclass(frozen=True)
class ListFilter:
    """A check box of the customer list: `apply` narrows a QuerySet of customers (already
    in the user's scope) with a condition of the same query, so the page's query count does
    not change."""

    label: Any  # a lazy translation
    apply: Callable


TEXT_WRITTEN = ExtensionPoint("customer free text written", keyed=False)
TEXT_ANNOTATIONS = ExtensionPoint("free text annotations", keyed=False)
SUPERVISOR_SECTIONS = ExtensionPoint("service supervisor page sections", keyed=False)


def text_written(kind: str, pk: int, text: str) -> None:
    """Tells TEXT_WRITTEN's listeners that a customer's free text was stored (or changed);
    call it in the transaction that stores it."""
    for listener in TEXT_WRITTEN:
        listener(kind, pk, text)


def text_annotations(refs) -> dict:
    """{(kind, pk): (label, score)} for the texts of `refs` that have one (TEXT_ANNOTATIONS);
    no query when `refs` is empty."""
    refs = [(kind, int(pk)) for kind, pk in refs]
    found: dict = {}
    if refs:
        for provider in TEXT_ANNOTATIONS:
            found.update(provider(refs))
    return found

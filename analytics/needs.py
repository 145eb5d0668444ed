"""Product needs found in interaction notes, suggested on the 360 page.

An RM's notes say what a customer plans ("孩子明年出国读书，想了解留学贷款", "asked about
pension products"). The words of the customer's latest notes (analytics.words: jieba with
the banking dictionary, so 留学贷款 is one word) are matched against the admin's
NeedPhrase table (a Chinese phrase as one word of the note, an English one as whole words
of it); each phrase names a product kind of the catalogue, or one product. The products of
those kinds on sale are filtered by `suitable_products` — only what the customer may be
offered — and shown with the note they came from.

Who: the panel is for the roles that may see the customer's assets (RMs, branch managers,
compliance: customers.access.can_see_assets); the service desk gets no product suggestions
(they rest on the customer's tier and risk tolerance). A confidential note counts only for
those who may read it. Four queries: the notes, the phrases, the products, the assessment.
"""

import re
from dataclasses import dataclass, field

from django.db.models import Q

from analytics.text_models import NeedPhrase
from analytics.words import normalise, words
from compliance.models import Purpose
from compliance.suitability import verdicts_for_products
from customers import access as customer_access
from customers.models import Customer, Interaction, Product

NOTES_READ = 20  # the customer's latest notes looked at
PRODUCTS_PER_NEED = 3


def suitable_products(customer: Customer, products: list[Product]) -> list[Product]:
    """The products of `products` that may be offered to `customer` for service, as the
    suitability engine decides (compliance.suitability: the one place for that rule)."""
    if not products:
        return []
    verdicts = verdicts_for_products(customer, products, purpose=Purpose.SERVICE)
    return [product for product, verdict in verdicts if verdict.allowed]


@dataclass
class Need:
    phrase: str
    kind_label: str
    interaction: Interaction
    products: list[Product] = field(default_factory=list)


def _matches(phrase: str, note_words: set[str], note_text: str) -> bool:
    phrase = normalise(phrase)
    if re.search(r"[\u3400-\u9fff]", phrase):
        return phrase in note_words
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", note_text) is not None


def needs_in_notes(interactions, phrases: list[NeedPhrase]) -> list[tuple[NeedPhrase, Interaction]]:
    """Each phrase found, with the latest note that holds it (notes newest first)."""
    found: dict[int, tuple[NeedPhrase, Interaction]] = {}
    for interaction in interactions:
        text = normalise(interaction.notes)
        note_words = set(words(text))
        for phrase in phrases:
            if phrase.pk not in found and _matches(phrase.phrase, note_words, text):
                found[phrase.pk] = (phrase, interaction)
    return list(found.values())


def customer_needs(request, customer) -> dict | None:
    """bankcrm.registry.CUSTOMER_PANELS: the needs panel of the 360 page."""
    user = request.user
    if not customer_access.can_see_assets(user, customer):
        return None
    notes = [
        i
        for i in customer.interactions.exclude(notes="")
        .select_related("actor")
        .order_by("-occurred_at", "-pk")[:NOTES_READ]
        if not i.confidential or customer_access.can_read_confidential(user, i)
    ]
    needs: list[Need] = []
    if notes:
        phrases = list(NeedPhrase.objects.filter(is_active=True))
        found = needs_in_notes(notes, phrases)
        if found:
            kinds = {p.product_kind for p, _i in found if p.product_id is None}
            ids = {p.product_id for p, _i in found if p.product_id is not None}
            candidates = list(
                Product.objects.on_sale()
                .filter(Q(kind__in=kinds) | Q(pk__in=ids))
                .order_by("risk_level", "code")
            )
            allowed = suitable_products(customer, candidates)
            for phrase, interaction in found:
                products = [
                    p
                    for p in allowed
                    if (p.pk == phrase.product_id if phrase.product_id else
                        p.kind == phrase.product_kind)
                ][:PRODUCTS_PER_NEED]  # fmt: skip
                needs.append(
                    Need(phrase.phrase, phrase.get_product_kind_display(), interaction, products)
                )
    return {"template": "analytics/_customer_needs.html", "needs": needs, "customer": customer}

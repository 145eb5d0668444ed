"""The 360 page's suitability panel (bankcrm.registry.CUSTOMER_PANELS): which products on sale
may be offered to this customer now, and why the others may not, for those who record
sales. Four queries however many products: the rule set (cached), the products on sale, the
customer's assessment and, when warnings are read, their warnings; nothing is recorded (a
list is not a sale)."""

from compliance import access
from compliance.suitability import verdicts_for_products
from compliance.suitability_models import Purpose
from customers.access import can_edit, products_for_user

LIMIT = 100  # products on sale shown; the catalogue page lists them all


def offerable_products(request, customer) -> dict | None:
    user = request.user
    if not access.can_record_sales(user) or not can_edit(user, customer):
        return None
    # The same products as the sale form offers (customers.access, then on sale).
    products = products_for_user(user).on_sale().order_by("risk_level", "code")[:LIMIT]
    verdicts = verdicts_for_products(customer, products, purpose=Purpose.SALE)
    return {
        "template": "compliance/_offerable_products.html",
        "customer": customer,
        "allowed": [(p, v) for p, v in verdicts if v.allowed],
        "blocked": [(p, v) for p, v in verdicts if not v.allowed],
    }

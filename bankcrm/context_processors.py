from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from bankcrm.roles import Role


def navigation(request):
    """Navigation entries for the user's roles; the views still check access themselves."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "show_search": False}
    items = [(_("Home"), reverse("home"))]
    sees_customers = user.has_role(
        Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER, Role.COMPLIANCE_OFFICER
    )
    if sees_customers:
        items.append((_("Customers"), reverse("customers:list")))
    # Every staff role reads the catalogue (customers.access.can_read_products).
    if user.roles or user.is_superuser:
        items.append((_("Products"), reverse("customers:product-list")))
    if user.has_role(Role.SERVICE_AGENT, Role.SERVICE_SUPERVISOR):
        items.append((_("My tickets"), reverse("service:mine")))
        items.append((_("Knowledge base"), reverse("service:kb")))
    if user.has_role(Role.SERVICE_SUPERVISOR):
        items.append((_("Supervisor"), reverse("service:supervisor")))
    if user.has_role(Role.COMPLIANCE_OFFICER, Role.ADMIN) or user.is_superuser:
        items.append((_("Audit trail"), reverse("compliance:audit")))
        items.append((_("Access alerts"), reverse("compliance:alerts")))
        items.append((_("Risk warnings"), reverse("compliance:warnings")))
        items.append((_("Suitability"), reverse("compliance:suitability")))
        items.append((_("Models"), reverse("analytics:models")))
    if user.has_role(Role.MARKETING_MANAGER, Role.BRANCH_MANAGER, Role.RELATIONSHIP_MANAGER,
                     Role.COMPLIANCE_OFFICER):  # fmt: skip
        items.append((_("Marketing"), reverse("marketing:index")))
    # The KPI dashboard (analytics.access.dashboard_scope_for_user says whose figures).
    if user.has_role(Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER, Role.MARKETING_MANAGER,
                     Role.ADMIN) or user.is_superuser:  # fmt: skip
        items.append((_("Dashboard"), reverse("analytics:dashboard")))
    if user.has_role(Role.BRANCH_MANAGER, Role.PRODUCT_MANAGER, Role.ADMIN) or user.is_superuser:
        items.append((_("Imports"), reverse("customers:import-list")))
    if user.has_role(Role.ADMIN) or user.is_staff:
        items.append((_("Administration"), reverse("admin:index")))
    return {"nav_items": items, "show_search": sees_customers}

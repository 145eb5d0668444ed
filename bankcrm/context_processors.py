from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from bankcrm.roles import Role


def navigation(request):
    """Navigation entries for the user's roles; the views still check access themselves."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [(_("Home"), reverse("home"))]
    if user.has_role(Role.ADMIN) or user.is_staff:
        items.append((_("Administration"), reverse("admin:index")))
    return {"nav_items": items}

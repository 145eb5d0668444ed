"""The home pages of the roles that hold books of customers: the relationship manager's
(my customers, follow-ups, KYC renewals) and the branch manager's (the branch and its RMs'
load). Registered in bankcrm.registry.HOME_PAGES by customers/apps.py; each runs a fixed
number of queries however many customers the user sees."""

from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from bankcrm.models import User
from bankcrm.roles import Role
from customers.access import customers_for_user
from customers.models import Customer, Interaction, tier_rank
from customers.panels import home_sections_for

LIST_SIZE = 10


def _customer_overview(request) -> dict:
    user = request.user
    customers = customers_for_user(user)
    today = timezone.localdate()
    counts = customers.aggregate(
        total=Count("pk"),
        active=Count("pk", filter=Q(lifecycle=Customer.Lifecycle.ACTIVE)),
        private=Count("pk", filter=Q(tier=Customer.Tier.PRIVATE)),
        # Affluent and above: the RM's high-value count.
        high_value=Count("pk", filter=~Q(tier=Customer.Tier.MASS)),
        kyc_due=Count(
            "pk",
            filter=Q(
                kyc_expires_on__lte=today + timedelta(days=30),
                lifecycle__in=[Customer.Lifecycle.ACTIVE, Customer.Lifecycle.DORMANT],
            ),
        ),
    )
    return {
        # Sections higher apps add (analytics' high-value customers at risk).
        "sections": home_sections_for(request),
        "today": today,
        "counts": counts,
        "customers": customers.select_related("primary_rm").order_by(tier_rank().desc(), "cif")[
            :LIST_SIZE
        ],
        "kyc_expiring": customers.kyc_expiring(30).order_by("kyc_expires_on", "cif")[:LIST_SIZE],
    }


def relationship_manager(request):
    context = _customer_overview(request)
    context["follow_ups"] = (
        Interaction.objects.filter(
            actor=request.user,
            follow_up_done=False,
            follow_up_on__lte=timezone.localdate() + timedelta(days=7),
            customer__in=customers_for_user(request.user),
        )
        .select_related("customer")
        .order_by("follow_up_on", "pk")[:LIST_SIZE]
    )
    return "customers/home_rm.html", context


def _rm_load(user) -> tuple[list[tuple[User, int]], int]:
    """Customers per relationship manager: every active RM of the branch, those with no
    customers included, and any other primary RM of the customers the manager sees; with
    how many have none. Two queries however many RMs and customers."""
    per_rm = dict(
        customers_for_user(user).order_by().values_list("primary_rm_id").annotate(n=Count("pk"))
    )
    unassigned = per_rm.pop(None, 0)
    scope = Q(pk__in=list(per_rm))
    if user.branch_id:
        rms = User.objects.filter(groups__name=Role.RELATIONSHIP_MANAGER).values("pk")
        scope |= Q(pk__in=rms, branch_id=user.branch_id, is_active=True)
    users = User.objects.filter(scope).only("username", "first_name", "last_name")
    rows = sorted(((u, per_rm.get(u.pk, 0)) for u in users), key=lambda r: (-r[1], r[0].username))
    return rows, unassigned


def branch_manager(request):
    context = _customer_overview(request)
    context["rm_load"], context["rm_unassigned"] = _rm_load(request.user)
    return "customers/home_branch.html", context


def product_manager(request):
    """A product manager starts at the catalogue they maintain."""
    from customers.views import product_list_context

    return "customers/products.html", product_list_context(request)

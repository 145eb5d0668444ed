"""One home page per role. Each builder returns (template, context) with a fixed number of
queries however much data the user can see."""

from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from bankcrm import health
from bankcrm.models import User
from bankcrm.roles import Role
from customers.access import customers_for_user
from customers.models import Customer, Interaction
from service.access import tickets_for_user
from service.models import Ticket

LIST_SIZE = 10


def _customer_overview(user) -> dict:
    customers = customers_for_user(user)
    today = timezone.localdate()
    counts = customers.aggregate(
        total=Count("pk"),
        active=Count("pk", filter=Q(lifecycle=Customer.Lifecycle.ACTIVE)),
        private=Count("pk", filter=Q(tier=Customer.Tier.PRIVATE)),
        affluent=Count("pk", filter=Q(tier=Customer.Tier.AFFLUENT)),
        kyc_due=Count(
            "pk",
            filter=Q(
                kyc_expires_on__lte=today + timedelta(days=30),
                lifecycle__in=[Customer.Lifecycle.ACTIVE, Customer.Lifecycle.DORMANT],
            ),
        ),
    )
    return {
        "today": today,
        "counts": counts,
        "customers": customers.select_related("primary_rm").order_by("-tier", "cif")[:LIST_SIZE],
        "kyc_expiring": customers.kyc_expiring(30).order_by("kyc_expires_on", "cif")[:LIST_SIZE],
    }


def relationship_manager(request):
    context = _customer_overview(request.user)
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
    return "bankcrm/home_rm.html", context


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
    context = _customer_overview(request.user)
    context["rm_load"], context["rm_unassigned"] = _rm_load(request.user)
    return "bankcrm/home_branch.html", context


def service(request):
    tickets = tickets_for_user(request.user).open()
    mine = tickets.filter(assignee=request.user)
    counts = tickets.aggregate(
        mine=Count("pk", filter=Q(assignee=request.user)),
        pool=Count("pk", filter=Q(assignee__isnull=True)),
        overdue=Count("pk", filter=Q(due_at__lt=timezone.now(), paused_at__isnull=True)),
        p1=Count("pk", filter=Q(priority=Ticket.Priority.P1)),
    )
    context = {
        "counts": counts,
        "my_tickets": mine.select_related("customer").by_urgency()[:LIST_SIZE],
        "pool": tickets.filter(assignee__isnull=True)
        .select_related("customer")
        .by_urgency()[:LIST_SIZE],
        "now": timezone.now(),
    }
    return "bankcrm/home_service.html", context


def admin(request):
    checks = health.run_checks()
    return "bankcrm/home_admin.html", {"checks": checks, "status": health.overall(checks)}


BUILDERS = {
    Role.RELATIONSHIP_MANAGER: relationship_manager,
    Role.BRANCH_MANAGER: branch_manager,
    Role.SERVICE_AGENT: service,
    Role.SERVICE_SUPERVISOR: service,
    # Role.COMPLIANCE_OFFICER: registered by compliance (compliance.home).
    Role.ADMIN: admin,
}

from bankcrm.roles import Role
from service import access
from service.models import Ticket

RECENT = 10


def customer_tickets(request, customer) -> dict | None:
    """The 360 page's tickets section: the customer's tickets the user may see, newest
    first, and a button to open one for desk users."""
    user = request.user
    # The page checked the customer is in the user's scope; an RM or branch manager sees
    # all of that customer's tickets, an agent only those of their queues.
    if user.has_role(Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER, Role.COMPLIANCE_OFFICER,
                     Role.SERVICE_SUPERVISOR):  # fmt: skip
        tickets = Ticket.objects.all()
    else:
        tickets = access.tickets_for_user(user)
    tickets = (
        tickets.filter(customer=customer)
        .select_related("assignee")
        .only(
            "pk",
            "number",
            "subject",
            "priority",
            "status",
            "created_at",
            "approval",
            "escalation_level",
            "assignee__username",
            "assignee__first_name",
            "assignee__last_name",
        )
        .order_by("-created_at", "-pk")[:RECENT]
    )
    can_open = access.is_desk_user(user)
    return {
        "template": "service/_customer_tickets.html",
        "tickets": tickets,
        "can_open": can_open,
        "customer": customer,
    }

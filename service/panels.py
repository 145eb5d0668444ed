from service import access

RECENT = 10


def customer_tickets(request, customer) -> dict | None:
    """The 360 page's tickets section: the customer's tickets the user may see, newest
    first, and a button to open one for desk users."""
    user = request.user
    tickets = (
        access.tickets_of_customer_for_user(user, customer)
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

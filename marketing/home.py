"""The marketing manager's home page: campaigns waiting for approval and sending."""

from marketing import access
from marketing.models import Campaign


def marketing_manager(request):
    campaigns = access.campaigns_for_user(request.user).select_related("segment", "created_by")
    context = {
        "waiting": list(campaigns.filter(status=Campaign.Status.PENDING_APPROVAL)[:20]),
        "sending": list(campaigns.filter(status=Campaign.Status.SENDING)[:20]),
    }
    return "marketing/home.html", context

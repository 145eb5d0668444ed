"""Roles are Django groups (created by migration 0002); these are their names."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    RELATIONSHIP_MANAGER = "relationship_manager", _("Relationship manager")
    BRANCH_MANAGER = "branch_manager", _("Branch manager")
    SERVICE_AGENT = "service_agent", _("Service agent")
    SERVICE_SUPERVISOR = "service_supervisor", _("Service supervisor")
    COMPLIANCE_OFFICER = "compliance_officer", _("Compliance officer")
    PRODUCT_MANAGER = "product_manager", _("Product manager")
    # Head office marketing: every segment and campaign, every customer as a segment
    # member (marketing/access.py); approves others' campaigns.
    MARKETING_MANAGER = "marketing_manager", _("Marketing manager")
    ADMIN = "admin", _("Administrator")


# Roles that must pass a TOTP check before seeing anything: those who read or act across
# the whole bank. A marketing manager chooses audiences over every customer of the bank
# (marketing.access.audience_scope), so a stolen password must not be enough there either.
MFA_REQUIRED_ROLES = frozenset({Role.COMPLIANCE_OFFICER, Role.MARKETING_MANAGER, Role.ADMIN})

# The order decides which home page a user with several roles lands on.
HOME_PRIORITY = [
    Role.ADMIN,
    Role.COMPLIANCE_OFFICER,
    Role.MARKETING_MANAGER,
    Role.BRANCH_MANAGER,
    Role.RELATIONSHIP_MANAGER,
    Role.SERVICE_SUPERVISOR,
    Role.SERVICE_AGENT,
    Role.PRODUCT_MANAGER,
]

"""The only way views reach segments and campaigns, who may do what with them, and how the
marketing manager reaches customers.

- Segments: an RM sees and builds their own (over their book); a branch manager those of
  their branch; a marketing manager (head office) and compliance every one (compliance
  read-only). A segment's members are always evaluated in its owner's customer scope
  (customers.access.customers_for_user), whoever looks at it.
- Campaigns: the same reach (own / branch / all); marketing managers, branch managers and
  RMs create them over segments they see; a marketing manager or compliance other than
  the creator approves (the database refuses approved_by = created_by as well).
- Customers: a marketing manager reaches every customer (CUSTOMER_SCOPES, registered in
  marketing/apps.py), so head-office segments hold the whole bank. This also lets them open
  any customer's page: each such read is logged (customer_read_by_user) like every other,
  and they see no assets and change nothing (customers.access.can_see_assets, can_edit).
Everything else is 404 (bankcrm.access.not_found).
"""

from django.db.models import Q, QuerySet

from bankcrm.access import not_found, require  # noqa: F401 - views use access.require
from bankcrm.roles import Role
from marketing.models import Campaign, Segment

_BUILDERS = (Role.MARKETING_MANAGER, Role.BRANCH_MANAGER, Role.RELATIONSHIP_MANAGER)
_READ_ALL = (Role.MARKETING_MANAGER, Role.COMPLIANCE_OFFICER)


def marketing_customer_scope(user) -> Q:
    """CUSTOMER_SCOPES for marketing_manager: every customer (head office)."""
    return Q(pk__isnull=False)


def _reach(user, qs: QuerySet, *, owner: str) -> QuerySet:
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.has_role(*_READ_ALL):
        return qs
    scope = Q(pk__in=[])
    if user.has_role(Role.BRANCH_MANAGER) and user.branch_id:
        scope |= Q(branch_id=user.branch_id)
    if user.has_role(Role.RELATIONSHIP_MANAGER):
        scope |= Q(**{owner: user})
    return qs.filter(scope)


def can_use_marketing(user) -> bool:
    return user.is_authenticated and user.has_role(*_BUILDERS, Role.COMPLIANCE_OFFICER)


def can_build(user) -> bool:
    """Build segments and campaigns (compliance reads and approves, builds nothing)."""
    return user.is_authenticated and user.has_role(*_BUILDERS)


def segments_for_user(user) -> QuerySet[Segment]:
    return _reach(user, Segment.objects.live(), owner="owner")


def segment_for_user(user, pk) -> Segment:
    try:
        return segments_for_user(user).select_related("owner").get(pk=int(pk))
    except (Segment.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("marketing.segment", pk) from None


def can_edit_segment(user, segment: Segment) -> bool:
    """Its owner, or a marketing manager; snapshots are never changed."""
    if segment.kind == Segment.Kind.SNAPSHOT:
        return False
    return segment.owner_id == user.pk or user.has_role(Role.MARKETING_MANAGER)


def can_export_segment(user, segment: Segment) -> bool:
    return can_build(user) or user.has_role(Role.COMPLIANCE_OFFICER)


def campaigns_for_user(user) -> QuerySet[Campaign]:
    return _reach(user, Campaign.objects.all(), owner="created_by")


def campaign_for_user(user, pk, *, related=("segment", "created_by", "approved_by")) -> Campaign:
    try:
        return campaigns_for_user(user).select_related(*related).get(pk=int(pk))
    except (Campaign.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("marketing.campaign", pk) from None


def can_edit_campaign(user, campaign: Campaign) -> bool:
    return campaign.created_by_id == user.pk or user.has_role(Role.MARKETING_MANAGER)


def can_approve(user, campaign: Campaign) -> bool:
    """A second person: a marketing manager or compliance who did not create it."""
    return user.has_role(*_READ_ALL) and campaign.created_by_id != user.pk


def can_launch(user, campaign: Campaign) -> bool:
    return can_edit_campaign(user, campaign)

"""The only way views reach segments and campaigns, who may do what with them, and how the
marketing manager reaches customers.

- Segments: an RM sees and builds their own (over their book); a branch manager those of
  their branch; a marketing manager (head office) and compliance every one (compliance
  read-only). A segment's members are always evaluated in its owner's customer scope
  (customers.access.customers_for_user), whoever looks at it.
- Campaigns: the same reach (own / branch / all); marketing managers, branch managers and
  RMs create them over segments they see; a marketing manager or compliance other than
  the creator approves (the database refuses approved_by = created_by as well).
- Customers: a segment's members are drawn from `audience_scope(owner)`: a marketing
  manager's (head office) segments hold the whole bank, everyone else's their own customer
  scope. That reach is for segments and campaigns only: a marketing manager opens no
  customer's page (they are not in customers.access's scopes; minimal exposure, PIPL), and
  sees customers only as counts and masked samples.
Everything else is 404 (bankcrm.access.not_found).
"""

from django.db.models import Q, QuerySet

from bankcrm.access import not_found, require  # noqa: F401 - views use access.require
from bankcrm.roles import Role
from customers.access import customers_for_user
from customers.models import Customer
from marketing.models import Campaign, Segment

_BUILDERS = (Role.MARKETING_MANAGER, Role.BRANCH_MANAGER, Role.RELATIONSHIP_MANAGER)
_READ_ALL = (Role.MARKETING_MANAGER, Role.COMPLIANCE_OFFICER)


def audience_scope(owner) -> QuerySet[Customer]:
    """The customers a segment of `owner` may hold: every customer for a marketing manager
    (head office), the owner's own customer scope otherwise."""
    if owner.is_active and owner.has_role(Role.MARKETING_MANAGER):
        return Customer.objects.all()
    return customers_for_user(owner)


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


def can_freeze_segment(user, segment: Segment) -> bool:
    """Keep a dynamic segment's members now as a snapshot: whoever builds and sees it."""
    return can_build(user) and segment.kind == Segment.Kind.DYNAMIC


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

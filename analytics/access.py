"""Who sees what of analytics.

Scores, value tiers and lifetime values are asset-based figures: they are shown on a
customer's page only to roles that may see the customer's assets
(customers.access.can_see_assets: RMs, branch managers, compliance), never to the service
desk. The model pages (versions, metrics, who trained and activated) are for compliance
(model risk) and administrators; activating is theirs too, by a second person. The
follow-ups of negative satisfaction comments are the service supervisors'.
"""

from dataclasses import dataclass

from django.db.models import QuerySet

from analytics.models import FeedbackFollowUp, ModelVersion, ReportDefinition, ReportRun
from bankcrm.access import not_found
from bankcrm.roles import Role
from customers.access import can_see_assets
from service.access import tickets_for_user


def can_see_scores(user, customer=None) -> bool:
    return can_see_assets(user, customer)


def can_see_models(user) -> bool:
    return user.is_authenticated and (
        user.is_superuser or user.has_role(Role.COMPLIANCE_OFFICER, Role.ADMIN)
    )


def model_versions_for_user(user) -> QuerySet[ModelVersion]:
    if not can_see_models(user):
        return ModelVersion.objects.none()
    return ModelVersion.objects.defer("model_text", "baseline")


def model_version_for_user(user, pk) -> ModelVersion:
    try:
        return (
            model_versions_for_user(user)
            .select_related("trained_by", "activated_by")
            .get(pk=int(pk))
        )
    except (ModelVersion.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("analytics.modelversion", pk) from None


def can_activate(user, version: ModelVersion) -> bool:
    """A second person: not the one who trained it (the service re-checks under the lock)."""
    return can_see_models(user) and version.trained_by_id != user.pk


# ---- dashboards and reports (issue 21) ------------------------------------------------------

# Head office sees every branch's figures (aggregates, no customer's data): administrators
# and marketing managers. Compliance reads the audit trail, not business figures.
HEAD_OFFICE_ROLES = (Role.ADMIN, Role.MARKETING_MANAGER)


@dataclass(frozen=True)
class DashboardScope:
    """Whose figures a user's dashboard sums: the whole bank, one branch, or one RM's book.
    A bank-wide user may narrow to a branch with the filter; nobody widens their scope."""

    branch_id: int | None = None  # None: every branch
    rm_id: int | None = None  # an RM's own book

    @property
    def is_bank(self) -> bool:
        return self.branch_id is None and self.rm_id is None


def dashboard_scope_for_user(user) -> DashboardScope | None:
    """None when the user has no dashboard. A branch manager who is also an RM sees the
    branch (which contains the book)."""
    if not user.is_authenticated:
        return None
    if user.is_superuser or user.has_role(*HEAD_OFFICE_ROLES):
        return DashboardScope()
    if user.has_role(Role.BRANCH_MANAGER) and user.branch_id:
        return DashboardScope(branch_id=user.branch_id)
    if user.has_role(Role.RELATIONSHIP_MANAGER):
        return DashboardScope(rm_id=user.pk)
    return None


def report_scope_covers(user, definition) -> bool:
    """Whether the user's dashboard scope covers a report definition's branch (a branch
    manager only their own branch's; head office any)."""
    scope = dashboard_scope_for_user(user)
    if scope is None or scope.rm_id is not None:
        return False
    return scope.is_bank or definition.branch_id == scope.branch_id


def can_download_report(user, definition) -> bool:
    """The definition's recipient roles, within their scope: the data-usage report goes to
    compliance (and administrators) whatever the branch; business reports to the recipient
    roles whose dashboard covers the report's branch."""
    if not user.is_authenticated or not user.has_role(*definition.recipient_roles):
        return False
    if definition.dashboard == ReportDefinition.Dashboard.DATA_USAGE:
        return user.has_role(Role.COMPLIANCE_OFFICER, Role.ADMIN)
    return report_scope_covers(user, definition)


def report_definitions_for_user(user) -> QuerySet[ReportDefinition]:
    """The definitions whose runs the user may download (a handful: filtered in Python)."""
    rows = ReportDefinition.objects.filter(is_active=True).select_related("branch")
    ids = [d.pk for d in rows if can_download_report(user, d)]
    return ReportDefinition.objects.filter(pk__in=ids)


def report_definition_for_user(user, pk) -> ReportDefinition:
    try:
        return report_definitions_for_user(user).get(pk=int(pk))
    except (ReportDefinition.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("analytics.reportdefinition", pk) from None


def report_runs_for_user(user) -> QuerySet[ReportRun]:
    """The runs of the definitions the user may download (the reports page, a download)."""
    return ReportRun.objects.filter(definition__in=report_definitions_for_user(user))


def report_run_for_user(user, pk) -> ReportRun:
    try:
        return report_runs_for_user(user).select_related("definition").get(pk=int(pk))
    except (ReportRun.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("analytics.reportrun", pk) from None


# ---- follow-ups of negative satisfaction comments ------------------------------------------


def can_follow_up(user) -> bool:
    """The service supervisors: the follow-ups are theirs, on the supervisor page."""
    return user.is_authenticated and user.has_role(Role.SERVICE_SUPERVISOR)


def follow_ups_for_user(user) -> QuerySet[FeedbackFollowUp]:
    """The follow-ups of the tickets the supervisor sees (service.access)."""
    if not can_follow_up(user):
        return FeedbackFollowUp.objects.none()
    return FeedbackFollowUp.objects.filter(ticket__in=tickets_for_user(user))


def follow_up_for_user(user, pk) -> FeedbackFollowUp:
    try:
        return follow_ups_for_user(user).get(pk=int(pk))
    except (FeedbackFollowUp.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("analytics.feedbackfollowup", pk) from None

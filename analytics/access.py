"""Who sees what of analytics.

Scores, value tiers and lifetime values are asset-based figures: they are shown on a
customer's page only to roles that may see the customer's assets
(customers.access.can_see_assets: RMs, branch managers, compliance), never to the service
desk. The model pages (versions, metrics, who trained and activated) are for compliance
(model risk) and administrators; activating is theirs too, by a second person. The
follow-ups of negative satisfaction comments are the service supervisors'.
"""

from django.db.models import QuerySet

from analytics.models import FeedbackFollowUp, ModelVersion
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

"""Who sees what of analytics.

Scores, value tiers and lifetime values are asset-based figures: they are shown on a
customer's page only to roles that may see the customer's assets
(customers.access.can_see_assets: RMs, branch managers, compliance), never to the service
desk. The model pages (versions, metrics, who trained and activated) are for compliance
(model risk) and administrators; activating is theirs too, by a second person.
"""

from django.db.models import QuerySet

from analytics.models import ModelVersion
from bankcrm.access import not_found
from bankcrm.roles import Role
from customers.access import can_see_assets


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

"""Who may use the compliance screens, and the only way their views reach rows.

Compliance officers and admins read the audit trail (both pass TOTP first:
MfaRequiredMiddleware); only compliance officers act on it (review alerts, freeze and
unfreeze accounts), and never on their own account or their own alerts.

Risk warnings: RMs and branch managers see those of the customers they see (the same
scope as customers.access); compliance officers and admins see all of them and their
history. A compliance officer, or the branch manager of the customer's branch, clears one;
admins read and do not decide."""

from bankcrm.access import not_found, require
from bankcrm.models import User
from bankcrm.roles import Role
from compliance.models import AccessAlert, RiskWarning, SuitabilityCheck
from customers import access as customer_access
from customers.access import customers_for_user
from customers.models import Customer


def can_review(user) -> bool:
    return user.has_role(Role.COMPLIANCE_OFFICER, Role.ADMIN) or user.is_superuser


def can_act(user) -> bool:
    return user.has_role(Role.COMPLIANCE_OFFICER)


def require_reviewer(user) -> None:
    require(can_review(user))


def customer_for_reviewer(user, pk) -> Customer:
    require_reviewer(user)
    try:
        return (
            Customer.objects.select_related("primary_rm", "branch")
            .defer("national_id", "mobile", "email", "address")
            .get(pk=int(pk))
        )
    except (Customer.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("customers.customer", pk) from None


def account_for_reviewer(user, pk) -> User:
    require_reviewer(user)
    try:
        return User.objects.select_related("branch").get(pk=int(pk))
    except (User.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("bankcrm.user", pk) from None


def can_act_on(user, account: User) -> bool:
    """Freeze, unfreeze: compliance officers, on others' accounts."""
    return can_act(user) and account.pk != user.pk


def alerts_for_reviewer(user):
    """Alerts about oneself are for colleagues: not listed, not reviewable (404)."""
    require_reviewer(user)
    return AccessAlert.objects.exclude(user=user)


def alert_for_reviewer(user, pk) -> AccessAlert:
    try:
        return alerts_for_reviewer(user).select_related("rule", "user__branch").get(pk=int(pk))
    except (AccessAlert.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("compliance.accessalert", pk) from None


# ---- risk warnings ------------------------------------------------------------------------


def can_see_warnings(user) -> bool:
    """Those who keep customer relationships, and compliance; not the service desk (a
    court case is not a ticket's business), not product managers."""
    return (
        user.has_role(Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER, Role.COMPLIANCE_OFFICER,
                      Role.ADMIN)
        or user.is_superuser
    )  # fmt: skip


def warnings_for_user(user):
    """Every warning for compliance and admins; the warnings of the customers in scope for
    RMs and branch managers (delegations included); none for anyone else."""
    if can_review(user):
        return RiskWarning.objects.all()
    if not can_see_warnings(user):
        return RiskWarning.objects.none()
    return RiskWarning.objects.filter(customer__in=customers_for_user(user).values("pk"))


def warning_for_user(user, pk) -> RiskWarning:
    require(can_see_warnings(user))
    try:
        return (
            warnings_for_user(user)
            .select_related("customer__branch", "customer__primary_rm", "kind", "cleared_by")
            .defer(*(f"customer__{name}" for name in ("national_id", "mobile", "email", "address")))
            .get(pk=int(pk))
        )
    except (RiskWarning.DoesNotExist, ValueError, TypeError, OverflowError):
        raise not_found("compliance.riskwarning", pk) from None


def can_clear_warning(user, warning: RiskWarning) -> bool:
    if user.has_role(Role.COMPLIANCE_OFFICER):
        return True
    return (
        user.has_role(Role.BRANCH_MANAGER)
        and user.branch_id is not None
        and warning.customer.branch_id == user.branch_id
    )


# ---- suitability: recording sales, the suitability screen --------------------------------


def can_record_sales(user) -> bool:
    """RMs (their own customers, and those delegated to them to change) and branch managers
    (their branch). Agents, supervisors, compliance, product managers and admins do not
    sell."""
    return user.is_authenticated and user.has_role(Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER)


def customer_for_sale(request, pk) -> Customer:
    """The customer a sale is recorded for: 403 for a role that does not sell, 404 outside
    the user's scope (customers.access), 403 for a customer the user may only read; the
    read is logged like any page that shows the customer's data."""
    require(can_record_sales(request.user))
    return customer_access.customer_read_by_user(
        request, pk, what="compliance.sale", allowed=customer_access.can_edit,
        related=("branch",), defer=customer_access.ENCRYPTED_FIELDS,
    )  # fmt: skip


def can_review_suitability(user) -> bool:
    """The suitability screen: compliance officers, and admins (read-only, as everywhere)."""
    return can_review(user)


def suitability_checks_for_reviewer(user):
    require(can_review_suitability(user))
    return SuitabilityCheck.objects.all()

"""Every compliance/ URL × every role × own / someone else's object: the status each gets
(tests/matrix.py runs it).

Reading the trail (entries of each kind, a customer's history, a user's activity, alerts,
the exports) is for compliance officers and admins; acting on it (reviewing an alert,
freezing and unfreezing an account) for compliance officers only, and never on themselves:
own is the user's own account and an alert about them (not listed: 404), other a
colleague's. Everyone else is refused (403) before any row is read.
"""

import pytest
from django.utils import timezone

from bankcrm.roles import Role
from compliance import warnings
from compliance.models import AccessAlert, AccessRule, RiskWarning
from tests import factories
from tests.matrix import Matrix, World, expect

pytestmark = pytest.mark.django_db

REVIEW = {"decision": "dismissed", "note": "经核实为正常业务查询"}
FREEZE = {"reason": "疑似违规批量查询客户"}
CLEAR = {"reason": "法院已终结本次执行程序"}
NO = (403, 403)


def readers(status):
    return expect(
        relationship_manager=NO if isinstance(status, tuple) else 403,
        branch_manager=NO if isinstance(status, tuple) else 403,
        service_agent=NO if isinstance(status, tuple) else 403,
        service_supervisor=NO if isinstance(status, tuple) else 403,
        compliance_officer=status,
        product_manager=NO if isinstance(status, tuple) else 403,
        marketing_manager=NO if isinstance(status, tuple) else 403, admin=status)  # fmt: skip


def officers(status):
    """Compliance officers act on a colleague (other), never on themselves (own: 403)."""
    return expect(
        relationship_manager=NO, branch_manager=NO, service_agent=NO, service_supervisor=NO,
        compliance_officer=(403, status), product_manager=403, marketing_manager=NO,
        admin=NO)  # fmt: skip


def sellers(status):
    return expect(
        relationship_manager=(status, 404), branch_manager=(status, 404), service_agent=NO,
        service_supervisor=NO, compliance_officer=NO, product_manager=NO, marketing_manager=NO,
        admin=NO)  # fmt: skip


SALE_CHECK: dict = {}

MATRIX = Matrix(urlconfs=["compliance.urls"], rows={
    "compliance:audit":                          ("get", None, None, readers(200)),
    "compliance:audit (data changes)":           ("get", {"kind": "writes"}, None, readers(200)),
    "compliance:audit (security events)":        ("get", {"kind": "security"}, None, readers(200)),
    "compliance:audit-export":                   ("get", None, None, readers(200)),
    "compliance:audit-export (data changes)":    ("get", {"kind": "writes"}, None, readers(200)),
    "compliance:audit-export (security events)": ("get", {"kind": "security"}, None,
                                                  readers(200)),
    "compliance:customer-history":        ("get", None, "customer", readers((200, 200))),
    "compliance:customer-history-export": ("get", None, "customer", readers((200, 200))),
    "compliance:user-activity":           ("get", None, "account", readers((200, 200))),
    "compliance:user-activity-export":    ("get", None, "account", readers((200, 200))),
    "compliance:user-freeze":             ("post", FREEZE, "account", officers(302)),
    "compliance:user-unfreeze":           ("post", FREEZE, "frozen account", officers(302)),
    "compliance:alerts":                  ("get", None, None, readers(200)),
    # An alert about oneself is a colleague's to review: not found, even to read.
    "compliance:alert-detail":            ("get", None, "alert", readers((404, 200))),
    "compliance:alert-detail (review)":   ("post", REVIEW, "alert", expect(
        relationship_manager=NO, branch_manager=NO, service_agent=NO, service_supervisor=NO,
        compliance_officer=(404, 302), product_manager=(403, 403), marketing_manager=NO,
        admin=(404, 403))),
    # Risk warnings: the list and its history for compliance and admins; one warning for
    # those who see its customer (own: a customer of the RM's book and the branch; other:
    # another branch's), cleared by compliance or the customer's branch manager.
    "compliance:warnings":                ("get", None, None, readers(200)),
    "compliance:warnings (filtered)":     ("get", {"status": "open", "severity": "3"}, None,
                                           readers(200)),
    "compliance:warning-detail":          ("get", None, "warning", expect(
        relationship_manager=(200, 404), branch_manager=(200, 404), service_agent=NO,
        service_supervisor=NO, compliance_officer=(200, 200), product_manager=NO,
        marketing_manager=NO,
        admin=(200, 200))),
    "compliance:warning-detail (clear)":  ("post", CLEAR, "warning", expect(
        relationship_manager=(403, 404), branch_manager=(302, 404), service_agent=NO,
        service_supervisor=NO, compliance_officer=(302, 302), product_manager=NO,
        marketing_manager=NO,
        admin=(403, 403))),
    # Suitability: RMs and branch managers record sales for customers they may change (own:
    # their customer; other: another branch's, 404); nobody else sells (403). The screen
    # of blocks and sales is for readers of the trail.
    "compliance:sale-create":             ("get", None, "customer", sellers(200)),
    "compliance:sale-create (check)":     ("post", lambda: SALE_CHECK, "customer", sellers(200)),
    "compliance:suitability":             ("get", None, None, readers(200)),
    "compliance:suitability (filtered)":  ("get", {"verdict": "blocked", "code": "allowed"},
                                           None, readers(200)),
    "compliance:suitability-export":      ("get", None, None, readers(200)),
})  # fmt: skip
test_every_url_is_in_the_matrix, test_permission_matrix = MATRIX.tests()


@pytest.fixture
def world(staff, customer, other_branch, branch, risk_kinds):
    stranger = factories.customer(
        branch=other_branch, rm=factories.user(Role.RELATIONSHIP_MANAGER, branch=other_branch)
    )
    colleague = factories.user(Role.RELATIONSHIP_MANAGER, branch=branch, username="subject")
    rule = AccessRule.objects.create(name="批量查看", threshold=1, window_minutes=10)
    product = factories.product(kind="fund", risk_level=1)
    SALE_CHECK.update(product=product.pk, amount="1000", channel="branch", action="check")

    def alert(about):
        return AccessAlert.objects.create(
            rule=rule, user=about, window_start=timezone.now(), count=2, threshold=1
        ).pk

    def warning(of):
        applied = warnings.warning_signal_apply(signal=warnings.Signal(
            source="core", signal_id=f"S-{of.pk}", customer_id=of.pk,
            kind="court_enforcement", occurred_at=timezone.now(),
        ))  # fmt: skip
        return applied.warning_id if applied else RiskWarning.objects.get(customer=of).pk

    def objects(kind, user):
        me = user or staff[Role.RELATIONSHIP_MANAGER]  # anonymous visitors: any account
        if kind == "customer":
            return {"pk": customer.pk}, {"pk": stranger.pk}
        if kind in ("account", "frozen account"):
            if kind == "frozen account":
                colleague.frozen_at = timezone.now()
                colleague.save(update_fields=["frozen_at"])
            return {"pk": me.pk}, {"pk": colleague.pk}
        if kind == "alert":
            return {"pk": alert(me)}, {"pk": alert(colleague)}
        if kind == "warning":
            return {"pk": warning(customer)}, {"pk": warning(stranger)}
        return {}, None

    return World(users=staff, objects=objects)

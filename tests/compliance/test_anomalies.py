"""Access-anomaly rules: a user reading unusually many customers raises one alert for
compliance, a freezing rule ends the account's sessions at once, and the review and the
unfreeze are recorded."""

from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from bankcrm.models import AccessLog, SecurityEvent
from bankcrm.roles import Role
from compliance import anomalies
from compliance.models import AccessAlert, AccessRule, DataChange, RecentRead
from compliance.services import alert_review
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(branch, rm):
    """Six customers of the RM's: three mass, three private banking."""
    mass = [factories.customer(branch=branch, rm=rm) for _ in range(3)]
    private = [factories.customer(branch=branch, rm=rm, tier="private") for _ in range(3)]
    return mass + private


def rule(**fields) -> AccessRule:
    fields.setdefault("name", f"rule {AccessRule.objects.count() + 1}")
    fields.setdefault("window_minutes", 10)
    fields.setdefault("roles", [Role.RELATIONSHIP_MANAGER])
    return AccessRule.objects.create(**fields)


def view_all(client, customers):
    for customer in customers:
        assert client.get(f"/customers/{customer.pk}/").status_code == 200


def test_more_distinct_customers_than_allowed_raises_one_alert(client, login, rm, book):
    watch = rule(name="批量查看客户", threshold=3, actions=["view"])
    login(rm)
    view_all(client, book[:3] + book[:3])  # the same three twice: still three
    assert not AccessAlert.objects.exists()
    view_all(client, book[3:])  # a fourth, fifth and sixth customer
    alert = AccessAlert.objects.get()
    assert (alert.rule, alert.user, alert.count, alert.threshold) == (watch, rm, 4, 3)
    assert alert.status == "open" and not alert.froze_account
    assert client.get("/").status_code == 200  # alert only: still signed in
    # Raising it is in the audit trail as the rule's doing.
    raised = DataChange.objects.get(table_name="compliance_accessalert", op="I")
    assert raised.actor_label == f"access-rule:{watch.pk}" and raised.actor_id is None


def test_a_freezing_rule_on_high_value_customers_ends_every_session(client, login, rm, book):
    rule(name="私行客户批量查看", threshold=2, min_tier="private", freeze_account=True)
    other_browser = Client()
    other_browser.force_login(rm)
    login(rm)
    view_all(client, book[:3])  # mass customers do not count
    view_all(client, book[3:5])
    assert not AccessAlert.objects.exists()
    view_all(client, book[5:])  # the third private-banking customer
    alert = AccessAlert.objects.get()
    assert alert.froze_account and alert.count == 3
    rm.refresh_from_db()
    assert rm.is_frozen
    # Both browsers are signed out: the session rows are gone, and any request is refused.
    assert not [s for s in Session.objects.all() if s.get_decoded().get(SESSION_KEY)]
    for browser in (client, other_browser):
        assert browser.get(f"/customers/{book[0].pk}/")["Location"].startswith("/accounts/login/")
    frozen = SecurityEvent.objects.get(kind=SecurityEvent.Kind.FROZEN)
    assert frozen.user == rm and frozen.actor is None
    assert frozen.detail["alert"] == alert.pk and frozen.detail["sessions_ended"] == 2
    assert frozen.ip_address == "127.0.0.1"
    change = DataChange.objects.get(table_name="bankcrm_user", row_pk=str(rm.pk), op="U")
    assert change.changes["frozen_at"][0] is None and change.actor_label.startswith("access-rule")


def test_exported_rows_count_across_exports(client, login, rm, book):
    rule(name="大量导出", measure="exported_rows", threshold=8, window_minutes=60)
    login(rm)
    b"".join(client.get("/customers/export/").streaming_content)  # six rows
    assert not AccessAlert.objects.exists()
    b"".join(client.get("/customers/export/").streaming_content)  # twelve
    assert AccessAlert.objects.get().count == 12


def test_rules_apply_only_to_their_roles_their_window_and_while_active(
    client, login, rm, branch_manager, book
):
    rule(name="only RMs", threshold=1, roles=[Role.RELATIONSHIP_MANAGER], is_active=False)
    rule(name="branch managers", threshold=1, roles=[Role.BRANCH_MANAGER])
    login(rm)
    view_all(client, book)
    assert not AccessAlert.objects.exists()  # the RM's rule is off; the other is not theirs
    # Reads before the window do not count.
    long_ago = timezone.now() - timedelta(minutes=30)
    for customer in book:
        noted_read(branch_manager, customer, at=long_ago)
    assert anomalies.access_check(user=branch_manager) == []
    noted_read(branch_manager, book[0])
    assert anomalies.access_check(user=branch_manager) == []  # one in the window: allowed
    noted_read(branch_manager, book[1], action="reveal")
    (alert,) = anomalies.access_check(user=branch_manager)
    assert alert.count == 2


def noted_read(user, customer, *, action="view", at=None):
    row = AccessLog.objects.create(
        actor=user, action=action, object_type="customers.customer", customer_id=customer.pk,
        at=at or timezone.now(),
    )  # fmt: skip
    anomalies.rules_passed(user, row)  # notes it
    return row


def test_the_check_counts_customers_not_reads_and_forgets_after_a_week(
    client, login, rm, compliance_officer, book
):
    """However often a customer is read, the rule's check reads one note per customer and
    kind of read: its cost follows the customers a user works with, not their clicks."""
    watch = rule(name="批量查看客户", threshold=2)
    login(rm)
    for _ in range(10):
        view_all(client, book[:2])
    assert RecentRead.objects.filter(user_id=rm.pk).count() == 2
    assert set(RecentRead.objects.values_list("tier", flat=True)) == {"mass"}
    assert not AccessAlert.objects.exists()
    view_all(client, book[2:3])
    assert AccessAlert.objects.get().count == 3
    # An open alert is not counted again: the rule's check is skipped for this user until
    # the alert is reviewed.
    assert anomalies.rules_passed(rm) == {}
    alert_review(
        alert=AccessAlert.objects.get(), reviewer=compliance_officer, decision="dismissed",
        note="核实为正常业务", unfreeze=False,
    )  # fmt: skip
    assert anomalies.rules_passed(rm) == {watch.pk: 3}
    assert anomalies.recent_reads_prune(now=timezone.now() + timedelta(days=8)) == 3
    assert not RecentRead.objects.exists()


def test_the_review_lifts_the_freeze_and_is_recorded(
    client, login, rm, compliance_officer, admin_user, book
):
    rule(name="私行客户批量查看", threshold=1, min_tier="private", freeze_account=True)
    rm_browser = Client()
    rm_browser.force_login(rm)
    view_all(rm_browser, book[3:5])
    alert = AccessAlert.objects.get()
    url = f"/compliance/alerts/{alert.pk}/"
    # Admins may read alerts; only compliance officers decide them.
    login(admin_user)
    assert client.get(url).status_code == 200
    assert client.post(url, {"decision": "dismissed", "note": "x" * 20}).status_code == 403
    client.logout()
    login(compliance_officer)
    page = client.get(url).content.decode()
    assert 'data-testid="review-form"' in page and page.count('data-testid="audit-row"') == 2
    refused = client.post(url, {"decision": "dismissed", "note": "short"})
    assert refused.status_code == 200 and AccessAlert.objects.get().status == "open"
    response = client.post(
        url,
        {"decision": "dismissed", "note": "年终客户回访，经支行长确认", "unfreeze": "on"},
        REMOTE_ADDR="10.20.0.5",
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    rm.refresh_from_db()
    assert alert.status == "dismissed" and alert.reviewed_by == compliance_officer
    assert not rm.is_frozen
    unfrozen = SecurityEvent.objects.get(kind=SecurityEvent.Kind.UNFROZEN)
    assert unfrozen.actor == compliance_officer and unfrozen.ip_address == "10.20.0.5"
    assert "年终客户回访" in unfrozen.detail["reason"]
    review = DataChange.objects.get(table_name="compliance_accessalert", op="U")
    assert review.actor_id == compliance_officer.pk and review.ip_address == "10.20.0.5"
    assert review.changes["status"] == ["open", "dismissed"]
    # A second review finds it done; the RM signs in again.
    client.post(url, {"decision": "confirmed", "note": "再次审核不应生效"})
    assert AccessAlert.objects.get().status == "dismissed"
    assert (
        Client()
        .post("/accounts/login/", {"username": "rm", "password": factories.PASSWORD})
        .status_code
        == 302
    )


def test_nobody_sees_or_reviews_an_alert_about_themselves(client, login, compliance_officer):
    watch = rule(name="合规人员", threshold=1, roles=[Role.COMPLIANCE_OFFICER])
    alert = AccessAlert.objects.create(
        rule=watch, user=compliance_officer, window_start=timezone.now(), count=2, threshold=1
    )
    login(compliance_officer)
    assert client.get(f"/compliance/alerts/{alert.pk}/").status_code == 404
    assert "alert-row" not in client.get("/compliance/alerts/").content.decode()
    own = f"/compliance/users/{compliance_officer.pk}/freeze/"
    assert client.post(own, {"reason": "冻结自己的账户试试"}).status_code == 403


def test_compliance_freezes_and_unfreezes_by_hand_with_a_reason(
    client, login, rm, compliance_officer
):
    rm_browser = Client()
    rm_browser.force_login(rm)
    login(compliance_officer)
    client.post(f"/compliance/users/{rm.pk}/freeze/", {"reason": "短"})
    rm.refresh_from_db()
    assert not rm.is_frozen  # no reason given: nothing done
    client.post(f"/compliance/users/{rm.pk}/freeze/", {"reason": "举报：疑似泄露客户信息"})
    rm.refresh_from_db()
    assert rm.is_frozen
    assert rm_browser.get("/")["Location"].startswith("/accounts/login/")
    page = client.get(f"/compliance/users/{rm.pk}/activity/").content.decode()
    assert 'data-testid="account-frozen"' in page and 'data-testid="unfreeze-form"' in page
    client.post(f"/compliance/users/{rm.pk}/unfreeze/", {"reason": "调查结束，未发现问题"})
    rm.refresh_from_db()
    assert not rm.is_frozen
    events = SecurityEvent.objects.filter(user=rm, kind__in=["frozen", "unfrozen"]).order_by("id")
    assert [(e.kind, e.actor) for e in events] == [
        ("frozen", compliance_officer),
        ("unfrozen", compliance_officer),
    ]


def test_rules_are_kept_in_admin_and_alerts_shown_there_read_only(client, login, admin_user, rm):
    login(admin_user)
    assert client.get("/admin/compliance/accessrule/add/").status_code == 200
    form = {
        "name": "夜间批量查看", "is_active": "on", "measure": "customers",
        "actions": ["view", "reveal"], "min_tier": "affluent", "threshold": "30",
        "window_minutes": "15", "roles": [Role.RELATIONSHIP_MANAGER], "freeze_account": "on",
    }  # fmt: skip
    assert client.post("/admin/compliance/accessrule/add/", form).status_code == 302
    saved = AccessRule.objects.get(name="夜间批量查看")
    assert saved.actions == ["view", "reveal"] and saved.roles == [Role.RELATIONSHIP_MANAGER]
    assert DataChange.objects.filter(table_name="compliance_accessrule", op="I").get().actor_id == (
        admin_user.pk
    )
    refused = client.post(
        "/admin/compliance/accessrule/add/",
        {**form, "name": "导出", "measure": "exported_rows"},
    )
    assert refused.status_code == 200 and "只适用于" in refused.content.decode()
    AccessAlert.objects.create(
        rule=saved, user=rm, window_start=timezone.now(), count=31, threshold=30
    )
    assert client.get("/admin/compliance/accessalert/").status_code == 200
    alert = AccessAlert.objects.get()
    assert client.get(f"/admin/compliance/accessalert/{alert.pk}/change/").status_code == 200
    assert client.get(f"/admin/compliance/accessrule/{saved.pk}/delete/").status_code == 403

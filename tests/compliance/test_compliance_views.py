"""The customer's access history and a user's activity (three kinds of record merged, paged
once each), and constant query counts (who may open what:
tests/compliance/test_permission_matrix.py)."""

import csv
import html
import io
import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.utils import timezone

from bankcrm.audit import audit_context, record_security_event
from bankcrm.models import AccessLog, SecurityEvent
from compliance.models import AccessAlert, AccessRule

pytestmark = pytest.mark.django_db

FREEZE = {"reason": "疑似违规批量查询客户"}


@pytest.fixture
def subject(branch):
    from bankcrm.roles import Role
    from tests import factories

    return factories.user(Role.RELATIONSHIP_MANAGER, branch=branch, username="subject")


@pytest.fixture
def alert(subject):
    rule = AccessRule.objects.create(name="批量查看", threshold=1, window_minutes=10)
    return AccessAlert.objects.create(
        rule=rule, user=subject, window_start=timezone.now(), count=2, threshold=1
    )


@pytest.mark.parametrize(
    "url",
    [
        "/compliance/customers/999999/history/",
        "/compliance/customers/999999/history.csv",
        "/compliance/users/999999/activity/",
        "/compliance/users/999999/freeze/",
        "/compliance/alerts/999999/",
    ],
)
def test_unknown_ids_are_not_found(url, client, login, compliance_officer):
    login(compliance_officer)
    method = client.post if url.endswith("freeze/") else client.get
    assert method(url, FREEZE).status_code == 404


def test_posts_only_take_posts(client, login, compliance_officer, subject):
    login(compliance_officer)
    assert client.get(f"/compliance/users/{subject.pk}/freeze/").status_code == 405


def read(user, customer, action="view", at=None, reason=""):
    return AccessLog.objects.create(
        actor=user, action=action, object_type="customers.customer", object_id=str(customer.pk),
        customer_id=customer.pk, reason=reason, ip_address="10.1.2.3",
        at=at or timezone.now(),
    )  # fmt: skip


def walk(client, url) -> tuple[list[tuple[str, str]], int]:
    """Every (kind, id) the paged screen shows, following the "older" links."""
    seen, after, pages = [], None, 0
    while True:
        text = client.get(url, {"after": after} if after else {}).content.decode()
        seen += re.findall(r'data-id="(\d+)" data-kind="(\w+)"', text)
        more = re.search(r'after=([^"]+)" data-testid="audit-next"', text)
        after, pages = (unquote(html.unescape(more.group(1))) if more else None), pages + 1
        if not after:
            return seen, pages


def test_a_customers_history_merges_reads_changes_and_expiries_once_each(
    client, login, compliance_officer, rm, other_rm, customer
):
    same_instant = timezone.now() - timedelta(minutes=5)
    for n in range(60):
        read(rm if n % 2 else other_rm, customer, at=same_instant if n < 30 else None)
    with audit_context(actor=rm, label="web"):
        for tier in ("affluent", "private", "mass"):
            customer.tier = tier
            customer.save()
    record_security_event(
        SecurityEvent.Kind.DELEGATION_EXPIRED, user=other_rm, customer_id=customer.pk,
        detail={"delegation": 1},
    )  # fmt: skip
    login(compliance_officer)
    seen, pages = walk(client, f"/compliance/customers/{customer.pk}/history/")
    kinds = [kind for _pk, kind in seen]
    # The reads, the officer's own opening of the history, the customer's creation, e-mail
    # and three tiers, the delegation's expiry.
    assert len(seen) == len(set(seen)) == 61 + 5 + 1 and pages == 2
    assert (kinds.count("reads"), kinds.count("writes"), kinds.count("security")) == (61, 5, 1)
    # Opening the history is itself logged (once, not per page).
    assert (
        AccessLog.objects.filter(
            actor=compliance_officer, object_type="compliance.customer_history"
        ).count()
        == 1
    )


def test_a_users_activity_shows_their_reads_changes_and_sign_ins(
    client, login, compliance_officer, rm, customer
):
    # Data changes carry their transaction's start (the test's): the read is made older.
    read(rm, customer, action="reveal", reason="核对身份", at=timezone.now() - timedelta(hours=1))
    with audit_context(actor=rm, label="web"):
        customer.tier = "private"
        customer.save()
    record_security_event(SecurityEvent.Kind.LOGIN, user=rm, actor=rm)
    login(compliance_officer)
    text = client.get(f"/compliance/users/{rm.pk}/activity/").content.decode()
    assert re.findall(r'data-kind="(\w+)"', text) == ["security", "writes", "reads"]
    assert "核对身份" in text and customer.cif in text
    assert 'data-testid="freeze-form"' in text


def test_the_history_export_is_a_csv_and_is_itself_logged(
    client, login, compliance_officer, rm, customer
):
    read(rm, customer, action="reveal", reason="核对身份")
    login(compliance_officer)
    response = client.get(f"/compliance/customers/{customer.pk}/history.csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    reveal = next(r for r in rows if "核对身份" in r)
    assert reveal[1] == rm.username and customer.cif in reveal
    assert customer.mobile not in body and customer.national_id not in body
    export = AccessLog.objects.get(action="export", actor=compliance_officer)
    assert export.customer_id == customer.pk and export.detail["rows"] == len(rows) - 1


def test_sign_ins_in_the_audit_screen(client, login, compliance_officer, rm):
    record_security_event(SecurityEvent.Kind.LOGIN_FAILED, username="ghost")
    record_security_event(SecurityEvent.Kind.LOGIN, user=rm, actor=rm)
    login(compliance_officer)
    failed = client.get("/compliance/audit/", {"kind": "security", "action": "login_failed"})
    text = failed.content.decode()
    assert text.count('data-testid="audit-row"') == 1 and "ghost" in text
    mine = client.get("/compliance/audit/", {"kind": "security", "actor": "rm"}).content.decode()
    assert mine.count('data-testid="audit-row"') == 1


def test_pages_run_a_constant_number_of_queries(
    client, login, compliance_officer, rm, branch, customer, alert, django_assert_num_queries
):
    from tests import factories

    # The alert's window takes in the reads below.
    AccessAlert.objects.filter(pk=alert.pk).update(
        user=rm,
        window_start=timezone.now() - timedelta(hours=1),
        raised_at=timezone.now() + timedelta(hours=1),
    )
    login(compliance_officer)
    for n in (3, 30):
        while AccessLog.objects.filter(actor=rm).count() < n:
            other = factories.customer(branch=branch, rm=rm)
            read(rm, other)
            record_security_event(SecurityEvent.Kind.LOGIN, user=rm, actor=rm)
        # session, user, roles, TOTP device, customer, history-view log, its anomaly check,
        # three kinds of record, then one query per kind of object the entries name: the
        # customers, and the branch and RM of the customer's creation
        with django_assert_num_queries(13):
            client.get(f"/compliance/customers/{customer.pk}/history/")
        # session, user, roles, TOTP device, account, alerts, three kinds, users, customers
        with django_assert_num_queries(11):
            client.get(f"/compliance/users/{rm.pk}/activity/")
        # session, user, roles, TOTP device, alerts (with rule, user, branch, reviewer)
        with django_assert_num_queries(5):
            client.get("/compliance/alerts/")
        # ... the alert, the reads in its window, their customers
        with django_assert_num_queries(7):
            client.get(f"/compliance/alerts/{alert.pk}/")


def test_the_compliance_home_runs_a_constant_number_of_queries(
    client, login, compliance_officer, branch, django_assert_num_queries
):
    from bankcrm.roles import Role
    from tests import factories

    rule = AccessRule.objects.create(name="批量查看", threshold=1, window_minutes=10)
    login(compliance_officer)
    # From three alerts on, the ten latest changes are users' and alerts' (not the rule's).
    for n in (3, 12):
        while AccessAlert.objects.count() < n:
            user = factories.user(Role.RELATIONSHIP_MANAGER, branch=branch)
            AccessAlert.objects.create(
                rule=rule, user=user, window_start=timezone.now(), count=2, threshold=1,
                froze_account=True,
            )  # fmt: skip
            user.frozen_at = timezone.now()
            with audit_context(actor=compliance_officer, label="web"):
                user.save(update_fields=["frozen_at"])
        # session, user, roles, TOTP device, open alerts (count, rows), frozen accounts,
        # lockouts (rows, count), failed sign-ins, data changes, then one query per kind of
        # object they name: users and alerts with their rules (customers too, when a change
        # names one: these do not)
        with django_assert_num_queries(13):
            page = client.get("/")
        assert page.content.decode().count('data-testid="home-alert"') == min(n, 10)

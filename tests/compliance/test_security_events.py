"""Sign-ins and account security in the audit trail: logins, logouts (chosen or timed out),
failed logins, lockouts, MFA enrolment and checks, delegations that ran out, and changes to
roles and permissions, each with who, when, IP and request id."""

import time
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Group, Permission
from django.db import DatabaseError, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from bankcrm.models import SecurityEvent
from compliance import chain
from compliance.models import DataChange
from customers import services
from tests import factories
from tests.conftest import totp_now

pytestmark = pytest.mark.django_db
Kind = SecurityEvent.Kind


def post_login(client, username, password=factories.PASSWORD, ip="10.0.0.1", request_id=""):
    headers = {"X-Request-ID": request_id} if request_id else {}
    return client.post(
        "/accounts/login/",
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
        headers=headers,
    )


def kinds() -> list[str]:
    return list(SecurityEvent.objects.order_by("id").values_list("kind", flat=True))


def test_sign_in_and_sign_out_are_recorded_with_ip_and_request_id(client, rm):
    assert post_login(client, "rm", ip="10.8.0.7", request_id="req-login-0001").status_code == 302
    client.post("/accounts/logout/", REMOTE_ADDR="10.8.0.7")
    login, logout = SecurityEvent.objects.order_by("id")
    assert (login.kind, login.user, login.actor) == (Kind.LOGIN, rm, rm)
    assert (login.ip_address, login.request_id) == ("10.8.0.7", "req-login-0001")
    assert (logout.kind, logout.user, logout.detail) == (Kind.LOGOUT, rm, {"reason": "user"})
    factories.link_audit_rows()
    assert chain.verify_table("bankcrm_securityevent").ok
    # A sign-in no longer leaves a data change for last_login: the event says it.
    assert not DataChange.objects.filter(table_name="bankcrm_user", row_pk=str(rm.pk)).exclude(
        op="I"
    )


def test_failed_logins_lockout_and_refusals_during_it(client, rm, settings):
    post_login(client, "nobody-here", password="guess")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        post_login(client, "rm", password="wrong")
    assert post_login(client, "rm").status_code == 429  # the right password, refused
    unknown = SecurityEvent.objects.earliest("id")
    assert (unknown.kind, unknown.user, unknown.username) == (
        Kind.LOGIN_FAILED,
        None,
        "nobody-here",
    )
    events = list(SecurityEvent.objects.filter(username="rm").order_by("id"))
    failed = [e for e in events if e.kind == Kind.LOGIN_FAILED]
    (lockout,) = [e for e in events if e.kind == Kind.LOCKED_OUT]
    assert len(failed) == settings.AXES_FAILURE_LIMIT + 1
    assert lockout.user == rm and lockout.detail == {"failures": settings.AXES_FAILURE_LIMIT}
    assert failed[-1].detail == {"locked_out": True} and failed[0].detail == {}
    assert all(e.ip_address == "10.0.0.1" for e in events)
    assert "wrong" not in str([e.detail for e in events])


def test_mfa_enrolment_failed_and_passed_checks(client, compliance_officer):
    post_login(client, "compliance")
    client.get("/accounts/mfa/setup/")
    device = TOTPDevice.objects.get(user=compliance_officer)
    client.post("/accounts/mfa/setup/", {"token": totp_now(device)})
    client.post("/accounts/logout/")
    post_login(client, "compliance")
    client.post("/accounts/mfa/verify/", {"token": "000000"})
    device.refresh_from_db()
    with time_machine.travel(time.time() + 31):  # the next step's code, not the one used
        client.post("/accounts/mfa/verify/", {"token": totp_now(device)})
    assert kinds() == [
        Kind.LOGIN, Kind.MFA_ENROLLED, Kind.LOGOUT, Kind.LOGIN, Kind.MFA_FAILED, Kind.MFA_VERIFIED,
    ]  # fmt: skip
    failed = SecurityEvent.objects.get(kind=Kind.MFA_FAILED)
    assert failed.user == compliance_officer and "000000" not in str(failed.detail)


def test_a_timed_out_session_is_recorded_as_ended_by_the_system(client, rm, settings, login):
    login(rm)
    with time_machine.travel(time.time() + 2 * settings.SESSION_IDLE_SECONDS):
        assert client.get("/").status_code == 302
    logout = SecurityEvent.objects.get(kind=Kind.LOGOUT)
    assert logout.user == rm and logout.actor is None and logout.detail == {"reason": "timeout"}


def test_a_delegation_that_runs_out_is_recorded_once_per_expiry(rm, other_rm, customer):
    delegation = services.delegation_grant(
        actor=rm, customer=customer, user=other_rm, access="view_customer",
        expires_at=timezone.now() + timedelta(hours=1), reason="休假代班",
    )  # fmt: skip
    assert DataChange.objects.filter(
        table_name="customers_customerdelegation", op="I", customer_id=customer.pk
    ).exists()  # the grant: a data change naming the customer
    assert services.delegations_record_expired() == 0
    later = timezone.now() + timedelta(hours=2)
    assert services.delegations_record_expired(now=later) == 1
    assert services.delegations_record_expired(now=later) == 0  # a second run adds nothing
    event = SecurityEvent.objects.get(kind=Kind.DELEGATION_EXPIRED)
    assert (event.user, event.customer_id) == (other_rm, customer.pk)
    assert event.detail["delegation"] == delegation.pk and event.detail["access"] == "view_customer"
    # Extended and run out again: a second expiry, a second event.
    services.delegation_grant(
        actor=rm, customer=customer, user=other_rm, access="view_customer",
        expires_at=later + timedelta(hours=1), reason="延长",
    )  # fmt: skip
    assert services.delegations_record_expired(now=later + timedelta(hours=2)) == 1
    assert SecurityEvent.objects.filter(kind=Kind.DELEGATION_EXPIRED).count() == 2


def test_role_and_permission_changes_are_data_changes(admin_user, rm):
    permission = Permission.objects.get(codename="view_ticket")
    rm.user_permissions.add(permission)
    Group.objects.create(name="auditors")
    assert DataChange.objects.filter(
        table_name="bankcrm_user_user_permissions", op="I"
    ).get().changes["permission_id"] == [None, permission.pk]
    created = DataChange.objects.exclude(actor_label__startswith="migration:")
    assert created.get(table_name="auth_group", op="I").changes["name"] == [
        None,
        "auditors",
    ]


def test_security_events_cannot_be_changed_or_removed(client, rm):
    post_login(client, "rm")
    for attempt in (
        lambda: SecurityEvent.objects.update(ip_address="10.9.9.9"),
        lambda: SecurityEvent.objects.all().delete(),
    ):
        with (
            pytest.raises(DatabaseError, match="cannot be changed or removed"),
            transaction.atomic(),
        ):
            attempt()


def test_a_frozen_account_cannot_sign_in_and_its_session_ends(client, rm, login):
    from bankcrm.services import user_freeze

    login(rm)
    assert client.get("/").status_code == 200
    assert user_freeze(user=rm, actor=None, reason="测试冻结")
    assert SESSION_KEY not in client.session  # the session row is gone
    assert client.get("/")["Location"].startswith("/accounts/login/")
    response = post_login(client, "rm")
    assert response.status_code == 200
    assert "该账户已被冻结" in response.content.decode()
    wrong = post_login(client, "rm", password="not-the-password").content.decode()
    assert "该账户已被冻结" not in wrong  # only someone who knows the password learns why
    frozen = SecurityEvent.objects.get(kind=Kind.FROZEN)
    assert frozen.user == rm and frozen.detail["sessions_ended"] == 1

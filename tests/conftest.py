from datetime import date, time, timedelta

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from bankcrm.roles import Role
from service.models import (
    BusinessCalendar,
    CalendarException,
    CalendarHours,
    Queue,
    RoutingRule,
    SlaPolicy,
)
from tests import factories


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Audit tables refuse TRUNCATE (migration compliance 0001) unless a superuser sets
    bankcrm.audit_maintenance: the test database does, so tests can be emptied."""
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        name = connection.settings_dict["NAME"]
        cursor.execute(f"ALTER DATABASE \"{name}\" SET bankcrm.audit_maintenance = 'on'")
        cursor.execute("SET bankcrm.audit_maintenance = 'on'")  # this session too
    # Other pooled connections opened before ALTER DATABASE would not have it.
    connection.close_pool()


@pytest.fixture
def branch(db):
    return factories.branch("SH001", name="上海分行", region="华东")


@pytest.fixture
def other_branch(db):
    return factories.branch("BJ001", name="北京分行", region="华北")


@pytest.fixture
def rm(branch):
    return factories.user(Role.RELATIONSHIP_MANAGER, branch=branch, username="rm")


@pytest.fixture
def other_rm(branch):
    return factories.user(Role.RELATIONSHIP_MANAGER, branch=branch, username="rm2")


@pytest.fixture
def branch_manager(branch):
    return factories.user(Role.BRANCH_MANAGER, branch=branch, username="bm")


@pytest.fixture
def agent(branch):
    return factories.user(Role.SERVICE_AGENT, branch=branch, username="agent")


@pytest.fixture
def supervisor(branch):
    return factories.user(Role.SERVICE_SUPERVISOR, branch=branch, username="supervisor")


@pytest.fixture
def compliance_officer(branch):
    return factories.user(Role.COMPLIANCE_OFFICER, branch=branch, username="compliance")


@pytest.fixture
def product_manager(branch):
    return factories.user(Role.PRODUCT_MANAGER, branch=branch, username="products")


@pytest.fixture
def marketing_manager(branch):
    return factories.user(Role.MARKETING_MANAGER, branch=branch, username="marketer")


@pytest.fixture
def admin_user(branch):
    return factories.user(
        Role.ADMIN, branch=branch, username="admin", is_staff=True, is_superuser=True
    )


@pytest.fixture
def staff(
    rm, branch_manager, agent, supervisor, compliance_officer, product_manager,
    marketing_manager, admin_user,
):  # fmt: skip
    """One user of each role, all of one branch, by role (tests/matrix.py's World)."""
    return {
        Role.RELATIONSHIP_MANAGER: rm, Role.BRANCH_MANAGER: branch_manager,
        Role.SERVICE_AGENT: agent, Role.SERVICE_SUPERVISOR: supervisor,
        Role.COMPLIANCE_OFFICER: compliance_officer, Role.PRODUCT_MANAGER: product_manager,
        Role.MARKETING_MANAGER: marketing_manager,
        Role.ADMIN: admin_user,
    }  # fmt: skip


# ---- a service desk as a bank sets it up: an office-hours calendar with a lunch break and
# the National Day week, a 24×7 calendar, queues with agents, a supervisor and a head,
# policies and a routing rule (tests/service, tests/browser).


@pytest.fixture
def office_calendar(db):
    cal = BusinessCalendar.objects.create(name="工作日")
    for weekday in range(5):
        CalendarHours.objects.create(calendar=cal, weekday=weekday, opens=time(9), closes=time(12))
        CalendarHours.objects.create(calendar=cal, weekday=weekday, opens=time(13), closes=time(18))
    for day in range(1, 8):
        CalendarException.objects.create(calendar=cal, date=date(2026, 10, day), name="国庆节")
    CalendarException.objects.create(
        calendar=cal,
        date=date(2026, 10, 10),
        name="调休",
        working=True,
        opens=time(9),
        closes=time(18),
    )
    return cal


@pytest.fixture
def always_calendar(db):
    cal = BusinessCalendar.objects.create(name="7×24")
    for weekday in range(7):
        CalendarHours.objects.create(
            calendar=cal, weekday=weekday, opens=time(0), closes=time(23, 59, 59, 999999)
        )
    return cal


@pytest.fixture
def head(branch):
    from bankcrm.roles import Role

    return factories.user(Role.BRANCH_MANAGER, branch=branch, username="head")


@pytest.fixture
def desk(office_calendar, always_calendar, agent, supervisor, head):
    """Queues `general` (default) and `card-fraud` (24×7), the agent in both."""
    general = Queue.objects.create(
        code="general",
        name="综合服务组",
        calendar=office_calendar,
        supervisor=supervisor,
        head=head,
        is_default=True,
    )
    fraud = Queue.objects.create(
        code="card-fraud",
        name="银行卡盗刷组",
        calendar=always_calendar,
        supervisor=supervisor,
        head=head,
    )
    general.members.add(agent)
    fraud.members.add(agent)
    SlaPolicy.objects.create(
        priority="P1",
        first_response=timedelta(minutes=15),
        resolution=timedelta(hours=4),
        calendar=always_calendar,
    )
    SlaPolicy.objects.create(
        priority="P3", first_response=timedelta(hours=4), resolution=timedelta(hours=16)
    )
    SlaPolicy.objects.create(
        priority="P3",
        category="complaint",
        first_response=timedelta(hours=2),
        resolution=timedelta(hours=8),
    )
    RoutingRule.objects.create(
        name="盗刷",
        order=10,
        keywords="盗刷, fraud\n欺诈",
        set_priority="P1",
        set_category="card_fraud",
        set_queue=fraud,
        confirmation="【bankcrm】{name}您好，已受理，编号 {number}。",
    )
    return {"general": general, "fraud": fraud}


@pytest.fixture
def customer(branch, rm):
    c = factories.customer(branch=branch, rm=rm, name="李娜")
    c.set_email("li.na@example.cn")
    c.save()
    return c


def totp_now(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():06d}"


@pytest.fixture
def login(client):
    """Log a user in through the real login form (and the MFA step when the role needs it)."""

    def _login(user, *, mfa: bool = True):
        response = client.post(
            "/accounts/login/", {"username": user.username, "password": factories.PASSWORD}
        )
        assert response.status_code == 302, response.content[:500]
        if user.mfa_required and mfa:
            device, _ = TOTPDevice.objects.get_or_create(
                user=user, name="authenticator", defaults={"confirmed": True}
            )
            response = client.post("/accounts/mfa/verify/", {"token": totp_now(device)})
            assert response.status_code == 302, response.content[:500]
        return client

    return _login


@pytest.fixture
def risk_kinds(db):
    """The risk warning kinds compliance migration 0016 seeds (again: a transactional test
    empties every table), by code."""
    import importlib

    from compliance.models import RiskWarningKind

    seeded = importlib.import_module("compliance.migrations.0017_risk_warnings")
    kinds = {}
    for code, name_zh, name_en, severity, days, action_zh, action_en in seeded.KINDS:
        kinds[code], _ = RiskWarningKind.objects.get_or_create(code=code, defaults={
            "name_zh": name_zh, "name_en": name_en, "default_severity": severity,
            "validity_days": days, "action_zh": action_zh, "action_en": action_en,
        })  # fmt: skip
    return kinds

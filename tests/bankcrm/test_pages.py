"""Home pages per role, their scope and query counts, headers, error pages, language."""

import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Interaction
from tests import factories

pytestmark = pytest.mark.django_db


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def test_rm_home_shows_own_customers_and_tasks_only(client, login, rm, other_rm, branch):
    mine = factories.customer(branch=branch, rm=rm, name="王小明")
    factories.customer(branch=branch, rm=other_rm, name="李四海")
    due = factories.customer(
        branch=branch, rm=rm, name="赵敏", kyc_expires_on=timezone.localdate() + timedelta(days=5)
    )
    Interaction.objects.create(
        customer=mine,
        channel="phone",
        direction="outbound",
        subject="回访理财到期",
        actor=rm,
        follow_up_on=timezone.localdate() + timedelta(days=1),
    )
    login(rm)
    html = client.get("/").content.decode()
    assert "王小明" in html
    assert due.name in html
    assert "回访理财到期" in html
    assert "李四海" not in html
    # Masked mobile only.
    assert mine.mobile_masked in html
    assert mine.mobile.removeprefix("+86") not in html


def test_rm_home_query_count_is_constant(client, login, rm, branch):
    factories.customer(branch=branch, rm=rm)
    login(rm)
    few, _ = count_queries(client, "/")
    for _ in range(15):
        customer = factories.customer(
            branch=branch, rm=rm, kyc_expires_on=timezone.localdate() + timedelta(days=3)
        )
        Interaction.objects.create(
            customer=customer,
            channel="app",
            direction="inbound",
            subject="咨询",
            actor=rm,
            follow_up_on=timezone.localdate(),
        )
    many, _ = count_queries(client, "/")
    assert few == many


def test_branch_manager_home_covers_the_branch_only(
    client, login, branch_manager, rm, branch, other_branch
):
    factories.customer(branch=branch, rm=rm, name="本行客户")
    factories.customer(branch=other_branch, name="外行客户")
    login(branch_manager)
    html = client.get("/").content.decode()
    assert "本行客户" in html
    assert "外行客户" not in html


def test_agent_home_lists_my_queue_with_constant_queries(client, login, agent, branch):
    customer = factories.customer(branch=branch)
    factories.ticket(customer, assignee=agent, subject="账户冻结咨询")
    login(agent)
    few, response = count_queries(client, "/")
    assert "账户冻结咨询" in response.content.decode()
    for _ in range(12):
        factories.ticket(customer, assignee=agent)
        factories.ticket(customer)
    many, _ = count_queries(client, "/")
    assert few == many


def test_agent_does_not_see_other_agents_tickets(client, login, agent, branch):
    other = factories.user("service_agent", branch=branch)
    customer = factories.customer(branch=branch)
    factories.ticket(customer, assignee=other, subject="别人的工单")
    login(agent)
    assert "别人的工单" not in client.get("/").content.decode()


def test_compliance_home_shows_lockouts_and_changes(client, login, compliance_officer, rm):
    for _ in range(5):
        client.post("/accounts/login/", {"username": "rm", "password": "nope"})
    login(compliance_officer)
    _, response = count_queries(client, "/")
    html = response.content.decode()
    assert "rm" in html
    assert 'data-testid="stat-lockouts">1<' in html


def test_admin_home_links_to_django_admin(client, login, admin_user):
    login(admin_user)
    assert 'href="/admin/"' in client.get("/").content.decode()


def test_verified_admin_can_search_and_filter_users_branches_roles(
    client, login, admin_user, rm, branch
):
    login(admin_user)
    response = client.get("/admin/bankcrm/user/", {"q": "rm", "groups__id__exact": "1"})
    assert response.status_code == 200
    assert client.get("/admin/bankcrm/branch/", {"q": "SH001"}).status_code == 200
    assert client.get("/admin/auth/group/").status_code == 200
    html = client.get("/admin/bankcrm/user/", {"q": "rm"}).content.decode()
    assert "relationship_manager" in html


def test_django_admin_speaks_the_banks_language(client, login, admin_user, rm):
    """Issue 16, item 13: third-party apps and roles showed as 'Axes', 'Otp_Totp' and
    'relationship_manager'."""
    login(admin_user)
    index = client.get("/admin/").content.decode()
    for english in ("Axes", "Otp_Totp", "Audit log", "TOTP devices", "access attempts"):
        assert english not in index, english
    assert "登录锁定" in index and "双因素认证" in index and "配置变更日志" in index
    groups = client.get("/admin/auth/group/").content.decode()
    assert "客户经理" in groups
    users = client.get("/admin/bankcrm/user/", {"role": "relationship_manager"}).content.decode()
    assert "客户经理" in users and ">rm<" in users


def test_security_headers_on_customer_pages(client, login, rm):
    login(rm)
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert len(response["X-Request-ID"]) >= 8


def test_no_inline_scripts_in_pages(client, login, rm):
    login(rm)
    html = client.get("/").content.decode()
    for chunk in html.split("<script")[1:]:
        assert chunk.split(">", 1)[0].strip().startswith("src="), chunk[:80]


def test_friendly_404(client, login, rm):
    login(rm)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert 'data-testid="error-page"' in response.content.decode()


def test_csrf_failure_page_is_friendly(rm):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    response = csrf_client.post("/accounts/login/", {"username": "rm", "password": "x"})
    assert response.status_code == 403
    assert 'data-testid="error-page"' in response.content.decode()


def test_language_switch_to_english_and_back(client, login, rm):
    login(rm)
    assert "我的客户" in client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert "My customers and tasks" in client.get("/").content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "我的客户" in client.get("/").content.decode()


def test_health_reports_database_and_redis(client):
    response = client.get("/health/")
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "ok"
    assert body["checks"]["beat"] in {"down", "stale", "ok"}
    assert response.status_code == 200


def test_health_beat_and_scheduled_tasks_follow_their_heartbeats(client):
    from bankcrm.beat import HeartbeatScheduler
    from bankcrm.tasks import record_heartbeat

    HeartbeatScheduler._beat()
    record_heartbeat()
    checks = client.get("/health/").json()["checks"]
    assert checks["beat"] == "ok"
    assert checks["scheduled_tasks"] == "ok"
    with time_machine.travel(time.time() + 300):
        assert client.get("/health/").json()["checks"]["beat"] == "stale"


def test_server_error_page_renders_without_context():
    from django.test import RequestFactory

    from bankcrm.views import server_error

    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_with_the_database_unreachable_pages_answer_503_within_seconds():
    """PostgreSQL down (a closed port): a page that needs it answers a 503 page saying so
    within the pool's wait (3 s), and /health/ its 503 within the probe's (1.5 s). It was a
    500 after 10 s, and requests queued behind one another hung for a minute or more."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.create_server(("127.0.0.1", 0)) as spare:
        closed = spare.getsockname()[1]  # nothing listens once it is closed
    script = """if True:
        import time
        import django
        django.setup()
        from django.test import Client
        browser = Client(raise_request_exception=False, HTTP_HOST="localhost")
        browser.cookies["sessionid"] = "x" * 32  # loading the session needs the database
        probe = Client(raise_request_exception=False, HTTP_HOST="localhost")
        for client, path in ((browser, "/"), (probe, "/health/")):
            started = time.monotonic()
            response = client.get(path)
            print(path, response.status_code, f"{time.monotonic() - started:.1f}",
                  response.get("Retry-After"), b"unavailable-page" in response.content)
    """
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}},
        "DJANGO_SETTINGS_MODULE": "bankcrm.settings_test",
        "DATABASE_URL": f"postgres://bankcrm@127.0.0.1:{closed}/bankcrm",
        "REDIS_URL": f"redis://127.0.0.1:{closed}/0",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2], env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    page, health = (line.split() for line in result.stdout.splitlines())
    assert page[:2] == ["/", "503"] and page[3:] == ["10", "True"], result.stdout
    # Bounds well under the old 10 s and 11 s, with room for a busy CI machine (5.5 s seen
    # with the suite's neighbours on two cores); bench/db_outage.py measures the real times.
    assert float(page[2]) < 8
    assert health[:2] == ["/health/", "503"], result.stdout
    assert float(health[2]) < 5


def test_health_live_needs_nothing_not_even_an_allowed_host(client):
    response = client.get("/health/live/", HTTP_HOST="10.1.2.3:8000")
    assert response.json() == {"status": "ok"}


def test_roles_migration_creates_every_role():
    from importlib import import_module

    from django.apps import apps as django_apps
    from django.contrib.auth.models import Group

    Group.objects.all().delete()
    import_module("bankcrm.migrations.0002_roles").create_roles(django_apps, None)
    assert set(Group.objects.values_list("name", flat=True)) == {
        "relationship_manager",
        "branch_manager",
        "service_agent",
        "service_supervisor",
        "compliance_officer",
        "admin",
    }


def test_chinese_is_the_default_even_for_an_english_browser(client, login, rm):
    login(rm)
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response["Content-Language"] == "zh-hans"


def test_chinese_names_show_family_name_first(rm):
    rm.last_name, rm.first_name = "王", "思远"
    assert rm.display_name == "王思远"
    rm.last_name, rm.first_name = "Smith", "Anna"
    assert rm.display_name == "Anna Smith"


def test_admin_customer_pages_show_masked_identifiers_only(client, login, admin_user, branch):
    customer = factories.customer(branch=branch, national_id="11010519491231002X")
    login(admin_user)
    listing = client.get("/admin/customers/customer/", {"q": customer.cif}).content.decode()
    change = client.get(f"/admin/customers/customer/{customer.pk}/change/").content.decode()
    for html in (listing, change):
        assert customer.national_id_masked in html
        assert "11010519491231002X" not in html
        assert customer.mobile.removeprefix("+86") not in html

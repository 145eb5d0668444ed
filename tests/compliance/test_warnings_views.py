"""Where staff see risk warnings and who clears them: the 360 header's badges with the
action text, the customer list's "with risk warnings" (in the user's scope, at a constant
query count), the RM's and branch manager's home, compliance's list with the history, and
clearing with a reason (who may: tests/compliance/test_permission_matrix.py)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bankcrm.models import AccessLog
from compliance import warnings
from compliance.models import DataChange, RiskWarning
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("risk_kinds")]

KINDS = ["court_enforcement", "litigation", "negative_news", "regulator_blacklist",
         "credit_bureau_overdue"]  # fmt: skip


def warn(customer, kind="court_enforcement", severity=None, n=[0]):  # noqa: B006 (a counter)
    n[0] += 1
    warnings.warning_signal_apply(signal=warnings.Signal(
        source="core", signal_id=f"V-{n[0]}", customer_id=customer.pk, kind=kind,
        severity=severity, occurred_at=timezone.now(),
    ))  # fmt: skip
    return RiskWarning.objects.get(customer=customer, kind__code=kind, status="open")


def queries(client, url) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured), response.content.decode()


# ---- the 360 header -----------------------------------------------------------------------


def test_the_360_header_shows_each_warning_with_what_to_do(client, login, rm, customer):
    warn(customer, "court_enforcement")
    warn(customer, "negative_news", severity=1)
    login(rm)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'data-testid="risk-warning-court_enforcement"' in page
    assert "被执行人 · 严重" in page and "负面舆情 · 提示" in page
    assert "停止营销；新增业务须经合规审批" in page  # the kind's action text
    assert page.index("被执行人 · 严重") < page.index("负面舆情 · 提示")  # most severe first
    assert "text-bg-danger" in page


def test_the_header_follows_the_users_language(client, login, rm, customer):
    warn(customer, "court_enforcement")
    login(rm)
    client.post("/i18n/setlang/", {"language": "en"})
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert "Subject of court enforcement · Severe" in page
    assert "stop marketing; new business only with compliance approval" in page


def test_the_service_desk_does_not_see_warnings(client, login, agent, customer):
    warn(customer)
    factories.ticket(customer, assignee=agent)
    login(agent)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert "risk-warning-" not in page and "被执行人" not in page


def test_the_360_page_costs_one_query_for_any_number_of_warnings(client, login, rm, customer):
    login(rm)
    warn(customer, KINDS[0])
    one, _ = queries(client, f"/customers/{customer.pk}/")
    for kind in KINDS[1:]:
        warn(customer, kind)
    many, page = queries(client, f"/customers/{customer.pk}/")
    assert page.count('data-testid="badge-note"') == len(KINDS)
    assert many == one


# ---- the customer list ---------------------------------------------------------------------


def test_with_warnings_lists_only_the_users_customers_with_warnings(
    client, login, rm, other_rm, branch, customer
):
    quiet = factories.customer(branch=branch, rm=rm, name="平安无事")
    colleagues = factories.customer(branch=branch, rm=other_rm, name="同事的客户")
    warn(customer)
    warn(colleagues)
    ended = factories.customer(branch=branch, rm=rm, name="已解除")
    warnings.warning_clear(warning=warn(ended), actor=other_rm, reason="核实有误")
    login(rm)
    page = client.get("/customers/", {"with_warnings": "on"}).content.decode()
    assert customer.name in page
    assert quiet.name not in page and colleagues.name not in page and ended.name not in page
    # Without the filter, the RM's own book as before.
    page = client.get("/customers/").content.decode()
    assert quiet.name in page and ended.name in page and colleagues.name not in page
    # The export takes the same filter.
    response = client.get("/customers/export/", {"with_warnings": "on"})
    exported = b"".join(response.streaming_content).decode()
    assert customer.cif in exported and quiet.cif not in exported


def test_the_filtered_list_costs_the_same_however_many_match(client, login, rm, branch):
    login(rm)
    for _ in range(3):
        warn(factories.customer(branch=branch, rm=rm))
    plain, _ = queries(client, "/customers/")
    few, _ = queries(client, "/customers/?with_warnings=on")
    for _ in range(9):
        warn(factories.customer(branch=branch, rm=rm), "litigation")
    many, page = queries(client, "/customers/?with_warnings=on")
    assert page.count("<tr>") - 1 == 12
    assert plain == few == many


# ---- home pages ----------------------------------------------------------------------------


def test_the_rm_home_lists_warnings_on_their_customers(client, login, rm, other_rm, branch):
    mine = factories.customer(branch=branch, rm=rm, name="我的客户")
    theirs = factories.customer(branch=branch, rm=other_rm, name="同事客户")
    warn(mine, "litigation")
    warn(theirs, "court_enforcement")
    login(rm)
    page = client.get("/").content.decode()
    assert 'data-testid="home-warnings"' in page
    assert "我的客户" in page and "涉诉" in page and "同事客户" not in page
    assert 'data-testid="warning-count">1<' in page


def test_the_branch_managers_home_lists_the_branch(client, login, branch_manager, rm, other_rm,
                                                    branch, other_branch):  # fmt: skip
    warn(factories.customer(branch=branch, rm=rm, name="甲客户"))
    warn(factories.customer(branch=branch, rm=other_rm, name="乙客户"))
    warn(factories.customer(branch=other_branch, name="外行客户"))
    login(branch_manager)
    page = client.get("/").content.decode()
    assert "甲客户" in page and "乙客户" in page and "外行客户" not in page


def test_home_costs_the_same_however_many_warnings(client, login, rm, branch):
    login(rm)
    warn(factories.customer(branch=branch, rm=rm))
    few, _ = queries(client, "/")
    for kind in KINDS:
        for _ in range(3):
            warn(factories.customer(branch=branch, rm=rm), kind)
    many, _ = queries(client, "/")
    assert few == many


# ---- one warning, and clearing it ----------------------------------------------------------


def test_the_branch_manager_clears_with_a_reason(client, login, branch_manager, customer, rm):
    warning = warn(customer)
    login(branch_manager)
    page = client.get(f"/compliance/warnings/{warning.pk}/").content.decode()
    assert 'data-testid="clear-form"' in page
    # Reading it is a read of the customer's data.
    read = AccessLog.objects.get(actor=branch_manager, object_type="compliance.riskwarning")
    assert read.customer_id == customer.pk
    # No reason: refused, nothing changes.
    response = client.post(f"/compliance/warnings/{warning.pk}/", {"reason": ""})
    assert response.status_code == 400
    warning.refresh_from_db()
    assert warning.status == "open"
    response = client.post(f"/compliance/warnings/{warning.pk}/", {"reason": "法院已终结执行"})
    assert response.status_code == 302
    warning.refresh_from_db()
    assert (warning.status, warning.cleared_by, warning.cleared_reason) == (
        "cleared", branch_manager, "法院已终结执行",
    )  # fmt: skip
    change = DataChange.objects.get(table_name="compliance_riskwarning", op="U")
    assert change.actor_id == branch_manager.pk and change.ip_address == "127.0.0.1"
    # Cleared: no longer on the header, nor blocking marketing.
    login(rm)
    assert "risk-warning-" not in client.get(f"/customers/{customer.pk}/").content.decode()
    assert not warnings.has_severe_warning(customer.pk)
    # The form is gone, and a second clearing says it had ended.
    login(branch_manager)
    assert (
        'data-testid="clear-form"'
        not in client.get(f"/compliance/warnings/{warning.pk}/").content.decode()
    )


def test_an_rm_reads_but_does_not_clear(client, login, rm, customer):
    warning = warn(customer)
    login(rm)
    page = client.get(f"/compliance/warnings/{warning.pk}/").content.decode()
    assert "停止营销" in page and 'data-testid="clear-form"' not in page
    response = client.post(f"/compliance/warnings/{warning.pk}/", {"reason": "客户说已还清"})
    assert response.status_code == 403


# ---- compliance's list ---------------------------------------------------------------------


def test_compliance_sees_every_warning_and_its_history(
    client, login, compliance_officer, branch, other_branch, rm
):
    here = factories.customer(branch=branch, rm=rm, name="本行客户")
    there = factories.customer(branch=other_branch, name="外行客户")
    warnings.warning_clear(warning=warn(here), actor=compliance_officer, reason="核实后解除")
    warn(there, "regulator_blacklist")
    login(compliance_officer)
    page = client.get("/compliance/warnings/").content.decode()
    assert "本行客户" in page and "外行客户" in page and "核实后解除" in page
    page = client.get("/compliance/warnings/", {"status": "open"}).content.decode()
    assert "外行客户" in page and "本行客户" not in page
    page = client.get("/compliance/warnings/", {"cif": here.cif}).content.decode()
    assert "本行客户" in page and "外行客户" not in page


def test_compliance_list_costs_the_same_however_many(client, login, compliance_officer, branch):
    login(compliance_officer)
    for _ in range(2):
        warn(factories.customer(branch=branch))
    few, _ = queries(client, "/compliance/warnings/")
    for kind in KINDS:
        for _ in range(3):
            customer = factories.customer(branch=branch)
            warnings.warning_clear(warning=warn(customer, kind), actor=compliance_officer,
                                   reason="核实后解除")  # fmt: skip
    many, _ = queries(client, "/compliance/warnings/")
    assert few == many


def test_a_warning_page_costs_the_same_however_many_signals(client, login, compliance_officer,
                                                            customer):  # fmt: skip
    warning = warn(customer)
    login(compliance_officer)
    few, _ = queries(client, f"/compliance/warnings/{warning.pk}/")
    for i in range(10):
        warnings.warning_signal_apply(signal=warnings.Signal(
            source=f"src{i}", signal_id="X", customer_id=customer.pk, kind="court_enforcement",
            occurred_at=timezone.now() - timedelta(minutes=i),
        ))  # fmt: skip
    many, page = queries(client, f"/compliance/warnings/{warning.pk}/")
    assert page.count("list-group-item small") == 11
    assert few == many


def test_the_navigation_links_compliance_to_the_list(client, login, compliance_officer, rm):
    login(compliance_officer)
    assert 'href="/compliance/warnings/"' in client.get("/").content.decode()
    login(rm)
    assert 'href="/compliance/warnings/"' not in client.get("/").content.decode()

"""Real browser: a compliance officer signs in with TOTP, finds who revealed a customer's ID
yesterday, opens the customer's access history and exports it as CSV (itself logged)."""

import csv
import io
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from bankcrm.models import AccessLog
from tests import factories
from tests.browser.test_login_flows import next_unused_code, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def at(day, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def test_compliance_finds_who_revealed_an_id_yesterday_and_exports_the_history(
    page, screenshot, compliance_officer, rm, other_rm, branch
):
    customer = factories.customer(
        branch=branch, rm=rm, name="王小明", national_id="11010519491231002X", tier="private"
    )
    neighbour = factories.customer(branch=branch, rm=rm, name="李华")
    today = timezone.localdate()
    yesterday, last_week = today - timedelta(days=1), today - timedelta(days=6)

    def log(actor, who, action, when, reason=""):
        AccessLog.objects.create(
            actor=actor, action=action, object_type="customers.customer",
            object_id=str(who.pk), customer_id=who.pk, reason=reason, at=when,
            detail={"field": "national_id"} if action == "reveal" else {},
            ip_address="10.31.8.21" if actor == rm else "10.31.9.40",
        )  # fmt: skip

    log(rm, customer, "view", at(yesterday, 10, 2))
    log(rm, customer, "reveal", at(yesterday, 10, 5), "客户临柜办理挂失，核对身份")
    log(other_rm, customer, "view", at(yesterday, 15, 30))
    log(other_rm, customer, "reveal", at(last_week, 9), "代班核对")  # not yesterday
    log(rm, neighbour, "reveal", at(yesterday, 11), "另一位客户")  # not this customer
    TOTPDevice.objects.create(user=compliance_officer, name="authenticator", confirmed=True)

    sign_in(page, "compliance")
    page.wait_for_selector("input[name=token]")
    page.fill("input[name=token]", next_unused_code(compliance_officer))
    page.click("main form button[type=submit]")
    page.wait_for_selector("[data-testid=home-title]")

    page.click("nav >> text=审计记录")
    filters = page.locator("[data-testid=audit-filter]")
    filters.locator("input[name=customer]").fill(customer.cif)
    filters.locator("select[name=action]").select_option("reveal")
    filters.locator("input[name=since]").fill(yesterday.isoformat())
    filters.locator("input[name=until]").fill(yesterday.isoformat())
    filters.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=audit-row]")
    rows = page.locator("[data-testid=audit-row]")
    assert rows.count() == 1
    found = rows.first.inner_text()
    assert rm.username in found and "客户临柜办理挂失，核对身份" in found and "10.31.8.21" in found
    # Labelled and in Beijing time, as the officer reads it: not `field: national_id`.
    assert f"{yesterday.isoformat()} 10:05:00" in found and "查看的信息 证件号码" in found
    assert "national_id" not in found and "field" not in found
    assert "11010519491231002X" not in page.content()
    screenshot(page, "compliance-who-revealed-yesterday")

    # The customer's whole access history, and its export.
    rows.first.locator("[data-testid=audit-customer]").click()
    page.wait_for_selector("[data-testid=history-cif]")
    history = page.locator("[data-testid=audit-row]")
    # Four reads, the history's own opening and the customer's creation (a data change).
    assert history.count() == 6
    created = page.locator("[data-testid=audit-row][data-kind=writes]")
    created.locator("summary").click()
    values = created.inner_text()
    # The creation's values by their labels, the RM by name, the tier by its label.
    assert "客户号" in values and customer.cif in values and "价值等级 私人银行" in values
    assert f"客户经理 {rm.display_name}" in values and "primary_rm" not in values
    screenshot(page, "compliance-customer-history")
    with page.expect_download() as download_info:
        page.click("[data-testid=history-export]")
    body = download_info.value.path().read_text("utf-8-sig")
    exported = list(csv.reader(io.StringIO(body)))
    reveals = [r for r in exported if "客户临柜办理挂失，核对身份" in r or "代班核对" in r]
    assert {r[1] for r in reveals} == {rm.username, other_rm.username}
    assert "11010519491231002X" not in body and "李华" not in body
    export = AccessLog.objects.get(actor=compliance_officer, action="export")
    assert export.customer_id == customer.pk and export.detail["rows"] == len(exported) - 1

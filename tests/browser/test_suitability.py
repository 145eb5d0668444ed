"""Real browser: an RM tries to sell an R4 fund to a C2 customer, sees the block in Chinese
and nothing is saved; records an R2 wealth product with its evidence; a compliance officer
finds both on the suitability screen."""

from decimal import Decimal

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from compliance.models import Sale, SuitabilityCheck
from tests import factories
from tests.browser.test_login_flows import next_unused_code, sign_in
from tests.compliance.suitability_world import assess

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rm_is_blocked_then_records_a_sale_and_compliance_finds_both(
    page, browser, live_server, screenshot, rm, compliance_officer, branch
):
    customer = factories.customer(branch=branch, rm=rm, name="张桂兰")
    assess(customer, 2)
    fund = factories.product(code="FUND-R4", name_zh="成长混合基金", kind="fund", risk_level=4)
    wealth = factories.product(code="WM-R2", name_zh="稳健理财", kind="wealth", risk_level=2,
                               min_amount=Decimal("10000"))  # fmt: skip

    sign_in(page, "rm")
    page.wait_for_selector("[data-testid=home-title]")
    page.goto(f"/customers/{customer.pk}/")
    panel = page.locator("[data-testid=offerable-products]")
    assert "稳健理财" in panel.locator("[data-testid=offerable]").inner_text()
    panel.locator("[data-testid=record-sale]").click()

    form = page.locator("[data-testid=sale-form]")
    form.locator("select[name=product]").select_option(str(fund.pk))
    form.locator("input[name=amount]").fill("50000")
    form.locator("[data-testid=sale-check]").click()
    blocked = page.locator("[data-testid=verdict-blocked]")
    blocked.wait_for()
    assert "不允许销售" in blocked.inner_text()
    assert "产品风险等级 R4 中高风险 高于客户的风险承受能力 C2 谨慎型" in blocked.inner_text()
    screenshot(page, "suitability-blocked-zh-hans")
    assert Sale.objects.count() == 0
    assert list(SuitabilityCheck.objects.values_list("code", flat=True)) == [
        "risk_exceeds_tolerance"
    ]

    form.locator("select[name=product]").select_option(str(wealth.pk))
    form.locator("[data-testid=sale-check]").click()
    allowed = page.locator("[data-testid=verdict-allowed]")
    allowed.wait_for()
    assert "本产品不是存款" in page.inner_text("[data-testid=warning-text]")
    form.locator("select[name=confirmation_method]").select_option("signature")
    form.locator("input[name=confirmation_ref]").fill("QR-2026-0088")
    form.locator("[data-testid=sale-record]").click()
    page.wait_for_selector("[data-testid=customer-header]")
    sale = Sale.objects.get()
    assert sale.reference in page.content()
    assert (sale.product, sale.amount, sale.confirmation_ref) == (
        wealth,
        Decimal("50000.00"),
        "QR-2026-0088",
    )

    TOTPDevice.objects.create(user=compliance_officer, name="authenticator", confirmed=True)
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    officer = context.new_page()
    sign_in(officer, "compliance")
    officer.wait_for_selector("input[name=token]")
    officer.fill("input[name=token]", next_unused_code(compliance_officer))
    officer.click("main form button[type=submit]")
    officer.wait_for_selector("[data-testid=home-title]")
    officer.click("nav >> text=适当性")
    rows = officer.locator("[data-testid=suitability-row]")
    rows.first.wait_for()
    assert rows.count() == 2
    text = officer.inner_text("[data-testid=suitability-rows]")
    assert sale.reference in text and "QR-2026-0088" in text
    assert "risk_exceeds_tolerance" in text and "张桂兰" in text
    screenshot(officer, "suitability-compliance-screen")
    context.close()

"""Real browser, a campaign from segment to sending: a marketing manager builds a segment
and watches its count follow the conditions (htmx), creates a campaign with an A/B split
for a catalogue fund, a compliance officer approves it (both sign in with TOTP), the manager
launches it and watches the progress bar fill as the sender works."""

import json

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.services import product_document_add
from marketing import sending
from marketing.models import Campaign, Delivery
from tests import factories
from tests.browser.test_login_flows import sign_in_with_totp
from tests.compliance.suitability_world import assess
from tests.marketing.conftest import consent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
expect.set_options(timeout=15_000)


def test_marketing_manager_builds_a_segment_and_launches_an_approved_ab_campaign(
    page, browser, live_server, screenshot, settings, tmp_path, branch, rm,
    marketing_manager, compliance_officer,
):  # fmt: skip
    settings.MARKETING_PROVIDERS = dict.fromkeys(["sms", "email", "app", "call"], "file")
    settings.MARKETING_FILE_DIR = str(tmp_path / "out")
    for n in range(10):
        customer = factories.customer(
            branch=branch, rm=rm, cif=f"MK{n:03d}", tier="affluent" if n < 6 else "mass"
        )
        customer.set_email(f"mk{n}@example.cn")
        customer.save()
        consent(customer)
        assess(customer, 2 if n in (0, 1) else 4)  # two C2 customers: an R4 fund suits neither
    fund = factories.product(code="FD-CSI300", name_zh="沪深300指数基金", kind="fund",
                             risk_level=4)  # fmt: skip
    product_document_add(actor=None, product=fund, kind="risk_disclosure",
                         file_name="沪深300风险揭示书.txt", content="基金有风险".encode(),
                         content_type="text/plain")  # fmt: skip

    # The segment: every customer of the bank, then the affluent ones. A marketing manager
    # reaches every customer's data as audiences: signing in takes the TOTP step.
    sign_in_with_totp(page, marketing_manager)
    page.goto("/marketing/segments/new/")
    page.fill("input[name=name]", "高净值客户")
    page.select_option("select[name=kind]", "dynamic")
    page.click("main form button[type=submit]")
    count = page.locator("[data-testid=segment-count]")
    expect(count).to_have_text("10")
    page.select_option("#condition-form select[name=field]", "tier")
    form = page.locator("[data-testid=condition-form]")
    form.locator("select[name=values]").select_option(["affluent"])
    form.locator("[data-testid=add-condition]").click()
    expect(count).to_have_text("6")
    assert page.inner_text("[data-testid=explanation]") == "价值等级为富裕客户"
    screenshot(page, "marketing-segment-builder")

    # The campaign: SMS and e-mail, each with its own texts, an A/B split, for the fund.
    page.click("main a[href^='/marketing/campaigns/new/?segment=']")
    page.wait_for_selector("[data-testid=campaign-form]")
    page.fill("input[name=name]", "沪深300定投推广")
    page.select_option("select[name=product]", str(fund.pk))
    sms, email = page.locator("[data-testid=texts-sms]"), page.locator("[data-testid=texts-email]")
    expect(sms).to_be_hidden()  # a channel's texts show once it is chosen
    page.check("input[name=channels][value=sms]")
    page.check("input[name=channels][value=email]")
    expect(sms).to_be_visible()
    expect(page.locator("[data-testid=texts-app]")).to_be_hidden()
    b_text = sms.locator("textarea[name=text_sms_b_zh]")
    expect(b_text).to_be_hidden()  # variant B's texts show with the A/B test
    page.check("input[name=ab_test]")
    expect(b_text).to_be_visible()
    page.fill("input[name=share_a]", "50")
    sms.locator("textarea[name=text_sms_a_zh]").fill("{name}您好，{product}支持每月定投。")
    b_text.fill("{name}您好，长期投资选{product}。")
    email.locator("input[name=subject_email_zh]").fill("沪深300定投")
    email.locator("textarea[name=text_email_a_zh]").fill(
        "尊敬的{name}：{product}定投计划详见附件。"
    )
    email.locator("textarea[name=text_email_b_zh]").fill("尊敬的{name}：坚持定投，{product}。")
    # The live preview, per channel, personalised, before anything is saved.
    expect(page.locator("[data-testid=preview-sms]")).to_contain_text(
        "张女士您好，沪深300指数基金支持每月定投。"
    )
    expect(page.locator("[data-testid=preview-email]")).to_contain_text(
        "尊敬的张女士：沪深300指数基金定投计划详见附件。"
    )
    assert "定投计划详见附件" not in page.inner_text("[data-testid=preview-sms]")
    screenshot(page, "marketing-campaign-form")
    page.click("[data-testid=campaign-form] button[type=submit]")
    page.wait_for_selector("[data-testid=campaign-status]")
    campaign = Campaign.objects.get(name="沪深300定投推广")
    assert campaign.product == fund and campaign.variants.count() == 2
    assert "沪深300风险揭示书.txt" in page.inner_text("[data-testid=disclosure]")
    assert "沪深300指数基金支持每月定投" in page.inner_text("[data-testid=preview-sms]")
    assert "定投计划详见附件" in page.inner_text("[data-testid=preview-email]")
    page.click("[data-testid=submit]")
    expect(page.locator("[data-testid=campaign-status]")).to_have_text("待审批")

    # A second person approves: the compliance officer, with their authenticator.
    context = browser.new_context(base_url=live_server.url, locale="zh-CN")
    officer = context.new_page()
    sign_in_with_totp(officer, compliance_officer)
    officer.goto(f"/marketing/campaigns/{campaign.pk}/")
    officer.click("[data-testid=approve]")
    expect(officer.locator("[data-testid=approved-by]")).to_have_text(
        compliance_officer.display_name
    )
    context.close()

    # Launched: the audience is resolved and the progress bar follows the sender.
    page.reload()
    page.click("[data-testid=launch]")
    bar = page.locator("[data-testid=progress-bar]")
    bar.wait_for()
    rows = Delivery.objects.filter(campaign=campaign)
    assert rows.count() == 12  # the affluent ones, by SMS and by e-mail
    assert rows.filter(left_out_reason="unsuitable").count() == 4  # the C2 customers
    assert sending.dispatch_all()["sent"] == rows.filter(status="sent").count() > 0
    expect(page.locator("[data-testid=sent-count]")).to_have_text(
        str(rows.filter(status="sent").count())
    )
    expect(bar).to_have_attribute("value", "100")
    assert "产品不适当: 4" in page.inner_text("[data-testid=left-out]")
    # Each channel carried its own texts (A or B), never the other channel's.
    texts = {"sms": ("支持每月定投", "长期投资选"), "email": ("定投计划详见附件", "坚持定投，")}
    files = list((tmp_path / "out").glob("*.json"))
    assert len(files) == rows.filter(status="sent").count() == 8
    for message in (json.loads(path.read_text()) for path in files):
        own, other = texts[message["channel"]], texts[{"sms": "email", "email": "sms"}[
            message["channel"]]]  # fmt: skip
        assert any(t in message["text"] for t in own), message
        assert not any(t in message["text"] for t in other), message
    campaign.refresh_from_db()
    assert campaign.launched_at <= timezone.now() and campaign.risk_disclosure_document
    screenshot(page, "marketing-campaign-progress")

    # Sent: the results as a chart (drawn by Chart.js from the page's numbers), and a table.
    page.reload()
    chart = "Chart.getChart(document.querySelector('canvas[data-chart=outcomes]'))"
    page.wait_for_function(f"() => window.Chart && {chart}")
    drawn = page.evaluate(f"() => {chart}.data.datasets[0].data")
    sent = rows.filter(status="sent").count()
    assert drawn[0] == sent and sum(drawn) >= rows.count()
    page.click("[data-testid=results] summary")
    sent_row = page.locator("[data-testid=results-table] tr[data-outcome=sent] td")
    expect(sent_row.nth(1)).to_have_text(str(sent))
    screenshot(page, "marketing-campaign-results")

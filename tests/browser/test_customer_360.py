"""Real browser: an RM finds a customer, works the 360 page, reveals an ID with a reason;
another RM gets "not found"; a branch manager imports a file after checking its preview."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bankcrm.celery import app as celery_app
from bankcrm.models import AccessLog
from customers.models import Customer, Interaction, Transaction
from tests import factories
from tests.browser.test_login_flows import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rm_searches_opens_360_logs_interaction_and_reveals(
    page, browser, live_server, screenshot, rm, other_rm, branch
):
    customer = factories.customer(
        branch=branch, rm=rm, name="王小明", name_latin="WANG Xiaoming",
        national_id="11010519491231002X", tier="affluent", tags=["代发工资"],
    )  # fmt: skip
    account = factories.account(customer, balance=Decimal("52000.00"))
    for day in range(15):
        Transaction.objects.create(
            account=account, customer=customer, amount=Decimal("880.00"), currency="CNY",
            direction="debit" if day % 3 else "credit", channel="mobile", kind="转账",
            booked_at=timezone.now() - timedelta(days=day * 20), external_id=f"b{day}",
        )  # fmt: skip

    sign_in(page, "rm")
    page.wait_for_selector("[data-testid=home-title]")
    page.fill("[data-testid=global-search]", "wang xiao")
    page.press("[data-testid=global-search]", "Enter")
    page.wait_for_selector("[data-testid=search-results]")
    page.click("[data-testid=search-results] a:has-text('王小明')")
    page.wait_for_selector("[data-testid=customer-header]")
    assert page.inner_text("[data-testid=masked-id]") == "110***********002X"
    assert "52,000.00" in page.inner_text("[data-testid=holdings]")
    page.wait_for_function("document.querySelector('canvas') !== null")
    screenshot(page, "customer-360-zh-hans")

    form = page.locator("[data-testid=interaction-form]")
    form.locator("select[name=channel]").select_option("phone")
    form.locator("select[name=direction]").select_option("outbound")
    form.locator("input[name=subject]").fill("理财到期回访")
    form.locator("textarea[name=notes]").fill("客户考虑续作三年期定存")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=timeline] >> text=理财到期回访")
    assert Interaction.objects.get().actor == rm

    reveal = page.locator("[data-testid=reveal-form]")
    reveal.locator("select[name=field]").select_option("national_id")
    reveal.locator("input[name=reason]").fill("客户临柜办理大额存单核对身份")
    reveal.locator("button[type=submit]").click()
    page.wait_for_selector("[data-testid=revealed]")
    assert "11010519491231002X" in page.inner_text("[data-testid=revealed]")
    screenshot(page, "customer-360-revealed")
    log = AccessLog.objects.get(action="reveal")
    assert (log.actor, log.customer_id) == (rm, customer.pk)
    assert log.reason == "客户临柜办理大额存单核对身份"

    # The same URL for another RM of the same branch: not found, and nothing of the customer.
    other = browser.new_context(base_url=live_server.url, locale="zh-CN")
    other_page = other.new_page()
    sign_in(other_page, "rm2")
    other_page.wait_for_selector("[data-testid=home-title]")
    response = other_page.goto(f"/customers/{customer.pk}/")
    assert response.status == 404
    assert other_page.locator("[data-testid=error-page]").is_visible()
    assert "王小明" not in other_page.content()
    other.close()


def test_branch_manager_imports_after_checking_the_preview(
    page, screenshot, branch_manager, branch, tmp_path
):
    celery_app.conf.task_always_eager = True  # the worker's part runs in the server thread
    try:
        path = tmp_path / "客户名单.csv"
        path.write_text(
            "cif,name,national_id,mobile,branch_code,tier\n"
            "N0001,赵新客,11010519491231002X,13812345678,SH001,affluent\n"
            "N0002,钱新客,110105194912310021,13812345679,SH001,mass\n"
            "N0003,孙新客,,,SH001,private\n",
            encoding="utf-8",
        )
        sign_in(page, "bm")
        page.wait_for_selector("[data-testid=home-title]")
        page.goto("/customers/imports/")
        page.select_option("select[name=kind]", "customers")
        page.set_input_files("input[name=file]", str(path))
        page.click("[data-testid=upload-form] button[type=submit]")
        page.wait_for_selector("[data-testid=import-status][data-status=ready]")
        assert page.inner_text("[data-testid=valid-rows]") == "2"
        assert "证件号码" in page.inner_text("[data-testid=errors]")  # the label, not national_id
        assert "110***********002X" in page.inner_text("[data-testid=preview]")
        screenshot(page, "import-preview")
        page.click("[data-testid=commit]")
        page.wait_for_selector("[data-testid=import-status][data-status=done]")
        assert page.inner_text("[data-testid=created]") == "2"
        screenshot(page, "import-done")
        assert set(Customer.objects.values_list("cif", flat=True)) == {"N0001", "N0003"}
    finally:
        celery_app.conf.task_always_eager = False

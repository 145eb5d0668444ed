"""Real browser: the customer list's filters apply at once and only as chosen, and the
export holds what is on screen (issue 16, items 1 and 2)."""

import csv
import io
from pathlib import Path

import pytest

from tests import factories
from tests.browser.test_login_flows import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_rm_filters_by_tier_and_exports_what_is_on_screen(page, screenshot, rm, branch):
    for n in range(2):
        factories.customer(branch=branch, rm=rm, tier="private", name=f"私行客户{n}")
    for n in range(3):
        factories.customer(branch=branch, rm=rm, tier="mass", name=f"大众客户{n}")

    sign_in(page, "rm")
    page.wait_for_selector("[data-testid=home-title]")
    page.goto("/customers/")
    assert not page.is_checked("#id_kyc_expiring")
    assert page.locator("[data-testid=customer-table] tbody tr").count() == 5
    assert "导出 5 位客户" in page.inner_text("[data-testid=export]")

    page.select_option("#id_tier", "private")  # applies at once (htmx)
    page.wait_for_selector("[data-testid=export]:has-text('导出 2 位客户')")
    names = page.locator("[data-testid=customer-table] tbody tr td:nth-child(2) a")
    assert sorted(names.all_inner_texts()) == ["私行客户0", "私行客户1"]
    assert not page.is_checked("#id_kyc_expiring")
    assert "tier=private" in page.url  # the address bar keeps the filter
    screenshot(page, "customer-list-filtered")

    with page.expect_download() as download:
        page.click("[data-testid=export]")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert sorted(row[1] for row in rows[1:]) == ["私行客户0", "私行客户1"]

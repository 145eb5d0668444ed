"""Real browser: an RM and a compliance officer (with TOTP) sign in and switch language."""

import base64

import pytest
from django_otp.oath import totp

from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, username):
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", factories.PASSWORD)
    page.click("main form button[type=submit]")


def test_rm_signs_in_switches_language_and_sees_home(page, screenshot, rm, branch):
    factories.customer(branch=branch, rm=rm, name="王小明")
    sign_in(page, "rm")
    page.wait_for_selector("[data-testid=home-title]")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "王小明" in page.content()
    assert page.locator("[data-testid=home-title]").inner_text() == "我的客户与待办"
    screenshot(page, "rm-home-zh-hans")

    page.click("[data-testid=language-switcher] button[value=en]")
    page.wait_for_selector("html[lang=en]")
    assert page.locator("[data-testid=home-title]").inner_text() == "My customers and tasks"
    screenshot(page, "rm-home-en")


def next_unused_code(user) -> str:
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=user)
    otp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if device.last_t is not None and otp.t() <= device.last_t:
        otp.drift += device.last_t + 1 - otp.t()
    return f"{otp.token():0{device.digits}d}"


def sign_in_with_totp(page, user):
    """Sign in as a user whose role must pass TOTP (compliance, marketing managers, admins),
    with an authenticator enrolled for them, and land on their home page."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.get_or_create(user=user, name="authenticator", defaults={"confirmed": True})
    sign_in(page, user.username)
    page.wait_for_selector("input[name=token]")
    page.fill("input[name=token]", next_unused_code(user))
    page.click("main form button[type=submit]")
    page.wait_for_selector("[data-testid=home-title]")


def test_compliance_officer_enrols_totp_and_signs_in_again(page, screenshot, compliance_officer):
    sign_in(page, "compliance")
    page.wait_for_selector("[data-testid=mfa-qr] svg")
    screenshot(page, "mfa-setup")
    secret = page.locator("[data-testid=mfa-secret]").inner_text().replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("input[name=token]", f"{totp(key):06d}")
    page.click("main form button[type=submit]")
    page.wait_for_selector("[data-testid=home-title]")
    screenshot(page, "compliance-home-zh-hans")

    page.click("form[action='/accounts/logout/'] button")
    page.wait_for_selector("input[name=username]")
    sign_in(page, "compliance")
    page.wait_for_selector("input[name=token]")
    # A code is accepted only once: take the device's next unused step, as its clock (and
    # the drift it learnt at enrolment, if that code crossed a 30 s boundary) sees it.
    page.fill("input[name=token]", next_unused_code(compliance_officer))
    page.click("main form button[type=submit]")
    page.wait_for_selector("[data-testid=home-title]")
    page.click("[data-testid=language-switcher] button[value=en]")
    page.wait_for_selector("html[lang=en]")
    assert page.locator("[data-testid=home-title]").inner_text() == "Alerts and audit"
    screenshot(page, "compliance-home-en")

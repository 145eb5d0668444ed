"""The project's own URLs (home, sign-in and MFA, language, health) × every role, and the
guard over all matrices: every urlconf that declares a URL has an app's matrix that
claims it (tests/matrix.py)."""

import importlib

import pytest

from tests.matrix import ROLES, Matrix, World, everyone, exempt, expect, url_names_by_urlconf

pytestmark = pytest.mark.django_db


MATRIX = Matrix(urlconfs=["bankcrm.urls", "django.conf.urls.i18n"], rows={
    "home":         ("get",  None, None, expect(
        relationship_manager=200, branch_manager=200, service_agent=200,
        service_supervisor=200, compliance_officer=200, product_manager=200, marketing_manager=200,
        admin=200)),
    "login":        ("get",  None, None, everyone(200)),
    "logout":       ("post", None, None, everyone(302)),
    # The roles that must pass TOTP (compliance, marketing managers, admins) have a device
    # already: set-up sends them to verify. The others may enrol; verify sends them home.
    "mfa-setup":    ("get",  None, None, expect(
        relationship_manager=200, branch_manager=200, service_agent=200,
        service_supervisor=200, compliance_officer=302, product_manager=200, marketing_manager=302,
        admin=302)),
    "mfa-verify":   ("get",  None, None, expect(
        relationship_manager=302, branch_manager=302, service_agent=302,
        service_supervisor=302, compliance_officer=200, product_manager=302, marketing_manager=200,
        admin=200)),
    # Every member of staff has an inbox: their own messages only (no object of another's
    # can be named: a POST marks only the user's own).
    "notifications": ("get", None, None, expect(**dict.fromkeys(ROLES, 200))),
    "notifications (mark all read)": ("post", None, None, expect(**dict.fromkeys(ROLES, 302))),
    "set_language": ("post", {"language": "en"}, None, everyone(302)),
    "health":       ("get",  None, None, everyone(200)),
    # Staff only: everyone else is sent to the admin's own sign-in.
    "otpadmin:index": ("get", None, None, expect(
        relationship_manager=302, branch_manager=302, service_agent=302,
        service_supervisor=302, compliance_officer=302,
        product_manager=302, marketing_manager=302, admin=200) | {"anonymous": 302}),
    "otpadmin:*": exempt(
        "Django admin: staff only and TOTP first (MfaRequiredMiddleware); what each model "
        "admin allows is tested in each app's test_admin.py"),
})  # fmt: skip
test_every_url_is_in_the_matrix, test_permission_matrix = MATRIX.tests()


@pytest.fixture
def world(staff, monkeypatch):
    # /health/ pings the Celery workers for a second; who may ask is what is tested here
    # (what it reports: tests/bankcrm/test_pages.py).
    monkeypatch.setattr("bankcrm.health._worker", lambda: "down")
    return World(users=staff, objects=lambda kind, user: ({}, None))


# Where each urlconf's matrix is: a new app's URLs need a matrix before they pass.
MATRICES = {
    "bankcrm.urls": "tests.bankcrm.test_permission_matrix",
    "django.conf.urls.i18n": "tests.bankcrm.test_permission_matrix",
    "customers.urls": "tests.customers.test_permission_matrix",
    "customers.ingest.urls": "tests.customers.test_permission_matrix",
    "service.urls": "tests.service.test_permission_matrix",
    "service.public_urls": "tests.service.test_permission_matrix",
    "compliance.urls": "tests.compliance.test_permission_matrix",
    "analytics.urls": "tests.analytics.test_permission_matrix",
    "marketing.urls": "tests.marketing.test_permission_matrix",
    "marketing.public_urls": "tests.marketing.test_permission_matrix",
}


def test_every_urlconf_has_a_matrix():
    assert set(url_names_by_urlconf()) == set(MATRICES)
    for urlconf, module in MATRICES.items():
        assert urlconf in importlib.import_module(module).MATRIX.urlconfs, urlconf

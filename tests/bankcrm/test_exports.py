"""Every CSV export is safe to open in a spreadsheet: text typed by people outside the
bank's control (names, reasons, user names) never arrives as a live formula (OWASP's CSV
injection). The guard at the end fails when an export URL is added without a case here."""

import csv
import io

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from bankcrm.audit import AuditContext
from bankcrm.exports import spreadsheet_safe
from bankcrm.roles import Role
from customers import services
from tests import factories

pytestmark = pytest.mark.django_db

HOSTILE_NAME = '=HYPERLINK("http://evil.example/x","点我")'
HOSTILE_LATIN = "+cmd|' /C calc'!A0"
HOSTILE_TAG = "@SUM(1+1)"
HOSTILE_REASON = "-2+3+cmd|' /C calc'!A0"
HOSTILE_USERNAME = "@SUM(1+1)*cmd"
FULL_WIDTH = "＝HYPERLINK(1)"


def test_formula_starts_get_an_apostrophe_and_numbers_stay_numbers():
    for value in ("=1+1", "+1", "-1+A1", "@A1", "\t=1", "\r=1", "  =1", FULL_WIDTH, "＠A1"):
        assert spreadsheet_safe(value) == "'" + value
    for value in ("李娜", "a=b", "", "1-2", "e-mail@example.cn"):
        assert spreadsheet_safe(value) == value
    from decimal import Decimal

    assert spreadsheet_safe(Decimal("-12.50")) == Decimal("-12.50")
    assert spreadsheet_safe(-3) == -3
    assert spreadsheet_safe(None) is None


@pytest.fixture
def hostile(branch, compliance_officer):
    rm = factories.user(Role.RELATIONSHIP_MANAGER, branch=branch, username=HOSTILE_USERNAME)
    customer = factories.customer(
        branch=branch, rm=rm, name=HOSTILE_NAME, name_latin=HOSTILE_LATIN, tags=[HOSTILE_TAG]
    )
    context = AuditContext(ip="10.0.0.9", request_id="r1")
    services.identifier_reveal(
        actor=rm, context=context, customer=customer, field="mobile", reason=HOSTILE_REASON
    )
    from marketing.services import segment_create

    segment = segment_create(actor=rm, context=context, name=HOSTILE_NAME, kind="dynamic")
    return {"rm": rm, "customer": customer, "segment": segment}


def _cells(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _assert_defused(cells: list[str], *expected: str) -> None:
    live = [c for c in cells if c.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r", "＝"))]
    assert not live, live
    for value in expected:  # still there, as text (a cell of its own, or inside a detail)
        assert any(value in c for c in cells), (value, cells)


EXPORTS = {
    "customers:export": lambda h: "/customers/export/",
    "compliance:audit-export": lambda h: "/compliance/audit/export.csv",
    "compliance:customer-history-export": (
        lambda h: f"/compliance/customers/{h['customer'].pk}/history.csv"
    ),
    "compliance:user-activity-export": lambda h: f"/compliance/users/{h['rm'].pk}/activity.csv",
    "marketing:segment-export": lambda h: f"/marketing/segments/{h['segment'].pk}/export/",
    "compliance:suitability-export": lambda h: "/compliance/suitability/export.csv",
}


def test_the_customer_export_defuses_names_and_tags(client, hostile):
    client.force_login(hostile["rm"])
    cells = _cells(client.get("/customers/export/"))
    _assert_defused(cells, HOSTILE_NAME, HOSTILE_LATIN, HOSTILE_TAG, HOSTILE_USERNAME)


@pytest.mark.parametrize("kind", ["reads", "writes", "security"])
def test_the_audit_export_defuses_every_kind_of_record(
    kind, client, login, compliance_officer, hostile
):
    client.force_login(hostile["rm"])
    client.post("/accounts/logout/")  # a security event by the hostile user name
    login(compliance_officer)
    cells = _cells(client.get("/compliance/audit/export.csv", {"kind": kind}))
    expected = {
        "reads": (HOSTILE_USERNAME, HOSTILE_REASON),
        "writes": ("HYPERLINK(",),  # inside the changed values
        "security": (HOSTILE_USERNAME,),
    }
    _assert_defused(cells, *expected.get(kind, ()))


@pytest.mark.parametrize(
    "name", ["compliance:customer-history-export", "compliance:user-activity-export"]
)
def test_history_and_activity_exports_defuse_reasons_and_names(
    name, client, login, compliance_officer, hostile
):
    login(compliance_officer)
    cells = _cells(client.get(EXPORTS[name](hostile)))
    _assert_defused(cells, HOSTILE_USERNAME, HOSTILE_REASON)


def test_the_segment_export_defuses_masked_names(client, hostile):
    client.force_login(hostile["rm"])
    cells = _cells(client.get(EXPORTS["marketing:segment-export"](hostile)))
    assert hostile["customer"].cif in cells
    _assert_defused(cells, "'=")  # the masked name keeps its first character: "=********"


def test_the_suitability_export_defuses_names(client, login, compliance_officer, hostile):
    from compliance.suitability import suitability_check

    product = factories.product(kind="fund", risk_level=5)
    suitability_check(customer=hostile["customer"], product=product, purpose="sale",
                      actor=hostile["rm"])  # a block, recorded  # fmt: skip
    login(compliance_officer)
    cells = _cells(client.get(EXPORTS["compliance:suitability-export"](hostile)))
    _assert_defused(cells, HOSTILE_NAME, HOSTILE_USERNAME)


def _named_urls(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{pattern.namespace}:" if pattern.namespace else prefix
            yield from _named_urls(pattern, namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield prefix + pattern.name, str(pattern.pattern)


def test_every_export_url_is_covered_here():
    """A CSV export added without a case above fails here (import templates hold only the
    project's own column names)."""
    exports = {
        name
        for name, route in _named_urls()
        if "export" in name or route.endswith(".csv")
        if name != "customers:import-template"
    }
    assert exports == set(EXPORTS)

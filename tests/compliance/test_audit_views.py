"""The compliance officer's audit screens: who may open them, filters, keyset paging, and
an export that is itself audited."""

import csv
import html
import io
import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.utils import timezone

from bankcrm.models import AccessLog
from compliance.models import DataChange

pytestmark = pytest.mark.django_db


def reads(user, customer, n, *, action="view"):
    for _ in range(n):
        row = AccessLog.objects.create(
            actor=user,
            action=action,
            object_type="customers.customer",
            object_id=str(customer.pk),
            customer_id=customer.pk,
            reason="核对身份" if action == "reveal" else "",
            ip_address="10.1.2.3",
        )
    return row


@pytest.mark.parametrize("url", ["/compliance/audit/", "/compliance/audit/export.csv"])
def test_only_compliance_and_admins_open_the_audit_screens(
    url, client, login, compliance_officer, admin_user, rm, agent, supervisor
):
    for user, expected in (
        (compliance_officer, 200),
        (admin_user, 200),
        (rm, 403),
        (agent, 403),
        (supervisor, 403),
    ):
        client.logout()
        login(user)
        assert client.get(url).status_code == expected, (user.username, url)
    client.logout()
    assert client.get(url)["Location"].startswith("/accounts/login/")


def test_compliance_needs_the_totp_step_first(client, login, compliance_officer):
    login(compliance_officer, mfa=False)
    response = client.get("/compliance/audit/")
    assert response.status_code == 302 and "/accounts/mfa/" in response["Location"]


def test_who_revealed_this_customers_id(client, login, compliance_officer, rm, other_rm, customer):
    reads(rm, customer, 1, action="reveal")
    reads(other_rm, customer, 3)  # views, not reveals
    login(compliance_officer)
    page = client.get("/compliance/audit/", {"customer": customer.cif, "action": "reveal"})
    text = page.content.decode()
    assert text.count('data-testid="audit-row"') == 1
    assert rm.username in text and "核对身份" in text and other_rm.username not in text
    by_actor = client.get("/compliance/audit/", {"actor": other_rm.username}).content.decode()
    assert by_actor.count('data-testid="audit-row"') == 3
    unknown = client.get("/compliance/audit/", {"customer": "NOPE"})
    assert "没有客户使用此客户号。" in unknown.content.decode()


def test_data_changes_show_masked_values_only(client, login, compliance_officer, rm, customer):
    customer.set_mobile("+8613912345678")
    customer.save()
    login(compliance_officer)
    text = client.get(
        "/compliance/audit/", {"kind": "writes", "customer": customer.cif}
    ).content.decode()
    assert "139****5678" in text and "13912345678" not in text
    customer.tier = "private"
    from bankcrm.audit import audit_context

    with audit_context(actor=rm, label="web"):
        customer.save()
    text = client.get(
        "/compliance/audit/", {"kind": "writes", "actor": rm.username}
    ).content.decode()
    assert rm.display_name in text and "private" in text
    assert DataChange.objects.filter(customer_id=customer.pk).exists()


def test_keyset_pages_walk_the_whole_trail_once(
    client, login, compliance_officer, rm, customer, django_assert_num_queries
):
    reads(rm, customer, 120)
    login(compliance_officer)
    seen, after, pages = [], None, 0
    while True:
        params = {"customer": customer.cif}
        if after:
            params["after"] = after
        # session, user, roles, TOTP device, the filter's customer, rows, rows' customers
        with django_assert_num_queries(7):
            response = client.get("/compliance/audit/", params)
        text = response.content.decode()
        seen += [int(pk) for pk in re.findall(r'data-testid="audit-row" data-id="(\d+)"', text)]
        more = re.search(r'after=([^"]+)" data-testid="audit-next"', text)
        after, pages = (unquote(html.unescape(more.group(1))) if more else None), pages + 1
        if not after:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 120
    assert seen == sorted(seen, reverse=True)


def test_the_export_is_a_csv_of_the_filter_and_is_itself_audited(
    client, login, compliance_officer, rm, customer
):
    reads(rm, customer, 2, action="reveal")
    login(compliance_officer)
    response = client.get(
        "/compliance/audit/export.csv", {"customer": customer.cif, "action": "reveal"}
    )
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert len(rows) == 3 and rows[1][1] == rm.username
    assert customer.mobile not in body
    export = AccessLog.objects.get(action="export", actor=compliance_officer)
    assert export.detail["rows"] == 2 and export.detail["filter"]["action"] == "reveal"
    assert export.customer_id == customer.pk
    assert timezone.now() - export.at < timedelta(minutes=1)


def test_a_page_after_a_cursor_starts_the_index_scan_at_the_cursor(rm, customer):
    """The keyset condition (at < t) OR (at = t AND id < n) alone cannot bound an index
    scan: PostgreSQL walked every newer row first (5.7 s for a page 100,000 rows back in
    bench/audit.py). The page query also says at <= t, which it can."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from compliance import selectors

    last = reads(rm, customer, 3)
    cursor = f"{last.at.isoformat()}|0|{last.pk}"
    with CaptureQueriesContext(connection) as queries:
        rows, _next = selectors.page_after({"reads": AccessLog.objects.all()}, cursor)
    assert len(rows) == 2
    (sql,) = [q["sql"] for q in queries.captured_queries]
    assert re.search(r'"at" <= [^)]+ AND \(', sql), sql

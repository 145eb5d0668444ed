"""Admin for integration: sources (secret shown once, rotation), the reconciliation queue
with replay, and the status page."""

import re

import pytest

from customers.ingest.services import inbox_process, inbox_store, source_advance_cursor
from customers.models import ExternalIdentity, Interaction
from customers.models.integration import InboxEvent, IntegrationSource
from tests import factories

pytestmark = pytest.mark.django_db


def app_event(seq, ref="C-1"):
    return {
        "event_id": f"app-{seq}",
        "sequence": seq,
        "type": "app.activity",
        "occurred_at": "2026-11-23T09:00:00",
        "data": {"customer_ref": ref, "action": "product_view", "product": "稳盈90天"},
    }


def test_a_new_source_shows_its_secret_once_and_rotation_keeps_the_old(client, login, admin_user):
    login(admin_user)
    response = client.post(
        "/admin/customers/integrationsource/add/",
        {
            "code": "app",
            "name": "Mobile app",
            "kind": "app",
            "enabled": "on",
            "time_zone": "Asia/Shanghai",
            "feed_url": "",
        },
        follow=True,
    )
    source = IntegrationSource.objects.get(code="app")
    assert source.secret in response.content.decode()
    old = source.secret
    response = client.post(
        "/admin/customers/integrationsource/",
        {"action": "rotate_secret", "_selected_action": [source.pk]},
        follow=True,
    )
    source.refresh_from_db()
    assert source.secret != old and source.previous_secret == old
    assert source.secret in response.content.decode()
    # Never on the change page.
    page = client.get(f"/admin/customers/integrationsource/{source.pk}/change/").content.decode()
    assert source.secret not in page and old not in page


def test_a_bad_time_zone_is_refused(client, login, admin_user):
    login(admin_user)
    response = client.post(
        "/admin/customers/integrationsource/add/",
        {"code": "x", "name": "X", "kind": "app", "time_zone": "Mars/Olympus"},
    )
    assert "Mars/Olympus" in response.content.decode()
    assert not IntegrationSource.objects.exists()


def test_parked_events_are_listed_replayed_and_the_status_page_counts_them(
    client, login, admin_user, branch
):
    source = IntegrationSource.objects.create(code="app", name="Mobile app", kind="app")
    inbox_store(source=source, events=[app_event(1), app_event(2), app_event(4)])
    inbox_process()
    source_advance_cursor(source=source)  # as the beat sweep does
    login(admin_user)
    listing = client.get("/admin/customers/inboxevent/?status__exact=parked").content.decode()
    assert listing.count("unknown_customer") >= 3
    assert "稳盈" not in listing  # the payload is never shown

    status = client.get("/admin/customers/integrationsource/status/").content.decode()
    table = status.split('data-testid="integration-status"', 1)[1]
    cells = re.findall(r"<td>(.*?)</td>", table, re.S)
    assert cells[2:5] == ["4", "2", "1 (1)"]  # last sequence, contiguous, missing (gaps)
    assert "unknown_customer" in status

    customer = factories.customer(branch=branch)
    ExternalIdentity.objects.create(source="app", external_id="C-1", customer=customer)
    parked = InboxEvent.objects.filter(status="parked").values_list("pk", flat=True)
    client.post(
        "/admin/customers/inboxevent/",
        {"action": "replay", "_selected_action": list(parked)},
    )
    inbox_process()
    assert Interaction.objects.filter(customer=customer, channel="app").count() == 3
    # Each replay is in the audit trail, with who did it and the status before and after.
    from compliance.models import DataChange

    entries = DataChange.objects.filter(table_name="customers_inboxevent", actor_id=admin_user.pk)
    assert entries.count() == 3
    assert all(e.changes["status"] == ["parked", "pending"] for e in entries)
    assert all("payload" not in e.changes for e in entries)
    # Applying them afterwards is the worker's business, not the trail's.
    assert DataChange.objects.filter(table_name="customers_inboxevent").count() == 3


def test_the_status_page_is_for_admins_only(client, login, rm):
    login(rm)
    response = client.get("/admin/customers/integrationsource/status/")
    assert response.status_code in (302, 403)


def test_viewing_the_queue_does_not_allow_putting_events_back(client, login, branch):
    """A staff member who may only look (an auditor, say) sees parked events but can
    neither replay them nor send outbound deliveries again: both are changes."""
    from django.contrib.auth.models import Permission

    from bankcrm.roles import Role

    auditor = factories.user(Role.COMPLIANCE_OFFICER, branch=branch, is_staff=True)
    auditor.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_inboxevent", "view_outbounddelivery"])
    )
    source = IntegrationSource.objects.create(code="app", name="Mobile app", kind="app")
    inbox_store(source=source, events=[app_event(1)])
    inbox_process()
    login(auditor)
    listing = client.get("/admin/customers/inboxevent/")
    assert listing.status_code == 200
    assert 'value="replay"' not in listing.content.decode()
    parked = InboxEvent.objects.get()
    client.post(
        "/admin/customers/inboxevent/", {"action": "replay", "_selected_action": [parked.pk]}
    )
    parked.refresh_from_db()
    assert parked.status == "parked"
    deliveries = client.get("/admin/customers/outbounddelivery/").content.decode()
    assert 'value="retry"' not in deliveries


def test_an_event_that_failed_is_shown_and_replayed_as_parked_ones_are(client, login, admin_user):
    """An event the worker could not apply (here: a NUL in its reference, in a row that did
    not come through the API) is counted on the status page with its error, listed under
    "failed" and can be replayed; its source's other event was handled meanwhile (parked:
    its customer is not mapped)."""
    source = IntegrationSource.objects.create(code="app", name="Mobile app", kind="app")
    inbox_store(source=source, events=[app_event(1)])
    poison = InboxEvent.objects.create(
        source=source,
        event_id="raw-9",
        sequence=9,
        event_type="app.activity",
        occurred_at="2026-11-23T09:00:00+08:00",
        payload={"customer_ref": "C-\x00SECRET", "action": "login"},
        body_digest="-",
    )
    inbox_process()
    login(admin_user)
    status = client.get("/admin/customers/integrationsource/status/").content.decode()
    table = status.split('data-testid="integration-status"', 1)[1]
    cells = re.findall(r"<td>(.*?)</td>", table, re.S)
    assert re.sub(r"<.*?>", "", cells[8]) == "1"  # parked: the unknown customer
    assert re.sub(r"<.*?>", "", cells[9]) == "1"  # failed
    assert "DataError value not storable" in status  # the latest error
    listing = client.get("/admin/customers/inboxevent/?status__exact=failed").content.decode()
    assert "raw-9" in listing and "DataError value not storable" in listing
    assert "SECRET" not in listing
    client.post(
        "/admin/customers/inboxevent/", {"action": "replay", "_selected_action": [poison.pk]}
    )
    poison.refresh_from_db()
    assert (poison.status, poison.error) == ("pending", "")

"""Probing leaves a trail (issue 16, items 7 and 9): every caller lookup by CIF or mobile,
found or not, is a logged search; every refused object access is a security event; and
the access-anomaly rules count both."""

import pytest

from bankcrm.models import AccessLog, SecurityEvent
from bankcrm.roles import Role
from compliance.models import AccessAlert, AccessRule
from tests import factories

pytestmark = pytest.mark.django_db

TICKET = {"subject": "卡片挂失", "channel": "phone", "category": "enquiry"}


def lookups(user):
    return AccessLog.objects.filter(actor=user, action="search").order_by("pk")


def test_every_caller_lookup_is_logged_hit_or_miss_whatever_else_the_form_says(
    client, login, desk, agent, customer
):
    login(agent)
    # A miss on an otherwise valid form; a hit and a miss on forms missing their subject.
    client.post("/service/tickets/new/", {**TICKET, "customer_ref": "CIF99999999"})
    client.post("/service/tickets/new/", {"channel": "phone", "customer_ref": customer.cif})
    client.post("/service/tickets/new/", {"channel": "phone", "customer_ref": "13900000000"})
    rows = list(lookups(agent))
    assert [(r.customer_id, r.detail["match"], r.detail["hits"]) for r in rows] == [
        (None, "cif", 0), (customer.pk, "cif", 1), (None, "mobile", 0),
    ]  # fmt: skip
    for row in rows:  # the kind of reference, never its value
        assert customer.cif not in str(row.detail) and "13900000000" not in str(row.detail)
        assert row.detail["by"] == "caller_lookup" and row.ip_address == "127.0.0.1"


def test_many_lookups_in_a_window_raise_an_alert(client, login, desk, agent, customer):
    AccessRule.objects.create(
        name="大量查找客户", measure="lookups", threshold=5, window_minutes=10,
        roles=[Role.SERVICE_AGENT],
    )  # fmt: skip
    login(agent)
    for n in range(5):
        client.post("/service/tickets/new/", {**TICKET, "customer_ref": f"CIF{n:08d}"})
    assert not AccessAlert.objects.exists()
    client.post("/service/tickets/new/", {**TICKET, "customer_ref": customer.cif})
    alert = AccessAlert.objects.get()
    assert (alert.user, alert.count, alert.rule.measure) == (agent, 6, "lookups")


def test_a_refused_customer_is_a_security_event_with_what_was_asked(
    client, login, rm, other_rm, customer
):
    login(other_rm)
    assert client.get(f"/customers/{customer.pk}/").status_code == 404
    event = SecurityEvent.objects.get(kind="access_refused")
    assert (event.user, event.customer_id, event.ip_address) == (other_rm, customer.pk, "127.0.0.1")
    assert event.detail == {
        "status": 404, "object_type": "customers.customer", "object_id": str(customer.pk),
        "path": f"/customers/{customer.pk}/", "method": "GET",
    }  # fmt: skip


def test_a_forbidden_action_is_a_security_event_and_a_mistyped_url_is_not(
    client, login, desk, agent, customer
):
    from service import services

    ticket = services.ticket_open(actor=agent, customer=customer, subject="x", channel="app")
    services.ticket_assign(actor=agent, ticket=ticket, assignee=agent)
    login(agent)
    assert client.get(f"/customers/{customer.pk}/transactions/").status_code == 403
    event = SecurityEvent.objects.get(kind="access_refused")
    assert event.detail["status"] == 403
    assert (event.detail["object_type"], event.detail["object_id"]) == ("", str(customer.pk))
    assert event.detail["path"] == f"/customers/{customer.pk}/transactions/"
    assert client.get("/customers/no-such-page/").status_code == 404
    client.logout()
    client.get(f"/customers/{customer.pk}/")  # anonymous: sent to the login page
    assert SecurityEvent.objects.filter(kind="access_refused").count() == 1


def test_refusals_of_other_objects_are_recorded_too(client, login, agent, other_rm):
    login(other_rm)
    assert client.get("/service/tickets/999999/").status_code == 404
    assert client.get("/customers/imports/999999/").status_code == 404
    assert client.get("/customers/99999999999999999999999/").status_code == 404
    client.force_login(agent)
    assert client.get("/service/queues/not-mine/").status_code == 404
    kinds = [
        (e.detail["status"], e.detail["object_type"])
        for e in SecurityEvent.objects.filter(kind="access_refused").order_by("pk")
    ]
    assert kinds == [
        (404, "service.ticket"), (404, "customers.importbatch"), (404, "customers.customer"),
        (404, "service.queue"),
    ]  # fmt: skip


def test_probing_for_other_customers_freezes_when_the_rule_says_so(
    client, login, branch, other_rm, rm
):
    AccessRule.objects.create(
        name="多次访问被拒", measure="refusals", threshold=5, window_minutes=10,
        roles=[Role.RELATIONSHIP_MANAGER], freeze_account=True,
    )  # fmt: skip
    theirs = [factories.customer(branch=branch, rm=rm) for _ in range(6)]
    login(other_rm)
    for customer in theirs[:5]:
        assert client.get(f"/customers/{customer.pk}/").status_code == 404
    other_rm.refresh_from_db()
    assert not other_rm.is_frozen
    client.get(f"/customers/{theirs[5].pk}/")
    other_rm.refresh_from_db()
    assert other_rm.is_frozen
    assert AccessAlert.objects.get().count == 6
    assert client.get("/").status_code == 302  # signed out

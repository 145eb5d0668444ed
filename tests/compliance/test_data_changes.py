"""Every change to audited data leaves one DataChange row, whatever the path, with who,
from where, and identifiers only masked."""

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from bankcrm.audit import audit_context
from compliance import chain
from compliance.models import DataChange
from customers import imports
from customers.models import Customer, ImportBatch
from service import services

pytestmark = pytest.mark.django_db


def changes_of(obj) -> list[DataChange]:
    return list(
        DataChange.objects.filter(table_name=obj._meta.db_table, row_pk=str(obj.pk)).order_by("id")
    )


def test_a_form_change_is_recorded_with_the_user_ip_request_id_and_masked_values(
    client, login, rm, customer
):
    login(rm)
    before = customer.mobile_masked
    response = client.post(
        f"/customers/{customer.pk}/contact/",
        {"mobile": "13912345678", "email": "new@example.cn", "address": "上海市浦东新区"},
        headers={"X-Request-ID": "req-contact-1"},
    )
    assert response.status_code == 302
    (change,) = [c for c in changes_of(customer) if c.actor_label == "web"]
    assert (change.actor_id, change.actor_label, change.request_id) == (
        rm.pk,
        "web",
        "req-contact-1",
    )
    assert change.ip_address == "127.0.0.1" and change.customer_id == customer.pk
    assert change.changes["mobile_masked"] == [before, "139****5678"]
    assert change.changes["mobile"] == ["***", "***"]
    text = str(change.changes)
    assert "13912345678" not in text and "new@example.cn" not in text and "浦东" not in text


def test_admin_changes_to_a_roles_permissions_are_recorded_with_the_admin(
    client, login, admin_user
):
    from django.contrib.auth.models import Permission

    role = Group.objects.get_or_create(name="service_agent")[0]
    permission = Permission.objects.get(codename="view_ticket")
    login(admin_user)
    response = client.post(
        f"/admin/auth/group/{role.pk}/change/",
        {"name": role.name, "permissions": [permission.pk]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    change = DataChange.objects.get(table_name="auth_group_permissions", op="I")
    assert change.actor_id == admin_user.pk and change.actor_label == "web"
    assert change.changes["permission_id"] == [None, permission.pk]


def test_bulk_updates_and_raw_sql_are_recorded_row_by_row(branch, rm):
    from tests import factories

    people = [factories.customer(branch=branch, rm=rm) for _ in range(3)]
    with audit_context(label="task:customers.tasks.rescore"):
        Customer.objects.filter(pk__in=[c.pk for c in people]).update(tier="affluent")
    rows = DataChange.objects.filter(table_name="customers_customer", op="U")
    assert rows.count() == 3
    assert {r.actor_label for r in rows} == {"task:customers.tasks.rescore"}
    assert {r.changes["tier"][1] for r in rows} == {"affluent"}
    # The audit context does not outlive its block.
    Customer.objects.filter(pk=people[0].pk).update(tier="private")
    assert DataChange.objects.latest("id").actor_label == ""


def test_an_import_is_recorded_as_the_uploaders_writes(client, login, branch_manager, branch):
    login(branch_manager)
    content = "cif,name,branch_code\nI0001,王导入,SH001\n".encode()
    client.post(
        "/customers/imports/", {"kind": "customers", "file": SimpleUploadedFile("c.csv", content)}
    )
    batch = ImportBatch.objects.get()
    imports.validate(batch.pk)
    client.post(f"/customers/imports/{batch.pk}/commit/")
    imports.commit(batch.pk)
    created = Customer.objects.get(cif="I0001")
    (change,) = [c for c in changes_of(created) if c.op == "I"]
    assert change.actor_id == branch_manager.pk and change.actor_label == f"import:{batch.pk}"


def test_roles_tickets_and_mirrored_balances(desk, agent, customer, rm):
    rm.groups.add(Group.objects.get_or_create(name="compliance_officer")[0])
    assert DataChange.objects.filter(table_name="bankcrm_user_groups", op="I").exists()
    ticket = services.ticket_open(actor=agent, customer=customer, subject="咨询", channel="app")
    services.ticket_assign(actor=agent, ticket=ticket, assignee=agent)
    assigned = [c for c in changes_of(ticket) if "assignee_id" in c.changes]
    assert assigned and assigned[-1].changes["assignee_id"] == [None, agent.pk]
    # A balance mirrored from core banking is not a change an auditor reviews.
    from tests import factories

    account = factories.account(customer)
    before = DataChange.objects.count()
    type(account).objects.filter(pk=account.pk).update(balance=1)
    assert DataChange.objects.count() == before
    factories.link_audit_rows()
    assert all(report.ok for report in chain.verify_all())


def test_the_desks_configuration_changed_in_admin_is_in_the_trail(client, login, admin_user, desk):
    from service.models import RoutingRule

    rule = RoutingRule.objects.first()
    login(admin_user)
    response = client.post(
        "/admin/service/routingrule/",
        {"form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": rule.pk,
         "form-0-order": rule.order + 5, "form-0-is_active": "", "_save": "保存"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    (change,) = changes_of(rule)[-1:]
    assert (change.op, change.actor_id, change.actor_label) == ("U", admin_user.pk, "web")
    assert change.changes["is_active"] == [True, False]


def test_a_rotated_source_secret_is_recorded_as_changed_never_copied(admin_user):
    from customers.ingest.services import source_rotate_secret
    from customers.models.integration import IntegrationSource

    source = IntegrationSource.objects.create(code="core", name="核心系统", kind="core_banking")
    old = source.secret
    new = source_rotate_secret(source=source)
    change = changes_of(source)[-1]
    assert change.changes["secret"] == ["***", "***"]
    assert change.changes["previous_secret"] == ["***", "***"]
    assert old not in str(change.changes) and new not in str(change.changes)


def test_queues_record_a_requeue_and_nothing_their_workers_do(desk, agent, customer, admin_user):
    """Notifications are sent and given up by workers by the thousand: only an admin's
    "send again" is in the trail (the trigger's WHEN), with who did it."""
    from bankcrm.audit import AuditContext
    from service import notify
    from service.models import Notification

    services.ticket_open(actor=agent, customer=customer, subject="咨询", channel="phone")
    notify.NOTIFICATIONS.claim(limit=10)  # a worker leases the rows: attempts, due time
    Notification.objects.update(status="failed")  # and gives up
    assert not DataChange.objects.filter(table_name="service_notification").exists()
    ids = list(Notification.objects.values_list("pk", flat=True))
    context = AuditContext(ip="10.1.2.3", request_id="req-9")
    assert notify.notifications_retry(ids=ids, actor=admin_user, context=context) == len(ids)
    rows = DataChange.objects.filter(table_name="service_notification")
    assert {(r.actor_id, r.ip_address, r.request_id, r.customer_id) for r in rows} == {
        (admin_user.pk, "10.1.2.3", "req-9", customer.pk)
    }
    assert all(r.changes["status"] == ["failed", "pending"] for r in rows)
    assert all("body" not in r.changes and "subject" not in r.changes for r in rows)
    assert notify.notifications_retry(ids=ids, actor=admin_user, context=context) == 0

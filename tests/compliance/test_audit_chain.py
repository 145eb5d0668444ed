"""The audit tables are append-only and hash-chained in the database: no role's UPDATE,
DELETE or TRUNCATE gets through, and an edit made around the triggers is found."""

import threading

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from bankcrm.models import AccessLog
from compliance import chain
from compliance.tasks import verify_audit_chain
from tests.concurrency import in_threads

pytestmark = pytest.mark.django_db


def log_read(user, n: int) -> AccessLog:
    return AccessLog.objects.create(
        actor=user, action="view", object_type="customers.customer", object_id=str(n), customer_id=n
    )


def chained(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT chain_seq, prev_hash, row_hash FROM {table} ORDER BY chain_seq")
        return cursor.fetchall()


def test_new_rows_are_chained_each_on_the_one_before(rm):
    for n in range(3):
        log_read(rm, n)
    rows = chained("bankcrm_accesslog")
    assert [seq for seq, _, _ in rows] == [1, 2, 3]
    assert bytes(rows[0][1]) == b""
    assert all(bytes(rows[i][1]) == bytes(rows[i - 1][2]) for i in (1, 2))
    assert all(chain_report.ok for chain_report in chain.verify_all())


def test_the_database_refuses_to_change_or_remove_audit_rows(rm, customer):
    log_read(rm, 1)
    customer.tier = "private"
    customer.save()  # an auditlog LogEntry
    assert LogEntry.objects.exists()
    attempts = [
        lambda: AccessLog.objects.update(reason="covered up"),
        lambda: AccessLog.objects.all().delete(),
        lambda: LogEntry.objects.update(changes_text="nothing happened"),
        lambda: LogEntry.objects.all().delete(),
    ]
    for attempt in attempts:
        with (
            pytest.raises(DatabaseError, match="cannot be changed or removed"),
            transaction.atomic(),
        ):
            attempt()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL bankcrm.audit_maintenance = 'off'")
        with pytest.raises(DatabaseError, match="TRUNCATE"), transaction.atomic():
            cursor.execute("TRUNCATE bankcrm_accesslog")
    assert AccessLog.objects.count() == 1


def test_the_verifier_finds_a_row_edited_around_the_triggers(rm):
    rows = [log_read(rm, n) for n in range(5)]
    assert verify_audit_chain()
    # A superuser switches triggers off and edits a row.
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE bankcrm_accesslog SET reason = 'nothing to see' WHERE id = %s", [rows[2].pk]
        )
        cursor.execute("SET session_replication_role = DEFAULT")
    report = chain.verify_table("bankcrm_accesslog")
    assert (report.broken_seq, report.broken_id) == (3, rows[2].pk)
    assert "edited" in report.reason
    assert not verify_audit_chain()
    with pytest.raises(CommandError, match="tampered"):
        call_command("verify_audit")


def test_the_verifier_finds_a_removed_row(rm):
    rows = [log_read(rm, n) for n in range(4)]
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("DELETE FROM bankcrm_accesslog WHERE id = %s", [rows[1].pk])
        cursor.execute("SET session_replication_role = DEFAULT")
    report = chain.verify_table("bankcrm_accesslog")
    assert report.broken_seq == 3 and "missing" in report.reason


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_writers_keep_one_unbroken_chain(rm):
    barrier = threading.Barrier(20)

    def write():
        barrier.wait()
        for n in range(25):
            with transaction.atomic():
                log_read(rm, n)

    assert in_threads(write, 20) == []
    rows = chained("bankcrm_accesslog")
    assert [seq for seq, _, _ in rows] == list(range(1, 501))
    assert chain.verify_table("bankcrm_accesslog").ok


def test_users_in_the_audit_trail_are_deactivated_not_deleted(client, login, admin_user, rm):
    log_read(rm, 1)
    login(admin_user)
    assert client.get(f"/admin/bankcrm/user/{rm.pk}/delete/").status_code == 403
    with pytest.raises(DatabaseError), transaction.atomic():
        rm.delete()

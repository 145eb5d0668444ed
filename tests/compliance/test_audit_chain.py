"""The audit tables are append-only and hash-chained in the database: no role's UPDATE,
DELETE or TRUNCATE gets through, and an edit made around the triggers is found. Rows are
linked when their transaction commits (a deferred trigger): tests that run inside one
transaction fire the links with SET CONSTRAINTS ALL IMMEDIATE, as a commit would."""

import io
import threading
import time

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from bankcrm.models import AccessLog
from compliance import anomalies, chain
from compliance.tasks import verify_audit_chain
from tests.concurrency import in_threads
from tests.factories import link_audit_rows as link_now

pytestmark = pytest.mark.django_db


def log_read(user, n: int) -> AccessLog:
    return AccessLog.objects.create(
        actor=user, action="view", object_type="customers.customer", object_id=str(n), customer_id=n
    )


def chained(table: str) -> list[tuple]:
    link_now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq, prev_hash, row_hash FROM compliance_chainlink WHERE table_name = %s"
            " ORDER BY seq",
            [table],
        )
        return cursor.fetchall()


def around_the_triggers(sql: str, params=()) -> None:
    """A superuser switching triggers off for one statement."""
    link_now()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET session_replication_role = DEFAULT")


def test_new_rows_are_chained_each_on_the_one_before(rm):
    for n in range(3):
        log_read(rm, n)
    rows = chained("bankcrm_accesslog")
    assert [seq for seq, _, _ in rows] == [1, 2, 3]
    assert bytes(rows[0][1]) == b""
    assert all(bytes(rows[i][1]) == bytes(rows[i - 1][2]) for i in (1, 2))
    reports = chain.verify_all()
    assert all(chain_report.ok for chain_report in reports)
    assert {r.table: r.rows for r in reports}["bankcrm_accesslog"] == 3


def test_a_row_is_linked_only_when_its_transaction_commits(rm):
    with transaction.atomic():
        log_read(rm, 1)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM compliance_chainlink WHERE table_name = 'bankcrm_accesslog'"
            )
            assert cursor.fetchone() == (0,)
    assert len(chained("bankcrm_accesslog")) == 1


def test_the_database_refuses_to_change_or_remove_audit_rows(rm, customer):
    log_read(rm, 1)
    # django-auditlog's rows from before the data-change trail: nothing writes them now,
    # and they stay as they were.
    LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(customer), object_pk=str(customer.pk),
        object_repr=customer.cif, action=LogEntry.Action.UPDATE, changes={"tier": ["a", "b"]},
    )  # fmt: skip
    link_now()
    attempts = [
        lambda: AccessLog.objects.update(reason="covered up"),
        lambda: AccessLog.objects.all().delete(),
        lambda: LogEntry.objects.update(changes_text="nothing happened"),
        lambda: LogEntry.objects.all().delete(),
        lambda: connection.cursor().execute("UPDATE compliance_chainlink SET row_hash = ''"),
        lambda: connection.cursor().execute("DELETE FROM compliance_chainlink"),
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
    link_now()
    assert verify_audit_chain()
    # A superuser switches triggers off and edits a row.
    around_the_triggers(
        "UPDATE bankcrm_accesslog SET reason = 'nothing to see' WHERE id = %s", [rows[2].pk]
    )
    report = chain.verify_table("bankcrm_accesslog")
    assert (report.broken_seq, report.broken_id) == (3, rows[2].pk)
    assert "edited" in report.reason
    assert not verify_audit_chain()
    with pytest.raises(CommandError, match="tampered"):
        call_command("verify_audit")


def test_the_verifier_finds_a_removed_row(rm):
    rows = [log_read(rm, n) for n in range(4)]
    around_the_triggers("DELETE FROM bankcrm_accesslog WHERE id = %s", [rows[1].pk])
    report = chain.verify_table("bankcrm_accesslog")
    assert (report.broken_seq, report.broken_id) == (2, rows[1].pk)
    assert "removed" in report.reason


def test_the_verifier_finds_a_removed_link(rm):
    for n in range(4):
        log_read(rm, n)
    around_the_triggers(
        "DELETE FROM compliance_chainlink WHERE table_name = 'bankcrm_accesslog' AND seq = 2"
    )
    report = chain.verify_table("bankcrm_accesslog")
    assert report.broken_seq == 3 and "missing" in report.reason


def test_the_verifier_finds_a_row_written_without_a_link(rm):
    for n in range(3):
        log_read(rm, n)
    around_the_triggers(
        "INSERT INTO bankcrm_accesslog (at, actor_id, action, object_type, object_id, reason,"
        " detail, request_id) VALUES (now(), %s, 'view', 'customers.customer', '', '', '{}',"
        " '')",
        [rm.pk],
    )
    report = chain.verify_table("bankcrm_accesslog")
    assert report.broken_seq is None and "no link" in report.reason
    assert report.broken_id == AccessLog.objects.latest("id").pk


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


@pytest.mark.django_db(transaction=True)
def test_a_long_transaction_does_not_hold_up_other_audited_writers(rm):
    """The chain is linked at commit: a transaction that wrote an audit row and goes on
    working (an import chunk) does not make other audited writers wait for it."""
    wrote, quick_done = threading.Event(), threading.Event()
    quick_took = []

    def long_transaction():
        with transaction.atomic():
            log_read(rm, 1)
            wrote.set()
            assert quick_done.wait(10), "the quick writer was held up"

    def quick_writer():
        assert wrote.wait(10)
        started = time.monotonic()
        log_read(rm, 2)  # autocommit: inserted and linked at once
        quick_took.append(time.monotonic() - started)
        quick_done.set()

    workers = iter([long_transaction, quick_writer])
    assert in_threads(lambda: next(workers)(), 2) == []
    assert quick_took and quick_took[0] < 5
    rows = chained("bankcrm_accesslog")
    assert len(rows) == 2 and chain.verify_table("bankcrm_accesslog").ok


def test_users_in_the_audit_trail_are_deactivated_not_deleted(client, login, admin_user, rm):
    log_read(rm, 1)
    login(admin_user)
    assert client.get(f"/admin/bankcrm/user/{rm.pk}/delete/").status_code == 403
    with pytest.raises(DatabaseError), transaction.atomic():
        rm.delete()


def test_linking_reads_the_chains_last_link_off_its_index(rm):
    """Each link looks up the one before through the primary key, never a scan of the link
    table (which grows with every audit row ever written): a comparison in the wrong
    collation once made one 40,000-row commit take five minutes."""
    for n in range(30):
        log_read(rm, n)
    link_now()
    for n in range(30):
        log_read(rm, n)
    with connection.cursor() as cursor:
        # The test's link table is tiny, and once analysed a scan of its one page is the
        # cheaper plan: with scans off (plans made afresh), a scan shows only where the
        # index cannot serve the lookup at all, as with the wrong collation.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("DISCARD PLANS")
        cursor.execute(
            "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables"
            " WHERE relname = 'compliance_chainlink'"
        )
        before = cursor.fetchone()
        link_now()
        cursor.execute(
            "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables"
            " WHERE relname = 'compliance_chainlink'"
        )
        after = cursor.fetchone()
    assert after[0] == before[0], "a link scanned the link table"
    assert after[1] - before[1] >= 30


def test_the_application_role_cannot_rewrite_the_audit_trail_even_around_the_triggers(rm):
    """Production runs as a role that does not own the tables (manage.py grant_app_role):
    it appends to the audit trail, and cannot change it, grant itself the right, or switch
    the triggers off."""
    with connection.cursor() as cursor:
        cursor.execute("DROP ROLE IF EXISTS bankcrm_app_test")
        cursor.execute("CREATE ROLE bankcrm_app_test NOLOGIN")
    try:
        call_command("grant_app_role", "bankcrm_app_test", stdout=io.StringIO())
        with connection.cursor() as cursor:
            cursor.execute("SET ROLE bankcrm_app_test")
            try:
                row = log_read(rm, 1)  # appending works, and is linked at commit
                link_now()
                # The access-anomaly check notes the read and counts the rules as this role.
                assert anomalies.rules_passed(rm, row) == {}
                # Not the owner: PostgreSQL grants nothing (a warning, no error).
                cursor.execute("GRANT UPDATE, DELETE ON bankcrm_accesslog TO bankcrm_app_test")
                refused = [
                    "UPDATE bankcrm_accesslog SET reason = 'covered up'",
                    "DELETE FROM compliance_datachange",
                    "TRUNCATE bankcrm_securityevent",
                    "UPDATE compliance_chainlink SET row_hash = ''",
                    "ALTER TABLE bankcrm_accesslog DISABLE TRIGGER ALL",
                    "SET session_replication_role = replica",
                ]
                for statement in refused:
                    with (
                        pytest.raises(
                            DatabaseError, match=r"permission denied|must be owner|privileges"
                        ),
                        transaction.atomic(),
                    ):
                        cursor.execute(statement)
                rm.first_name = "改名"
                rm.save(update_fields=["first_name"])  # other tables: written as usual
                link_now()  # its data change is linked under this role too
            finally:
                cursor.execute("RESET ROLE")
        assert AccessLog.objects.filter(pk=row.pk, reason="").exists()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP OWNED BY bankcrm_app_test")
            cursor.execute("DROP ROLE bankcrm_app_test")

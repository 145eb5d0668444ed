"""A real Celery worker process on the real Redis broker runs tasks against the test DB."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from bankcrm.models import Heartbeat
from bankcrm.tasks import record_heartbeat

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def celery_worker(tmp_path):
    """Start `celery worker` as its own process, pointed at the test database; it sends
    messages with the file provider into tmp_path/outbox."""
    yield from _worker(tmp_path, ["--pool", "solo"])


@pytest.fixture
def celery_prefork_worker(tmp_path):
    """The same with the pool production runs (child processes), where Celery's Django
    fix-up also closes the connection pool before every task."""
    yield from _worker(tmp_path, ["--pool", "prefork", "--concurrency", "1"])


def _worker(tmp_path, pool_options):
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bankcrm.settings_test",
        "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "SERVICE_SMS_PROVIDER": "file",
        "SERVICE_EMAIL_PROVIDER": "file",
        "SERVICE_NOTIFY_FILE_DIR": str(tmp_path / "outbox"),
    }
    # A private queue so a `make run` worker on the same Redis cannot take our tasks.
    queue = f"test-{os.getpid()}-{time.monotonic_ns()}"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "bankcrm", "worker",
            *pool_options, "--queues", queue, "--loglevel", "WARNING",
            "--without-heartbeat", "--without-gossip", "--without-mingle",
            "--hostname", f"{queue}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield queue
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        if process.returncode not in (0, -15):
            print(output.decode(errors="replace"))


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_worker_runs_the_heartbeat_task(celery_worker):
    assert not Heartbeat.objects.exists()
    record_heartbeat.apply_async(queue=celery_worker)
    assert wait_for(lambda: Heartbeat.objects.filter(name="worker").exists()), (
        "the worker did not run the task within 30 s"
    )


def test_health_sees_the_running_worker(client, celery_worker):
    assert wait_for(lambda: client.get("/health/").json()["checks"]["worker"] == "ok")


def test_import_is_checked_and_committed_by_the_worker(client, celery_worker, settings):
    """Upload → on commit the task goes to Redis → the worker checks the file → commit →
    the worker writes the customers; a repeated message changes nothing."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from bankcrm.celery import app
    from customers.models import Customer, ImportBatch
    from customers.tasks import commit_import
    from tests import factories

    branch = factories.branch("SH001")
    manager = factories.user("branch_manager", branch=branch)
    client.force_login(manager)
    app.conf.task_default_queue = celery_worker
    try:
        content = "cif,name,branch_code\nW0001,王工作,SH001\nW0002,李工作,SH001\n"
        response = client.post(
            "/customers/imports/",
            {"kind": "customers", "file": SimpleUploadedFile("w.csv", content.encode())},
        )
        assert response.status_code == 302
        batch = ImportBatch.objects.get()
        assert wait_for(lambda: ImportBatch.objects.get().status == "ready")
        assert client.post(f"/customers/imports/{batch.pk}/commit/").status_code == 302
        assert wait_for(lambda: ImportBatch.objects.get().status == "done")
        assert set(Customer.objects.values_list("cif", flat=True)) == {"W0001", "W0002"}
        commit_import.apply_async((batch.pk,), queue=celery_worker)  # a duplicate delivery
        time.sleep(1)
        batch.refresh_from_db()
        assert (batch.created_count, Customer.objects.count()) == (2, 2)
    finally:
        app.conf.task_default_queue = "celery"


def test_pushed_events_are_applied_by_the_worker_and_a_lost_kick_waits_for_the_sweep(
    client, celery_worker, monkeypatch
):
    """API → inbox → on commit a kick goes to Redis → the worker applies the events. With the
    broker unreachable the API still answers 202; the events wait and the sweep applies them."""
    import json

    from bankcrm import outbox
    from bankcrm.celery import app
    from customers import tasks
    from customers.ingest import signing
    from customers.ingest.services import INBOX_DOORBELL
    from customers.models import ExternalIdentity, Interaction
    from customers.models.integration import InboxEvent, IntegrationSource
    from tests import factories

    branch = factories.branch("SH001")
    customer = factories.customer(branch=branch)
    ExternalIdentity.objects.create(source="app", external_id="U1", customer=customer)
    source = IntegrationSource.objects.create(code="app", name="App", kind="app")

    def push(seq):
        data = {"customer_ref": "U1", "action": "login"}
        body = json.dumps(
            {"event_id": f"a{seq}", "sequence": seq, "type": "app.activity",
             "occurred_at": "2026-11-23T09:00:00", "data": data}
        ).encode()  # fmt: skip
        headers = signing.headers(source.secret, "app", body)
        response = client.post(
            "/api/v1/events", body, content_type="application/json", headers=headers
        )
        assert response.status_code == 202

    app.conf.task_default_queue = celery_worker
    try:
        INBOX_DOORBELL.reset()
        push(1)
        assert wait_for(lambda: InboxEvent.objects.filter(status="applied").count() == 1)
        time.sleep(tasks.IDLE_LINGER + 0.5)  # the worker has looked once more and stopped

        # The broker "goes away": kicks fail, the API keeps answering.
        def unreachable():
            raise ConnectionError("redis down")

        with monkeypatch.context() as patch:
            patch.setattr(outbox, "_redis", unreachable)
            push(2)
            push(3)
        time.sleep(1)
        assert InboxEvent.objects.filter(status="pending").count() == 2
        tasks.sweep_inbox.apply_async(queue=celery_worker)  # beat, after recovery
        assert wait_for(lambda: InboxEvent.objects.filter(status="applied").count() == 3)
        assert Interaction.objects.filter(customer=customer, channel="app").count() == 3
    finally:
        app.conf.task_default_queue = "celery"


def test_customer_messages_wait_out_a_broker_outage_and_go_out_once(
    client, celery_worker, tmp_path, monkeypatch
):
    """A ticket opened and answered while Redis is unreachable: both are saved, the
    messages wait in the outbox; after recovery beat's run hands them to the worker, which
    sends each once (a second run sends nothing)."""
    from bankcrm.celery import app
    from bankcrm.roles import Role
    from service import tasks
    from service.models import BusinessCalendar, Notification, Queue, Ticket
    from tests import factories

    branch = factories.branch("SH001")
    agent = factories.user(Role.SERVICE_AGENT, branch=branch)
    customer = factories.customer(branch=branch, mobile="+8613911112222")
    calendar = BusinessCalendar.objects.create(name="无工作时间")
    Queue.objects.create(code="general", name="综合", calendar=calendar, is_default=True)
    Queue.objects.get().members.add(agent)
    client.force_login(agent)
    app.conf.task_default_queue = celery_worker
    try:

        def unreachable(*args, **kwargs):
            raise ConnectionError("redis down")

        with monkeypatch.context() as patch:
            patch.setattr(tasks.send_notifications, "delay", unreachable)
            response = client.post(
                "/service/tickets/new/",
                {"customer_ref": customer.cif, "subject": "咨询", "channel": "phone",
                 "category": "enquiry"},
            )  # fmt: skip
            assert response.status_code == 302
            ticket = Ticket.objects.get()
            client.post(f"/service/tickets/{ticket.pk}/reply/", {"body": "您好，正在处理"})
        time.sleep(1)
        assert Notification.objects.filter(status="pending").count() == 2
        tasks.send_notifications.apply_async(queue=celery_worker)  # beat, after recovery
        assert wait_for(lambda: Notification.objects.filter(status="sent").count() == 2)
        tasks.send_notifications.apply_async(queue=celery_worker)  # and again
        time.sleep(1)
        files = sorted((tmp_path / "outbox").glob("*.json"))
        assert len(files) == 2
        assert Notification.objects.filter(status="sent", attempts=1).count() == 2
    finally:
        app.conf.task_default_queue = "celery"


def test_a_tasks_changes_are_recorded_as_the_tasks(celery_prefork_worker, desk, agent, customer):
    """Celery's Django fix-up closes the database connection before each task, after the
    task's audit context was set: the SLA sweep's escalations were recorded as nobody's.
    The context now follows Django's connection onto whichever session it opens."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from compliance.models import DataChange
    from service import services
    from service.tasks import sweep_sla

    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        ticket = services.ticket_open(actor=agent, customer=customer, subject="卡被盗刷",
                                      channel="phone", priority="P1")  # fmt: skip
    sweep_sla.apply_async(queue=celery_prefork_worker)
    escalated = DataChange.objects.filter(
        table_name="service_ticket",
        row_pk=str(ticket.pk),
        op="U",
        changes__has_key="escalation_level",
    )
    assert wait_for(escalated.exists), "the worker did not escalate the ticket within 30 s"
    assert {row.actor_label for row in escalated} == {"task:service.tasks.sweep_sla"}

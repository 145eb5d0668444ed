"""The core outbox (bankcrm/outbox.py) on both of its tables, customer and staff
notifications and outbound webhook deliveries: claimed under a lease with the attempt
counted, settled only by the claim that took the row, backed off, given up, never sent by two
dispatchers; and the helpers that ask a worker once a transaction commits."""

import contextlib
import itertools
import logging
import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from bankcrm import outbox
from bankcrm.audit import SYSTEM
from bankcrm.outbox import NO_OUTCOME, Doorbell, SendError, enqueue_on_commit
from bankcrm.tasks import record_heartbeat
from customers.ingest import outbound
from customers.models.integration import OutboundDelivery, OutboundEvent, Subscriber
from customers.tasks import validate_import
from service import notify
from service.models import Notification
from tests import factories
from tests.concurrency import in_threads

pytestmark = pytest.mark.django_db


class Table:
    """One outbox table: its Outbox and a way to write n due rows."""

    def __init__(self, box: outbox.Outbox, make):
        self.outbox, self.make = box, make

    def rows(self):
        return self.outbox.model.objects.order_by("pk")


def _notifications(branch):
    customer = factories.customer(branch=branch)

    def make(n):
        Notification.objects.bulk_create(
            Notification(key=f"test:{uuid.uuid4()}", channel="sms", customer=customer, body="您好")
            for _ in range(n)
        )

    return Table(notify.NOTIFICATIONS, make)


def _deliveries(branch):
    subscriber = Subscriber.objects.create(
        code="marketing", name="Marketing", url="https://marketing.example.cn/events",
        event_types=["customer.tier_changed"],
    )  # fmt: skip

    def make(n):
        events = OutboundEvent.objects.bulk_create(
            OutboundEvent(event_type="customer.tier_changed", payload={}) for _ in range(n)
        )
        OutboundDelivery.objects.bulk_create(
            OutboundDelivery(event=event, subscriber=subscriber) for event in events
        )

    return Table(outbound.DELIVERIES, make)


@pytest.fixture(params=["notifications", "deliveries"])
def table(request, branch):
    return {"notifications": _notifications, "deliveries": _deliveries}[request.param](branch)


@pytest.fixture
def sent(table, monkeypatch):
    """The table's sender replaced by one that keeps the keys it was given (and succeeds)."""
    keys = []
    lock = threading.Lock()

    def send(row, key):
        with lock:
            keys.append(key)

    monkeypatch.setattr(table.outbox, "send", send)
    return keys


def lease_runs_out(table):
    table.rows().filter(status="pending").update(next_attempt_at=timezone.now())


def test_a_claim_leases_due_rows_and_counts_their_attempt(table):
    table.make(3)
    before = timezone.now()
    first = table.outbox.claim(limit=2)
    assert [r.attempts for r in first.rows] == [1, 1] and first.given_up == 0
    leased = table.rows().filter(pk__in=[r.pk for r in first.rows])
    assert {(r.attempts, r.next_attempt_at) for r in leased} == {(1, first.rows[0].next_attempt_at)}
    assert first.rows[0].next_attempt_at >= before + table.outbox.lease
    assert first.send_by == first.rows[0].next_attempt_at - table.outbox.send_timeout

    second = table.outbox.claim(limit=2)
    assert len(second.rows) == 1  # the third row; the first two are leased
    assert table.outbox.claim(limit=2).rows == []
    lease_runs_out(table)
    assert sorted(r.attempts for r in table.outbox.claim(limit=5).rows) == [2, 2, 2]


def test_only_the_claim_that_took_a_row_settles_it(table):
    """A dispatcher whose lease ran out while it was sending must not overwrite what the
    claim that took the row over did."""
    table.make(1)
    (slow,) = table.outbox.claim(limit=1).rows
    lease_runs_out(table)
    (taken_over,) = table.outbox.claim(limit=1).rows
    assert taken_over.attempts == 2

    assert table.outbox.finish(slow, table.outbox.done) is False
    assert table.outbox.retry(slow, error="late") is False
    row = table.rows().get()
    assert (row.status, row.attempts, row.next_attempt_at) == (
        "pending", 2, taken_over.next_attempt_at,
    )  # fmt: skip
    assert table.outbox.finish(taken_over, table.outbox.done) is True
    assert table.rows().get().status == table.outbox.done


def test_an_admin_requeue_during_a_send_is_not_undone(table, admin_user, monkeypatch):
    """The slow send of a row's last attempt: meanwhile its lease ran out, the next claim
    gave it up, an admin sent it again and a dispatcher claimed it afresh. The slow send's
    answer arrives last and must change nothing."""
    table.make(1)
    box = table.outbox
    table.rows().update(attempts=box.max_attempts - 1)

    def requeue(pk):
        if box is notify.NOTIFICATIONS:
            return notify.notifications_retry(ids=[pk], actor=admin_user, context=SYSTEM)
        return outbound.outbound_retry(delivery_ids=[pk], actor=admin_user, context=SYSTEM)

    def slow_send(row, key):
        lease_runs_out(table)
        assert box.dispatch() == {**box.outcomes(), box.given_up: 1}  # given up at claim
        assert table.rows().get().last_error == NO_OUTCOME[: box.error_length]
        assert requeue(row.pk) == 1  # the admin's "send again": attempts back to 0
        (again,) = box.claim(limit=1).rows
        assert again.attempts == 1
        return {}

    monkeypatch.setattr(box, "send", slow_send)
    assert box.dispatch()[box.done] == 1  # it did send, but the row is another claim's now
    row = table.rows().get()
    assert (row.status, row.attempts) == ("pending", 1)


def test_failures_back_off_then_the_last_attempt_gives_up(table, monkeypatch):
    table.make(1)
    box = table.outbox

    def refuse(row, key):
        raise SendError("gateway 503")

    monkeypatch.setattr(box, "send", refuse)
    waits = []
    for attempt in range(1, box.max_attempts + 1):
        started = timezone.now()
        counts = box.dispatch()
        row = table.rows().get()
        assert (row.attempts, row.last_error) == (attempt, "gateway 503")
        if attempt < box.max_attempts:
            assert counts == {**box.outcomes(), "retry": 1} and row.status == "pending"
            waits.append((row.next_attempt_at - started).total_seconds())
            lease_runs_out(table)
        else:
            assert counts == {**box.outcomes(), box.given_up: 1} and row.status == box.given_up
    assert 24 <= waits[0] <= 37 and 48 <= waits[1] <= 73  # 30 s, 1 min, ±20%
    # Doubling until the 1 h cap (the seventh wait is 32 min); jitter never undoes it.
    assert all(later > earlier * 1.3 for earlier, later in itertools.pairwise(waits[:7]))
    assert box.dispatch() == box.outcomes()  # nothing more


def test_a_row_that_kills_its_worker_is_given_up_after_its_attempts(table, monkeypatch):
    """Attempts are counted at claim: a message whose sending kills the worker (memory,
    a crashing library) is not sent forever."""
    table.make(1)
    box = table.outbox
    calls = []

    def kill(row, key):
        calls.append(key)
        raise SystemExit("worker killed")

    monkeypatch.setattr(box, "send", kill)
    for _ in range(box.max_attempts):
        with pytest.raises(SystemExit):
            box.dispatch()
        lease_runs_out(table)
    assert len(calls) == box.max_attempts
    assert box.dispatch() == {**box.outcomes(), box.given_up: 1}
    assert len(calls) == box.max_attempts  # not sent again
    row = table.rows().get()
    assert (row.status, row.attempts) == (box.given_up, box.max_attempts)
    assert row.last_error == NO_OUTCOME[: box.error_length]


def test_rows_a_claim_had_no_time_for_go_back_with_their_attempt(table, sent, monkeypatch):
    """A claim sends only while its lease outlasts one more send: once the first send took
    the time up, the rest go back at once instead of waiting out the lease."""
    table.make(3)
    with time_machine.travel(timezone.now(), tick=True) as clock:
        send = table.outbox.send

        def slow(row, key):
            send(row, key)
            clock.shift(table.outbox.lease)

        monkeypatch.setattr(table.outbox, "send", slow)
        assert table.outbox.dispatch(limit=3) == {**table.outbox.outcomes(), table.outbox.done: 1}
        waiting = table.rows().filter(status="pending")
        assert [(r.attempts, r.next_attempt_at <= timezone.now()) for r in waiting] == [
            (0, True),
            (0, True),
        ]
    assert len(sent) == 1


def test_a_sender_that_says_a_row_cannot_be_sent_is_not_retried(table, monkeypatch):
    table.make(1)
    box = table.outbox

    def nobody(row, key):
        raise outbox.UnsendableError

    monkeypatch.setattr(box, "send", nobody)
    settled = box.skipped or box.given_up
    assert box.dispatch() == {**box.outcomes(), settled: 1}
    assert table.rows().get().status == settled


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatchers_never_send_a_row_twice(table, sent):
    table.make(40)

    def work():
        while sum(table.outbox.dispatch(limit=3).values()):
            pass

    assert in_threads(work, 4) == []
    assert table.rows().filter(status=table.outbox.done).count() == 40
    assert len(sent) == 40 and max(Counter(sent).values()) == 1


def test_the_key_is_the_rows_own_on_every_attempt(table, sent):
    table.make(1)
    table.outbox.dispatch()
    row = table.rows().get()
    expected = row.key if isinstance(row, Notification) else str(row.event.event_id)
    assert sent == [expected]


def test_a_worker_killed_after_sending_sends_again_under_the_same_key(table, sent, monkeypatch):
    table.make(1)

    def crash(*args, **kwargs):
        raise SystemExit("killed between the send and its record")

    monkeypatch.setattr(table.outbox, "finish", crash)
    with pytest.raises(SystemExit):
        table.outbox.dispatch()
    monkeypatch.undo()
    monkeypatch.setattr(table.outbox, "send", lambda row, key: sent.append(key))
    assert table.outbox.dispatch() == table.outbox.outcomes()  # leased
    lease_runs_out(table)
    assert table.outbox.dispatch()[table.outbox.done] == 1
    assert len(sent) == 2 and len(set(sent)) == 1
    assert table.rows().get().attempts == 2


def test_an_outbox_refuses_a_lease_a_send_could_outlast():
    with pytest.raises(ValueError, match="lease"):
        outbox.Outbox(
            name="x", model=Notification, send=print, key=str, done="sent", given_up="failed",
            max_attempts=3, lease=timedelta(seconds=10), send_timeout=timedelta(seconds=10),
        )  # fmt: skip


# ---- enqueue_on_commit and the doorbell ----------------------------------------------------


@pytest.fixture
def delays(monkeypatch):
    """Every task's messages, as (task name, args), instead of going to the broker."""
    sent = []
    for task in (record_heartbeat, validate_import):
        monkeypatch.setattr(task, "delay", lambda *args, name=task.name: sent.append((name, args)))
    return sent


def test_a_task_is_sent_once_the_transaction_commits_and_not_on_rollback(
    delays, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            enqueue_on_commit("customers.tasks.validate_import", 41)
            assert delays == []  # not before the commit
        with contextlib.suppress(RuntimeError), transaction.atomic():
            enqueue_on_commit("customers.tasks.validate_import", 42)
            raise RuntimeError("rolled back")
    assert delays == [("customers.tasks.validate_import", (41,))]


def test_a_broker_outage_is_logged_and_the_transaction_stands(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def down(*args):
        raise ConnectionError("redis down")

    monkeypatch.setattr(record_heartbeat, "delay", down)
    with (
        caplog.at_level(logging.WARNING, logger="bankcrm.outbox"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        enqueue_on_commit("bankcrm.tasks.record_heartbeat")
    (record,) = [r for r in caplog.records if r.msg == "task.enqueue_failed"]
    assert record.task == "bankcrm.tasks.record_heartbeat" and record.exc_info


def test_a_name_no_task_has_fails_where_it_is_written():
    with pytest.raises(LookupError, match=r"service\.tasks\.send_notification\b"):
        enqueue_on_commit("service.tasks.send_notification")


@pytest.fixture
def doorbell():
    bell = Doorbell("bankcrm.tasks.record_heartbeat", key=f"test:doorbell:{uuid.uuid4()}")
    bell.local_window = 0  # every ring asks Redis, as rings from many processes would
    yield bell
    bell.reset()


def test_a_doorbell_sends_one_message_for_many_rings_until_reset(doorbell, delays):
    for _ in range(100):
        doorbell.ring()
    assert delays == [("bankcrm.tasks.record_heartbeat", ())]
    doorbell.reset()  # the worker found the table empty
    doorbell.ring()
    assert len(delays) == 2


def test_a_process_that_just_rang_does_not_ask_redis(doorbell, delays, monkeypatch):
    doorbell.local_window = 60
    doorbell.ring()
    with monkeypatch.context() as patch:
        patch.setattr(outbox, "_redis", lambda: pytest.fail("Redis asked again"))
        doorbell.ring()
    assert len(delays) == 1


def test_a_doorbell_rings_on_commit_and_without_redis_logs(
    doorbell, delays, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        doorbell.ring_on_commit()
        assert delays == []
    assert len(delays) == 1

    def unreachable():
        raise ConnectionError("redis down")

    with (
        monkeypatch.context() as patch,
        caplog.at_level(logging.WARNING, logger="bankcrm.outbox"),
    ):
        patch.setattr(outbox, "_redis", unreachable)
        doorbell.ring()
    assert len(delays) == 1
    assert [r.msg for r in caplog.records] == ["task.doorbell_failed"]

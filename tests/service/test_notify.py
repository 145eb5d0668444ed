"""The notification outbox: providers, retries, and nothing sent twice."""

import json
import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from service import notify, services
from service.models import Notification
from service.notify import FileProvider, ProviderError

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox_dir(settings, tmp_path):
    settings.SERVICE_NOTIFY_PROVIDERS = {"sms": "file", "email": "file"}
    settings.SERVICE_NOTIFY_FILE_DIR = str(tmp_path)
    return tmp_path


def test_messages_go_out_once_with_the_address_read_at_sending(desk, agent, customer, outbox_dir):
    ticket = services.ticket_open(actor=agent, customer=customer, subject="咨询", channel="phone")
    row = Notification.objects.get(ticket=ticket)
    assert customer.mobile not in json.dumps(list(Notification.objects.values()), default=str)
    assert notify.dispatch()["sent"] == 1
    written = json.loads((outbox_dir / f"ticket_{ticket.pk}_opened.json").read_text())
    assert written["to"] == customer.mobile and ticket.number in written["text"]
    row.refresh_from_db()
    assert row.status == "sent" and row.provider == "file" and row.attempts == 1
    assert notify.dispatch() == {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}


def test_a_worker_that_dies_after_sending_resends_under_the_same_key(
    desk, agent, customer, outbox_dir, monkeypatch
):
    services.ticket_open(actor=agent, customer=customer, subject="咨询", channel="phone")

    def crash(*args, **kwargs):
        raise SystemExit("worker killed after the provider took the message")

    monkeypatch.setattr(notify.NOTIFICATIONS, "finish", crash)
    with pytest.raises(SystemExit):
        notify.dispatch()
    monkeypatch.undo()
    assert notify.dispatch()["sent"] == 0  # the lease holds it for two minutes
    Notification.objects.update(next_attempt_at=timezone.now())  # the lease runs out
    assert notify.dispatch()["sent"] == 1
    assert len(list(outbox_dir.glob("*.json"))) == 1  # the same file, written again


def test_failures_back_off_then_give_up(desk, agent, customer, settings, monkeypatch):
    settings.SERVICE_NOTIFY_PROVIDERS = {"sms": "file", "email": "file"}

    def refuse(self, notification, address):
        raise ProviderError("gateway 503")

    monkeypatch.setattr(FileProvider, "send", refuse)
    services.ticket_open(actor=agent, customer=customer, subject="咨询", channel="phone")
    for attempt in range(1, notify.MAX_ATTEMPTS + 1):
        counts = notify.dispatch()
        row = Notification.objects.get()
        if attempt < notify.MAX_ATTEMPTS:
            assert counts["retry"] == 1 and row.status == "pending"
            assert row.next_attempt_at > timezone.now() + timedelta(seconds=20)
            assert row.last_error == "ProviderError: gateway 503"
            Notification.objects.update(next_attempt_at=timezone.now())
        else:
            assert counts["failed"] == 1 and row.status == "failed"


def test_no_address_is_skipped_not_retried(desk, agent, branch, outbox_dir):
    from tests import factories

    nobody = factories.customer(branch=branch, mobile=None)
    services.ticket_open(actor=agent, customer=nobody, subject="咨询", channel="branch")
    assert notify.dispatch()["skipped"] == 1
    assert Notification.objects.get().status == "skipped"


def test_smtp_mail_carries_a_message_id_from_the_key(desk, agent, customer, settings):
    settings.SERVICE_NOTIFY_PROVIDERS = {"sms": "console", "email": "smtp"}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ticket = services.ticket_open(actor=agent, customer=customer, subject="咨询", channel="email")
    assert notify.dispatch()["sent"] == 1
    (message,) = mail.outbox
    assert message.to == ["li.na@example.cn"] and ticket.number in message.subject
    assert f"ticket:{ticket.pk}:opened" in message.extra_headers["Message-ID"]


def test_the_console_provider_logs_the_address_masked(desk, agent, customer, settings, caplog):
    settings.SERVICE_NOTIFY_PROVIDERS = {"sms": "console", "email": "console"}
    services.ticket_open(actor=agent, customer=customer, subject="咨询", channel="phone")
    with caplog.at_level(logging.INFO, logger="service.notify"):
        notify.dispatch()
    (record,) = [r for r in caplog.records if r.msg.startswith("notification.sent")]
    assert record.to == customer.mobile_masked and customer.mobile not in caplog.text
    assert customer.mobile_masked in record.getMessage()
    assert "李娜" not in record.getMessage()  # the text only with DEBUG on


def test_a_redis_outage_loses_no_ticket_and_no_message(
    desk, agent, customer, outbox_dir, monkeypatch, django_capture_on_commit_callbacks
):
    from service import tasks

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(tasks.send_notifications, "delay", down)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.ticket_open(
            actor=agent, customer=customer, subject="咨询", channel="phone"
        )
        services.ticket_reply(actor=agent, ticket=ticket, body="正在处理")
    assert Notification.objects.filter(status="pending").count() == 2
    # Beat's next run after recovery:
    assert tasks.send_notifications() == 2
    assert tasks.send_notifications() == 0
    assert len(list(outbox_dir.glob("*.json"))) == 2


def test_an_admin_sends_given_up_messages_again_with_an_audit_row(
    client, login, admin_user, desk, agent, customer
):
    from compliance.models import DataChange

    services.ticket_open(actor=agent, customer=customer, subject="咨询", channel="phone")
    row = Notification.objects.get()
    Notification.objects.update(status="failed", attempts=8)
    login(admin_user)
    response = client.post(
        "/admin/service/notification/",
        {"action": "send_again", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 0)
    entry = DataChange.objects.get(
        row_pk=str(row.pk), table_name="service_notification", actor_id=admin_user.pk
    )
    assert entry.changes["status"] == ["failed", "pending"]
    assert row.body not in str(entry.changes)
    assert (entry.actor_label, entry.customer_id) == ("web", customer.pk)

"""Sending the notification outbox through providers.

Rows are written in the transaction that decides a message goes out (service/services.py,
service/sla.py), which then asks for service.tasks.send_notifications on commit. The core
outbox (bankcrm/outbox.py) claims due rows with SKIP LOCKED under a 2-minute lease, sends
each through the channel's provider and marks it sent; if a worker dies in between, the row
is taken again when its lease runs out and sent with the same key, which the file provider
keeps once and SMTP carries as the Message-ID. A failure is retried with back-off, the
eighth attempt gives up. Addresses are read from the customer or the user at sending time
and never stored in the row; logs show them masked.
"""

import json
import logging
from datetime import timedelta
from email.utils import make_msgid
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string

from bankcrm import masking
from bankcrm.audit import AuditContext
from bankcrm.outbox import Outbox, UnsendableError
from service.models import Notification

logger = logging.getLogger(__name__)
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8


class ProviderError(Exception):
    """The provider refused or could not be reached; the message is tried again later."""


class Provider:
    name = "base"

    def send(self, notification: Notification, address: str) -> None:
        raise NotImplementedError


class ConsoleProvider(Provider):
    """Writes each message to the log, for development and demos: the address masked, and
    the text (which names the customer) only with DEBUG on, so a production that was left
    on this provider does not put customers' messages in its logs."""

    name = "console"

    def send(self, notification: Notification, address: str) -> None:
        shown = (
            masking.mask_mobile(address)
            if notification.channel == Notification.Channel.SMS
            else masking.mask_email(address)
        )
        text = notification.body if settings.DEBUG else "(text shown only with DEBUG on)"
        logger.info(
            "notification.sent %s %s to %s: %s",
            notification.key,
            notification.channel,
            shown,
            text,
            extra={"key": notification.key, "channel": notification.channel, "to": shown},
        )


class FileProvider(Provider):
    """One JSON file per message, named by its key: sending again overwrites, so a message
    exists once however often it is sent. For tests and for a gateway that polls a folder."""

    name = "file"

    def __init__(self, directory: str | None = None):
        self.directory = Path(directory or settings.SERVICE_NOTIFY_FILE_DIR)

    def send(self, notification: Notification, address: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = notification.key.replace(":", "_").replace("/", "_") + ".json"
        target = self.directory / name
        tmp = target.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "key": notification.key,
                    "channel": notification.channel,
                    "to": address,
                    "subject": notification.subject,
                    "text": notification.body,
                    "created_at": notification.created_at.isoformat(),
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
        tmp.replace(target)


class SmtpProvider(Provider):
    """E-mail through Django's mail settings (EMAIL_HOST …); the Message-ID is derived from
    the key, so a receiving system can drop a second copy."""

    name = "smtp"

    def send(self, notification: Notification, address: str) -> None:
        domain = settings.SERVICE_EMAIL_DOMAIN
        message = EmailMessage(
            subject=notification.subject or notification.body[:60],
            body=notification.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            headers={"Message-ID": make_msgid(idstring=notification.key, domain=domain)},
        )
        try:
            message.send(fail_silently=False)
        except Exception as exc:
            raise ProviderError(f"{type(exc).__name__}: {exc}") from exc


PROVIDERS = {"console": ConsoleProvider, "file": FileProvider, "smtp": SmtpProvider}


def provider_for(channel: str) -> Provider:
    name = settings.SERVICE_NOTIFY_PROVIDERS[channel]
    cls = PROVIDERS.get(name) or import_string(name)
    return cls()


def _address(notification: Notification) -> str | None:
    if notification.user_id is not None:
        user = notification.user
        return user.email or None if notification.channel == Notification.Channel.EMAIL else None
    customer = notification.customer
    if notification.channel == Notification.Channel.SMS:
        return customer.mobile or None
    return customer.email or None


def _send(notification: Notification, key: str) -> dict:
    """One message through its channel's provider, which carries `key` (the row's own key):
    the file provider names its file by it, SMTP derives the Message-ID from it."""
    address = _address(notification)
    if not address:
        raise UnsendableError
    provider = provider_for(notification.channel)
    provider.send(notification, address)
    return {"provider": provider.name}


NOTIFICATIONS = Outbox(
    name="notification",
    model=Notification,
    send=_send,
    key=lambda notification: notification.key,
    done=Notification.Status.SENT,
    given_up=Notification.Status.FAILED,
    skipped=Notification.Status.SKIPPED,
    max_attempts=MAX_ATTEMPTS,
    lease=LEASE,
    send_timeout=timedelta(seconds=settings.EMAIL_TIMEOUT),
    done_at="sent_at",
    related=("customer", "user"),
)


def dispatch(*, limit: int = 200) -> dict[str, int]:
    """Send what is due (one claimed batch); returns counts by outcome."""
    return NOTIFICATIONS.dispatch(limit=limit)


def dispatch_all(*, limit: int = 200, max_rounds: int = 50) -> int:
    """Send until nothing is due; returns how many were sent."""
    return NOTIFICATIONS.dispatch_all(limit=limit, max_rounds=max_rounds)["sent"]


def notifications_retry(*, ids, actor, context: AuditContext) -> int:
    """Given-up messages back in the outbox (an admin's "send again"); the data-change
    trail records each one put back (status before and after, never the text) with who
    did it."""
    return NOTIFICATIONS.requeue(ids, actor=actor, context=context)

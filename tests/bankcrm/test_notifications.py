"""Staff notifications: notify_staff writes one message per recipient (once per dedupe
key), the navigation bar counts the unread ones without a query (a trigger keeps the count
on the user row, whatever writes the messages), and the inbox marks read only the user's
own messages."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bankcrm.models import SecurityEvent, StaffNotification, User
from bankcrm.services import notifications_mark_read, notify_staff

pytestmark = pytest.mark.django_db


def unread(user) -> int:
    return User.objects.get(pk=user.pk).unread_notifications


def test_one_message_per_recipient_and_once_per_dedupe_key(rm, branch_manager):
    sent = notify_staff(
        recipients=[rm, branch_manager.pk, rm, None], kind="risk_warning", title="新预警",
        body="客户李娜：被执行人", link="/customers/1/", dedupe_key="risk-warning:1:opened",
    )  # fmt: skip
    assert sent == 2
    # The same key again (a replayed event, a task run twice) tells nobody twice.
    again = notify_staff(
        recipients=[rm, branch_manager], kind="risk_warning", title="新预警",
        dedupe_key="risk-warning:1:opened",
    )  # fmt: skip
    assert again == 0
    # Without a key every call is a message.
    assert notify_staff(recipients=[rm], kind="report", title="月报已生成") == 1
    assert StaffNotification.objects.filter(recipient=rm).count() == 2
    assert (unread(rm), unread(branch_manager)) == (2, 1)


def test_the_unread_count_follows_every_write_of_the_messages(rm, other_rm):
    notify_staff(recipients=[rm, other_rm], kind="report", title="一")
    notify_staff(recipients=[rm], kind="report", title="二")
    notify_staff(recipients=[rm], kind="report", title="三")
    assert (unread(rm), unread(other_rm)) == (3, 1)
    first = StaffNotification.objects.filter(recipient=rm).order_by("pk").first()
    assert notifications_mark_read(user=rm, ids=[first.pk]) == 1
    assert notifications_mark_read(user=rm, ids=[first.pk]) == 0  # read already
    assert unread(rm) == 2
    # Paths other than the services: SQL, a delete, marking unread again.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE bankcrm_staffnotification SET read_at = NULL WHERE id = %s", [first.pk]
        )
    assert unread(rm) == 3
    StaffNotification.objects.filter(recipient=rm, title="三").delete()
    assert unread(rm) == 2
    assert notifications_mark_read(user=rm) == 2
    assert (unread(rm), unread(other_rm)) == (0, 1)


def test_the_badge_shows_the_count_and_costs_no_query(client, login, rm):
    login(rm)
    with CaptureQueriesContext(connection) as before:
        page = client.get("/")
    assert b'data-testid="unread-count"' not in page.content
    notify_staff(recipients=[rm], kind="report", title="一")
    notify_staff(recipients=[rm], kind="report", title="二")
    with CaptureQueriesContext(connection) as after:
        page = client.get("/")
    assert b'data-testid="unread-count">2</span>' in page.content
    assert len(after) == len(before)


def test_the_inbox_lists_and_marks_only_the_users_own(client, login, rm, other_rm):
    notify_staff(recipients=[rm], kind="risk_warning", title="客户预警", link="/customers/7/")
    notify_staff(recipients=[rm], kind="report", title="月报", link="https://evil.example/")
    notify_staff(recipients=[other_rm], kind="report", title="别人的消息")
    mine = {n.title: n for n in StaffNotification.objects.filter(recipient=rm)}
    theirs = StaffNotification.objects.get(recipient=other_rm)
    login(rm)
    page = client.get("/notifications/").content.decode()
    assert "客户预警" in page and "月报" in page and "别人的消息" not in page
    # Opening one marks it read and follows its link inside the site...
    response = client.post("/notifications/", {"id": mine["客户预警"].pk})
    assert response.status_code == 302 and response["Location"] == "/customers/7/"
    # ...never a link elsewhere.
    response = client.post("/notifications/", {"id": mine["月报"].pk})
    assert response["Location"] == "/notifications/"
    # Someone else's id changes nothing: not found, and the probe is recorded.
    assert client.post("/notifications/", {"id": theirs.pk}).status_code == 404
    refusal = SecurityEvent.objects.get(kind=SecurityEvent.Kind.ACCESS_REFUSED, user=rm)
    assert refusal.detail["object_type"] == "bankcrm.staffnotification"
    assert refusal.detail["object_id"] == str(theirs.pk)
    theirs.refresh_from_db()
    assert theirs.read_at is None and unread(other_rm) == 1
    assert unread(rm) == 0


def test_mark_all_read(client, login, rm):
    for i in range(3):
        notify_staff(recipients=[rm], kind="report", title=f"消息{i}")
    login(rm)
    assert client.post("/notifications/").status_code == 302
    assert unread(rm) == 0
    assert not StaffNotification.objects.filter(recipient=rm, read_at__isnull=True).exists()

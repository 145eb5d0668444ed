"""Campaigns: approval by a second person, prohibited promises, the audience resolved with
every send-time check (a reason for each customer left out), exactly one delivery per
(campaign, step, customer, channel), quiet hours, the frequency cap across campaigns,
opt-out taking effect for every campaign at once. The product and suitability:
test_product_suitability.py."""

import json
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from bankcrm.audit import SYSTEM
from bankcrm.models import AccessLog
from customers.models import Consent, ExternalIdentity, Interaction
from marketing import eligibility, sending, services
from marketing.models import Campaign, Delivery, FrequencyCap, LeftOut, ProhibitedPhrase
from tests import factories
from tests.marketing.conftest import consent, segment, tree

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def file_provider(settings, tmp_path):
    settings.MARKETING_PROVIDERS = dict.fromkeys(["sms", "email", "app", "call"], "file")
    settings.MARKETING_FILE_DIR = str(tmp_path / "out")
    return tmp_path / "out"


def sent_files(directory):
    return sorted(directory.glob("*.json")) if directory.exists() else []


def make_campaign(actor, seg, *, channels=("sms",), text="{name}您好，新客理财上线", **extra):
    texts = {}
    for channel in channels:  # the same text on every channel: these tests are about checks
        texts[(channel, "A", "zh-hans")], texts[(channel, "A", "en")] = text, "Hello {name}"
    draft = services.CampaignDraft(
        name=extra.pop("name", "秋季理财"),
        segment=seg,
        channels=list(channels),
        texts=texts,
        **extra,
    )
    return services.campaign_save(actor=actor, context=SYSTEM, draft=draft)


def approved(campaign, approver):
    services.campaign_submit(actor=campaign.created_by, context=SYSTEM, campaign=campaign)
    services.campaign_approve(actor=approver, context=SYSTEM, campaign=campaign)
    return campaign


def launch(campaign, actor, django_capture_on_commit_callbacks=None):
    return services.campaign_launch(actor=actor, context=SYSTEM, campaign=campaign)


def reasons(campaign):
    return {
        d.customer.cif: d.left_out_reason or d.status
        for d in Delivery.objects.filter(campaign=campaign).select_related("customer")
    }


@pytest.fixture
def people(branch, rm):
    """One customer per check, each failing only that one."""
    c = {}
    c["ok"] = factories.customer(branch=branch, rm=rm, cif="OK1")
    c["never"] = factories.customer(branch=branch, rm=rm, cif="NEVER")
    c["withdrew"] = factories.customer(branch=branch, rm=rm, cif="WITHDREW")
    c["optout"] = factories.customer(branch=branch, rm=rm, cif="OPTOUT")
    c["closed"] = factories.customer(branch=branch, rm=rm, cif="CLOSED", lifecycle="closed")
    c["nomobile"] = factories.customer(branch=branch, rm=rm, cif="NOMOB", mobile=None)
    for key, customer in c.items():
        if key != "never":
            consent(customer)
    consent(c["withdrew"], "sms", granted=False)
    consent(c["optout"], "all", granted=False, source=eligibility.OPT_OUT_SOURCE)
    Consent.objects.filter(customer=c["nomobile"]).update()  # consent yes, no mobile
    c["nomobile"].mobile_index = None
    c["nomobile"].save(update_fields=["mobile_index"])
    return c


def test_each_left_out_customer_keeps_a_row_with_the_reason(people, marketer, second_marketer):
    with time_machine.travel(NOON, tick=False):
        campaign = approved(make_campaign(marketer, segment(marketer, tree())), second_marketer)
        assert launch(campaign, marketer) == 6
    assert reasons(campaign) == {
        "OK1": "pending",
        "NEVER": "no_consent",
        "WITHDREW": "no_consent",
        "OPTOUT": "opted_out",
        "CLOSED": "inactive",
        "NOMOB": "no_address",
    }
    campaign.refresh_from_db()
    assert campaign.status == "sending" and campaign.audience_count == 6
    read = AccessLog.objects.get(object_type="marketing.campaign.audience")
    assert read.actor == marketer and read.detail == {"customers": 6, "deliveries": 6}


def test_exactly_one_row_per_campaign_step_customer_channel(
    people, marketer, second_marketer, file_provider
):
    with time_machine.travel(NOON, tick=False):
        campaign = approved(
            make_campaign(marketer, segment(marketer, tree()), channels=["sms", "email"]),
            second_marketer,
        )
        launch(campaign, marketer)
        assert launch(campaign, marketer) is None  # already sending
        from marketing.audience import resolve_campaign

        assert resolve_campaign(campaign) == 0  # a repeated resolution writes nothing
        assert sending.dispatch_all()["sent"] == 1  # OK1 by SMS; nobody has an e-mail
        assert sending.dispatch_all()["sent"] == 0
    assert Delivery.objects.filter(campaign=campaign).count() == 12
    files = sent_files(file_provider)
    assert len(files) == 1
    message = json.loads(files[0].read_text())
    assert message["to"] == people["ok"].mobile and message["text"].startswith(
        f"{people['ok'].name}您好"
    )
    assert "/o/" in message["text"]  # the opt-out link
    with pytest.raises(IntegrityError), transaction.atomic():
        d = Delivery.objects.filter(campaign=campaign).first()
        Delivery.objects.create(
            campaign=campaign,
            step=d.step,
            customer=d.customer,
            channel=d.channel,
            idempotency_key="other",
        )


def test_approval_needs_a_second_person_and_clean_text(
    branch, rm, marketer, second_marketer, compliance_officer
):
    factories.customer(branch=branch, rm=rm)
    campaign = make_campaign(marketer, segment(marketer, tree()), text="本产品保 本，稳赚不赔")
    with pytest.raises(ValidationError) as refused:
        services.campaign_submit(actor=marketer, context=SYSTEM, campaign=campaign)
    assert "保本" in str(refused.value) and "稳赚" in str(refused.value)

    campaign = make_campaign(marketer, segment(marketer, tree()), name="ok")
    services.campaign_submit(actor=marketer, context=SYSTEM, campaign=campaign)
    with pytest.raises(PermissionDenied):
        services.campaign_approve(actor=marketer, context=SYSTEM, campaign=campaign)
    with pytest.raises(PermissionDenied):
        services.campaign_approve(actor=rm, context=SYSTEM, campaign=campaign)
    # A phrase added to the list after submission stops the approval.
    ProhibitedPhrase.objects.create(phrase="新客理财")
    with pytest.raises(ValidationError):
        services.campaign_approve(actor=compliance_officer, context=SYSTEM, campaign=campaign)
    ProhibitedPhrase.objects.filter(phrase="新客理财").delete()
    assert services.campaign_approve(actor=compliance_officer, context=SYSTEM, campaign=campaign)
    assert not services.campaign_approve(actor=second_marketer, context=SYSTEM, campaign=campaign)
    # and the database refuses a self-approval however it is written
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(approved_by=marketer)


def test_quiet_hours_hold_sms_and_calls_until_eight(people, marketer, second_marketer):
    night = datetime(2026, 11, 23, 22, 30, tzinfo=SHANGHAI)
    with time_machine.travel(night, tick=False):
        campaign = approved(
            make_campaign(marketer, segment(marketer, tree()), channels=["sms", "call"]),
            second_marketer,
        )
        launch(campaign, marketer)
        assert sending.dispatch_all()["sent"] == 0
    # SMS to OK1; calls to everyone consenting to phone calls with an RM (not NEVER,
    # OPTOUT, CLOSED): OK1, WITHDREW (withdrew SMS only) and NOMOB.
    held = Delivery.objects.filter(campaign=campaign, status="pending")
    assert held.count() == 4 and all(d.held for d in held)
    opening = datetime(2026, 11, 24, 8, 0, tzinfo=SHANGHAI)
    assert {d.next_attempt_at for d in held} == {opening}
    with time_machine.travel(opening - timedelta(minutes=1), tick=False):
        assert sending.dispatch_all()["sent"] == 0
    with time_machine.travel(opening + timedelta(seconds=1), tick=False):
        assert sending.dispatch_all()["sent"] == 4
    task = Interaction.objects.get(customer=people["ok"])
    assert task.actor == people["ok"].primary_rm and task.follow_up_on == opening.date()


def test_a_due_retry_at_night_waits_too(people, marketer, second_marketer):
    with time_machine.travel(NOON, tick=False):
        campaign = approved(make_campaign(marketer, segment(marketer, tree())), second_marketer)
        launch(campaign, marketer)
    Delivery.objects.filter(status="pending").update(next_attempt_at=NOON + timedelta(hours=10))
    with time_machine.travel(NOON + timedelta(hours=10, minutes=1), tick=False):
        assert sending.dispatch_all()["sent"] == 0
    assert Delivery.objects.get(status="pending").held


def test_frequency_cap_across_campaigns(people, marketer, second_marketer):
    FrequencyCap.objects.update(max_messages=2, window_days=7)
    seg = segment(marketer, tree())
    results = []
    with time_machine.travel(NOON, tick=False):
        for n in range(3):
            campaign = approved(make_campaign(marketer, seg, name=f"c{n}"), second_marketer)
            launch(campaign, marketer)
            results.append(reasons(campaign)["OK1"])
    assert results == ["pending", "pending", "frequency_cap"]
    with time_machine.travel(NOON + timedelta(days=8), tick=False):
        campaign = approved(make_campaign(marketer, seg, name="later"), second_marketer)
        launch(campaign, marketer)
        assert reasons(campaign)["OK1"] == "pending"


def test_two_channels_of_one_campaign_count_against_the_cap(people, marketer, second_marketer):
    FrequencyCap.objects.update(max_messages=1)
    ExternalIdentity.objects.create(source="app", external_id="U1", customer=people["ok"])
    with time_machine.travel(NOON, tick=False):
        campaign = approved(
            make_campaign(marketer, segment(marketer, tree()), channels=["sms", "app"]),
            second_marketer,
        )
        launch(campaign, marketer)
    rows = Delivery.objects.filter(campaign=campaign, customer=people["ok"])
    assert sorted(rows.values_list("channel", "status")) == [
        ("app", "left_out"),
        ("sms", "pending"),
    ]


def test_opt_out_after_launch_stops_every_campaign_at_once(
    client, people, marketer, second_marketer, file_provider
):
    seg = segment(marketer, tree())
    with time_machine.travel(NOON, tick=False):
        first = approved(make_campaign(marketer, seg, name="one"), second_marketer)
        second = approved(make_campaign(marketer, seg, name="two"), second_marketer)
        launch(first, marketer)
        assert sending.DELIVERIES.dispatch(limit=1)["sent"] == 1  # the first message only
        launch(second, marketer)
    sent = Delivery.objects.get(status="sent")
    token = sending.opt_out_token(sent.pk)
    assert client.get(f"/o/{token}/").status_code == 200  # a page, nothing recorded yet
    assert not Consent.objects.filter(
        source=eligibility.OPT_OUT_SOURCE, customer=people["ok"]
    ).exists()
    assert client.post(f"/o/{token}/").status_code == 200
    withdrawal = Consent.objects.get(customer=people["ok"], source=eligibility.OPT_OUT_SOURCE)
    assert (withdrawal.purpose, withdrawal.channel, withdrawal.granted) == (
        "marketing",
        "all",
        False,
    )
    with time_machine.travel(NOON + timedelta(minutes=5), tick=False):
        sending.dispatch_all()
    assert Delivery.objects.filter(status="sent").count() == 1
    other = Delivery.objects.get(campaign=second, customer=people["ok"])
    assert (other.status, other.left_out_reason) == ("left_out", "opted_out")
    sent.refresh_from_db()
    assert sent.opted_out_at is not None
    assert client.get(f"/o/{token[:-1]}x/").status_code == 404  # a forged token
    assert len(sent_files(file_provider)) == 1


def test_cancel_stops_what_was_not_sent(people, marketer, second_marketer):
    with time_machine.travel(NOON, tick=False):
        campaign = approved(make_campaign(marketer, segment(marketer, tree())), second_marketer)
        launch(campaign, marketer)
        assert services.campaign_cancel(actor=marketer, context=SYSTEM, campaign=campaign)
        assert sending.dispatch_all()["sent"] == 0
    assert reasons(campaign)["OK1"] == LeftOut.CANCELLED


def test_done_when_nothing_is_left(people, marketer, second_marketer):
    with time_machine.travel(NOON, tick=False):
        campaign = approved(make_campaign(marketer, segment(marketer, tree())), second_marketer)
        launch(campaign, marketer)
        assert services.campaigns_finish() == 0
        sending.dispatch_all()
        assert services.campaigns_finish() == 1
    campaign.refresh_from_db()
    assert campaign.status == "done"


def test_a_send_run_with_more_due_asks_for_the_next_and_the_last_does_not(
    branch, rm, marketer, second_marketer, file_provider, monkeypatch
):
    """A large campaign keeps the workers busy: a run that stops at its rounds with more
    due sends one more request to the (real) broker; the run that empties the queue sends
    none."""
    import functools

    import redis
    from django.conf import settings

    from marketing import tasks

    for n in range(3):
        consent(factories.customer(branch=branch, rm=rm, cif=f"MORE{n}"))
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery")
    one_at_a_time = functools.partial(sending.dispatch_all, limit=1, max_rounds=1)
    monkeypatch.setattr(sending, "dispatch_all", one_at_a_time)
    with time_machine.travel(NOON, tick=False):
        campaign = approved(make_campaign(marketer, segment(marketer, tree())), second_marketer)
        launch(campaign, marketer)
        broker.delete("celery")  # the launch's own request
        assert tasks.send_campaigns() == 1
        queued = [json.loads(m)["headers"]["task"] for m in broker.lrange("celery", 0, -1)]
        assert queued == ["marketing.tasks.send_campaigns"]
        assert tasks.send_campaigns() == 1
        assert tasks.send_campaigns() == 1
        assert broker.llen("celery") == 2  # asked after the first and the second run only
    assert Delivery.objects.filter(campaign=campaign, status="sent").count() == 3
    broker.delete("celery")


def test_control_group_and_variants_split_the_eligible(branch, rm, marketer, second_marketer):
    for n in range(200):
        consent(factories.customer(branch=branch, rm=rm, cif=f"S{n:03d}"))
    draft = services.CampaignDraft(
        name="ab",
        segment=segment(marketer, tree()),
        channels=["sms"],
        control_percent=20,
        variants=[("A", 50), ("B", 50)],
        texts={("sms", "A", "zh-hans"): "甲", ("sms", "B", "zh-hans"): "乙"},
    )
    campaign = services.campaign_save(actor=marketer, context=SYSTEM, draft=draft)
    with time_machine.travel(NOON, tick=False):
        launch(approved(campaign, second_marketer), marketer)
    rows = Delivery.objects.filter(campaign=campaign)
    control = rows.filter(status="control").count()
    a = rows.filter(status="pending", variant__code="A").count()
    b = rows.filter(status="pending", variant__code="B").count()
    assert control + a + b == 200
    assert 20 <= control <= 60 and 50 <= a <= 110 and 50 <= b <= 110
    d = rows.filter(variant__code="B").select_related("customer", "campaign").first()
    assert sending.render(d)[1].startswith("乙")
    assert Decimal(0) == campaign.revenue_per_conversion


def test_the_claims_consent_read_agrees_with_the_one_row_form(branch, rm, marketer):
    """consent_withdrawn_since_many (one read for a claim) and consent_withdrawn_since (one
    row) give every delivery the same verdict over mixed histories: none, granted, withdrawn
    per channel, opted out, granted again, and the newest of two at one time."""
    from marketing.models import Campaign, CampaignStep

    campaign = Campaign.objects.create(name="核对", created_by=marketer, channels=["sms"],
                                       segment=segment(marketer, tree()))  # fmt: skip
    steps = {ch: CampaignStep.objects.create(campaign=campaign, channel=ch)
             for ch in ("sms", "email", "app", "call")}  # fmt: skip
    base = NOON - timedelta(days=10)
    histories = [
        [],
        [("all", True, "branch form")],
        [("all", True, "branch form"), ("sms", False, "app")],
        [("sms", True, "app"), ("all", False, eligibility.OPT_OUT_SOURCE)],
        [("all", False, eligibility.OPT_OUT_SOURCE), ("all", True, "branch form")],
        [("phone", True, "call centre"), ("email", False, "app")],
        [("email", True, "app")],
    ]
    rows = []
    for n, history in enumerate(histories):
        customer = factories.customer(branch=branch, rm=rm, cif=f"AGREE{n}")
        for i, (channel, granted, source) in enumerate(history):
            consent(customer, channel, granted=granted, source=source,
                    at=base + timedelta(days=i))  # fmt: skip
        for channel, step in steps.items():
            rows.append(Delivery.objects.create(
                campaign=campaign, step=step, customer=customer, channel=channel,
                idempotency_key=f"agree:{n}:{channel}",
            ))  # fmt: skip
    many = eligibility.consent_withdrawn_since_many(rows)
    one = {d.pk: eligibility.consent_withdrawn_since(d) for d in rows}
    assert many == one
    assert set(one.values()) == {"", "no_consent", "opted_out"}  # every verdict occurs


def test_a_large_launch_refreshes_the_tables_statistics(people, marketer, second_marketer,
                                                       monkeypatch):  # fmt: skip
    """The claim's plan needs statistics that know the launch's rows: past ANALYZE_AFTER
    rows, the launch analyses marketing_delivery in its own transaction (pg_class.reltuples
    then counts them); a small one leaves it to autovacuum."""
    from django.db import connection

    from marketing import audience

    def reltuples():
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'marketing_delivery'")
            return cursor.fetchone()[0]

    before = reltuples()
    with time_machine.travel(NOON, tick=False):
        small = approved(make_campaign(marketer, segment(marketer, tree())), second_marketer)
        launch(small, marketer)
        assert reltuples() == before
        monkeypatch.setattr(audience, "ANALYZE_AFTER", 6)
        large = approved(make_campaign(marketer, segment(marketer, tree()), name="大"),
                         second_marketer)  # fmt: skip
        launch(large, marketer)
    assert reltuples() == 12

"""The marketing pages: the builder changes conditions and answers with the live count, a
masked sample and the explanation (htmx fragment or redirect), static lists from a CSV,
snapshots, the export as an audited read, a campaign from form to launch, its page with
progress and A/B results; query counts the same for N and 3N rows."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from bankcrm.audit import SYSTEM
from bankcrm.models import AccessLog
from marketing import sending, services
from marketing.models import Campaign, Delivery, Segment
from tests import factories
from tests.marketing.conftest import cond, consent, segment, tree

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def customers(branch, rm):
    made = [
        factories.customer(
            branch=branch, rm=rm, cif=f"V{n:03d}", tier="affluent" if n % 2 else "mass"
        )
        for n in range(6)
    ]
    for c in made:
        consent(c)
    return made


def test_builder_adds_and_removes_conditions_with_a_live_count(client, rm, customers):
    client.force_login(rm)
    response = client.post(
        reverse("marketing:segment-create"), {"name": "富裕客户", "kind": "dynamic"}
    )
    seg = Segment.objects.get()
    assert response["Location"] == reverse("marketing:segment-detail", args=[seg.pk])
    page = client.get(reverse("marketing:segment-detail", args=[seg.pk])).content.decode()
    assert 'data-testid="segment-count">6<' in page

    form = client.get(
        reverse("marketing:segment-detail", args=[seg.pk]), {"field": "tier", "path": ""}, **HTMX
    )
    assert 'name="values"' in form.content.decode()
    response = client.post(
        reverse("marketing:segment-condition-add", args=[seg.pk]),
        {"field": "tier", "op": "in", "values": ["affluent"], "path": ""},
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200 and 'data-testid="segment-count">3<' in body
    assert "Counted in" in body or "计数耗时" in body
    assert "V001" in body and customers[1].name not in body  # masked names
    seg.refresh_from_db()
    assert seg.last_count == 3 and seg.count_ms is not None

    client.post(
        reverse("marketing:segment-group-add", args=[seg.pk]), {"path": "", "op": "or"}, **HTMX
    )
    bad = client.post(
        reverse("marketing:segment-condition-add", args=[seg.pk]),
        {"field": "age", "op": "gte", "value": "old", "path": "1"},
        **HTMX,
    )
    assert bad.status_code == 400 and 'data-testid="builder-error"' in bad.content.decode()
    removed = client.post(
        reverse("marketing:segment-node-remove", args=[seg.pk]), {"path": "0"}
    )  # without htmx: back to the page
    assert removed.status_code == 302
    seg.refresh_from_db()
    assert seg.conditions == {"op": "and", "children": [{"op": "or", "children": []}]}


def test_static_list_from_a_csv_and_a_snapshot(client, rm, customers):
    client.force_login(rm)
    seg = segment(rm, kind=Segment.Kind.STATIC, name="名单")
    upload = SimpleUploadedFile("cifs.csv", b"cif\nV000\nV001\nNOPE1\n")
    response = client.post(reverse("marketing:segment-add-cifs", args=[seg.pk]), {"file": upload})
    assert response.status_code == 302
    assert set(seg.members.values_list("customer__cif", flat=True)) == {"V000", "V001"}
    dynamic = segment(rm, tree(cond("tier", "in", ["mass"])))
    response = client.post(reverse("marketing:segment-freeze", args=[dynamic.pk]))
    snapshot = Segment.objects.get(kind="snapshot")
    assert response["Location"] == reverse("marketing:segment-detail", args=[snapshot.pk])
    assert snapshot.members.count() == 3


def test_export_is_an_audited_read_of_masked_rows(client, rm, customers):
    client.force_login(rm)
    seg = segment(rm, tree())
    response = client.get(reverse("marketing:segment-export", args=[seg.pk]))
    # Logged when the view answers, before a row is streamed.
    assert AccessLog.objects.filter(object_type="marketing.segment", actor=rm).count() == 1
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert body.count("\n") == 7 and customers[0].name not in body
    # csv_download adds the time and ".csv" itself: one extension, not "segment-1.csv-….csv"
    disposition = response["Content-Disposition"]
    assert f'filename="segment-{seg.pk}-' in disposition and disposition.count(".csv") == 1
    log = AccessLog.objects.get(object_type="marketing.segment")
    assert (log.action, log.detail, log.actor) == ("export", {"rows": 6}, rm)


def test_campaign_from_form_to_launch(
    client, login, rm, marketer, second_marketer, customers, django_capture_on_commit_callbacks
):
    client.force_login(rm)
    seg = segment(rm, tree())
    response = client.post(
        reverse("marketing:campaign-create"),
        {
            "name": "秋季回馈",
            "segment": seg.pk,
            "channels": ["sms"],
            "text_sms_a_zh": "{name}您好",
            "ab_test": "on",
            "text_sms_b_zh": "{name}，好礼相送",
            "share_a": 50,
            "control_percent": 0,
            "goal_days": 30,
            "revenue_per_conversion": "100",
            "cost_sms": "0.05",
            "goal": "account_opened",
        },
    )
    campaign = Campaign.objects.get()
    assert response["Location"] == reverse("marketing:campaign-detail", args=[campaign.pk])
    assert sorted(campaign.variants.values_list("code", "weight")) == [("A", 50), ("B", 50)]
    client.post(reverse("marketing:campaign-submit", args=[campaign.pk]))
    login(marketer)  # with the TOTP step a marketing manager needs
    client.post(reverse("marketing:campaign-approve", args=[campaign.pk]))
    campaign.refresh_from_db()
    assert (campaign.status, campaign.approved_by) == ("approved", marketer)
    client.force_login(rm)
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(reverse("marketing:campaign-launch", args=[campaign.pk]))
    assert len(callbacks) == 1  # the sender asked for
    campaign.refresh_from_db()
    assert campaign.status == "sending" and campaign.audience_count == 6
    progress = client.get(reverse("marketing:campaign-progress", args=[campaign.pk]), **HTMX)
    assert 'hx-trigger="every 2s"' in progress.content.decode()
    sending.dispatch_all()
    services.campaigns_finish()
    # Whichever group it fell in: six customers split by a hash of their ids may all land in
    # one variant (the ids depend on what ran before).
    converted = Delivery.objects.filter(campaign=campaign, status="sent").order_by("pk")[0].customer
    factories.account(converted, opened_on=timezone.localdate())
    page = client.get(reverse("marketing:campaign-detail", args=[campaign.pk])).content.decode()
    assert 'data-testid="ab-table"' in page and 'data-testid="stat-converted">1<' in page
    assert "¥0.30" in page  # six messages at 0.05


def test_campaign_page_charts_its_results_with_a_table_of_the_same_numbers(
    client, rm, marketer, branch, settings
):
    """Sent, failed, waiting, control, left out by reason, opted out, converted as bars;
    cost beside revenue; the same numbers in a table. Chart.js draws them from a JSON
    block (static/js/dashboards.js), loaded only once the campaign is launched."""
    import json
    import re

    reached = [factories.customer(branch=branch, rm=rm, cif=f"R{n}") for n in range(4)]
    for customer in reached:
        consent(customer)
    factories.customer(branch=branch, rm=rm, cif="NOCONSENT")
    draft = services.CampaignDraft(
        name="chart", segment=segment(rm, tree()), channels=["sms"], goal="account_opened",
        revenue_per_conversion=Decimal(100), costs={"sms": Decimal("0.05")},
        texts={("sms", "A", "zh-hans"): "{name}您好"},
    )  # fmt: skip
    campaign = services.campaign_save(actor=rm, context=SYSTEM, draft=draft)
    client.force_login(rm)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("marketing:campaign-detail", args=[campaign.pk])).content.decode()
    assert "chart.umd.min.js" not in page and 'id="dashboard-data"' not in page  # a draft
    services.campaign_submit(actor=rm, context=SYSTEM, campaign=campaign)
    services.campaign_approve(actor=marketer, context=SYSTEM, campaign=campaign)
    services.campaign_launch(actor=rm, context=SYSTEM, campaign=campaign)
    sending.dispatch_all()
    factories.account(reached[0], opened_on=timezone.localdate())
    services.opt_out_record(
        delivery=Delivery.objects.get(campaign=campaign, customer=reached[1]), context=SYSTEM
    )

    from marketing import receipts

    first = Delivery.objects.filter(campaign=campaign, status="sent").order_by("pk").first()
    assert receipts.receipt_record(key=first.idempotency_key, status="delivered",
                                   at=timezone.now())  # fmt: skip
    page = client.get(reverse("marketing:campaign-detail", args=[campaign.pk])).content.decode()
    assert "vendor/chartjs/chart.umd.min.js" in page and "js/dashboards.js" in page
    assert 'data-chart="outcomes"' in page and 'data-chart="money"' in page
    data = json.loads(
        re.search(r'<script id="dashboard-data" type="application/json">(.*?)</script>', page,
                  re.S).group(1)
    )  # fmt: skip
    outcomes = data["outcomes"]
    bars = dict(zip(outcomes["labels"], outcomes["series"][0]["data"], strict=True))
    assert bars == {
        "Sent": 4, "Delivered": 1, "Not delivered": 0, "Failed": 0, "Waiting": 0,
        "Control group": 0, "No marketing consent for the channel": 1, "Opted out": 1,
        "Converted": 1,
    }  # fmt: skip
    assert data["money"]["labels"] == ["Cost", "Revenue"]
    assert data["money"]["series"][0]["data"] == [0.2, 100.0]
    table = page.split('data-testid="results-table"')[1].split("</table>")[0]
    rows = dict(re.findall(r'data-outcome="([^"]+)"><td>[^<]*</td><td class="text-end">([^<]*)<',
                           table))  # fmt: skip
    assert rows == {
        "sent": "4", "delivered": "1", "undelivered": "0", "failed": "0", "pending": "0",
        "control": "0", "left_out:no_consent": "1", "opted_out": "1", "converted": "1",
        "cost": "¥0.20", "revenue": "¥100.00", "roi": "49900%",
    }  # fmt: skip


def _campaign_with(n, rm, approver, branch):
    for _ in range(n):
        consent(factories.customer(branch=branch, rm=rm))
    draft = services.CampaignDraft(
        name=f"c{n}",
        segment=segment(rm, tree()),
        channels=["sms"],
        variants=[("A", 50), ("B", 50)],
        control_percent=20,
        goal="account_opened",
        texts={("sms", "A", "zh-hans"): "甲", ("sms", "B", "zh-hans"): "乙"},
    )
    campaign = services.campaign_save(actor=rm, context=SYSTEM, draft=draft)
    services.campaign_submit(actor=rm, context=SYSTEM, campaign=campaign)
    services.campaign_approve(actor=approver, context=SYSTEM, campaign=campaign)
    services.campaign_launch(actor=rm, context=SYSTEM, campaign=campaign)
    sending.dispatch_all()
    return campaign


def test_campaign_page_query_count_does_not_grow(
    client, rm, marketer, branch, django_assert_max_num_queries
):
    client.force_login(rm)
    small = _campaign_with(3, rm, marketer, branch)
    large = _campaign_with(9, rm, marketer, branch)
    counts = []
    for campaign in (small, large):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert (
                client.get(reverse("marketing:campaign-detail", args=[campaign.pk])).status_code
                == 200
            )
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    # 12: session and user, roles, the campaign with its segment and people, progress by
    # status and reason, opted out, sent by step and the steps' prices, conversions by
    # group, the preview's steps and messages with their variants.
    with django_assert_max_num_queries(12):
        client.get(reverse("marketing:campaign-detail", args=[large.pk]))


def test_builder_query_count_does_not_grow(client, rm, branch):
    client.force_login(rm)
    counts = []
    for n in (3, 9):
        for _ in range(n):
            factories.customer(branch=branch, rm=rm)
        seg = segment(rm, tree(cond("tier", "in", ["mass"]), cond("txn_count", "lte", 5, days=30)))
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("marketing:segment-detail", args=[seg.pk]))
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_journeys_fire_once_per_customer_and_occurrence(branch, rm):
    from marketing.journeys import fire_journeys, journey_fire
    from marketing.models import Journey, JourneyFiring

    today = timezone.localdate()
    born = factories.customer(branch=branch, rm=rm, birth_date=today.replace(year=1980))
    other = factories.customer(branch=branch, rm=rm, birth_date=today - timedelta(days=3))
    maturing = factories.customer(branch=branch, rm=rm)
    factories.account(
        maturing, kind="time_deposit", balance=Decimal(1), matures_on=today + timedelta(days=5)
    )
    kyc = factories.customer(branch=branch, rm=rm, kyc_expires_on=today + timedelta(days=10))
    for c in (born, other, maturing, kyc):
        consent(c)
    birthday = Journey.objects.create(name="生日", trigger="birthday", body="{name}生日快乐")
    maturity = Journey.objects.create(
        name="到期", trigger="maturity", days_ahead=7, body="续存提醒"
    )
    expiry = Journey.objects.create(name="KYC", trigger="kyc_expiry", days_ahead=30, body="请更新")
    assert fire_journeys() == 3
    assert fire_journeys() == 0  # the second sweep: nothing new
    assert journey_fire(birthday) == 0
    assert set(JourneyFiring.objects.values_list("journey", "customer")) == {
        (birthday.pk, born.pk),
        (maturity.pk, maturing.pk),
        (expiry.pk, kyc.pk),
    }
    deliveries = Delivery.objects.filter(firing__isnull=False)
    assert deliveries.count() == 3 and set(deliveries.values_list("status", flat=True)) <= {
        "pending"
    }
    firing = JourneyFiring.objects.get(journey=birthday)
    assert firing.occurrence == str(today.year)
    assert sending.render(Delivery.objects.get(firing=firing))[1].startswith(f"{born.name}生日快乐")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_transition_says_what_it_did_in_the_users_language(client, rm, customers, language):
    """The transition views are built once at import; their messages are translated per
    request, not frozen in the language of the import."""
    from django.conf import settings
    from django.contrib.messages import get_messages
    from django.utils import translation

    draft = services.CampaignDraft(
        name="c",
        segment=segment(rm, tree()),
        channels=["sms"],
        texts={("sms", "A", "zh-hans"): "您好"},
    )
    campaign = services.campaign_save(actor=rm, context=SYSTEM, draft=draft)
    client.force_login(rm)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.post(reverse("marketing:campaign-submit", args=[campaign.pk]))
    assert response.status_code == 302
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    with translation.override(language):
        expected = translation.gettext("Sent for approval.")
    assert shown == [expected]
    campaign.refresh_from_db()
    assert campaign.status == "pending_approval"


def test_list_and_form_pages_query_counts_do_not_grow(client, login, marketer, branch):
    """The index (segments with their owners, campaigns with segment and author), the
    marketing manager's home and the campaign form (segments and products to choose from)
    cost the same for 2 and 6 of each, by different owners."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    login(marketer)
    pages = [
        reverse("marketing:index"),
        reverse("marketing:campaign-create"),
        reverse("home"),
    ]
    counts = {page: [] for page in pages}
    for n in (2, 4):  # 2, then 6 of each
        for _ in range(n):
            owner = factories.user("relationship_manager", branch=branch)
            seg = segment(owner, tree())
            draft = services.CampaignDraft(
                name="c", segment=seg, channels=["sms"], texts={("sms", "A", "zh-hans"): "您好"}
            )
            campaign = services.campaign_save(actor=owner, context=SYSTEM, draft=draft)
            services.campaign_submit(actor=owner, context=SYSTEM, campaign=campaign)
        for page in pages:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(page).status_code == 200
            counts[page].append(len(queries))
    assert all(small == large for small, large in counts.values()), counts
    home, index = (client.get(reverse(p)).content.decode() for p in ("home", "marketing:index"))
    for campaign in Campaign.objects.all():  # the 6 are listed (waiting for approval)
        link = reverse("marketing:campaign-detail", args=[campaign.pk])
        assert link in home and link in index
    assert len(Campaign.objects.all()) == 6


def test_segment_page_offers_only_what_the_reader_may_do(client, login, rm, compliance_officer):
    """Compliance reads and exports a segment; it neither freezes it nor starts a campaign
    (both 403 for it), so the page offers neither. The owner is offered both."""
    seg = segment(rm, tree())
    page = reverse("marketing:segment-detail", args=[seg.pk])
    login(compliance_officer)  # with the MFA step compliance needs
    response = client.get(page)
    assert response.status_code == 200, (response.status_code, response.get("Location"))
    body = response.content.decode()
    assert 'data-testid="export"' in body
    assert 'data-testid="freeze"' not in body and 'data-testid="new-campaign"' not in body
    assert client.post(reverse("marketing:segment-freeze", args=[seg.pk])).status_code == 403
    client.force_login(rm)
    body = client.get(page).content.decode()
    assert 'data-testid="freeze"' in body and 'data-testid="new-campaign"' in body

"""A message per channel and language: the campaign form takes each chosen channel's own
texts (Chinese required, English optional, variant B's with an A/B test), keeps them apart
through saving and editing, previews them per channel, checks every one for prohibited
promises, and the sender gives each customer their channel's text in their language."""

import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from bankcrm.audit import SYSTEM
from marketing import sending, services
from marketing.models import Campaign, CampaignMessage, ProhibitedPhrase
from tests import factories
from tests.marketing.conftest import consent, segment, tree

pytestmark = pytest.mark.django_db
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

FORM = {
    "name": "冬季理财",
    "channels": ["sms", "email"],
    "ab_test": "on",
    "share_a": 60,
    "control_percent": 0,
    "cost_sms": "0.05",
    "cost_email": "0.012",
    "goal_days": 30,
    "revenue_per_conversion": "0",
    "text_sms_a_zh": "{name}您好，短信甲",
    "text_sms_a_en": "Hi {name}, SMS A",
    "text_sms_b_zh": "{name}您好，短信乙",
    "subject_email_zh": "冬季理财上线",
    "subject_email_en": "Winter savings",
    "text_email_a_zh": "尊敬的{name}：邮件甲",
    "text_email_a_en": "Dear {name}: e-mail A",
    "text_email_b_zh": "尊敬的{name}：邮件乙",
    # An unchosen channel's text is not saved.
    "text_app_a_zh": "推送",
}


def messages(campaign) -> dict:
    return {
        (m.step.channel, m.variant.code, m.language): (m.subject, m.body)
        for m in CampaignMessage.objects.filter(step__campaign=campaign).select_related(
            "step", "variant"
        )
    }


def test_the_form_keeps_each_channels_own_texts(client, rm, branch):
    seg = segment(rm, tree())
    client.force_login(rm)
    response = client.post(reverse("marketing:campaign-create"), {**FORM, "segment": seg.pk})
    assert response.status_code == 302, response.content.decode()[:3000]
    campaign = Campaign.objects.get()
    assert sorted(campaign.variants.values_list("code", "weight")) == [("A", 60), ("B", 40)]
    assert messages(campaign) == {
        ("sms", "A", "zh-hans"): ("", "{name}您好，短信甲"),
        ("sms", "A", "en"): ("", "Hi {name}, SMS A"),
        ("sms", "B", "zh-hans"): ("", "{name}您好，短信乙"),
        ("email", "A", "zh-hans"): ("冬季理财上线", "尊敬的{name}：邮件甲"),
        ("email", "A", "en"): ("Winter savings", "Dear {name}: e-mail A"),
        ("email", "B", "zh-hans"): ("冬季理财上线", "尊敬的{name}：邮件乙"),
    }

    # The edit page shows each text in its own field, and saving it unchanged keeps them.
    edit = reverse("marketing:campaign-edit", args=[campaign.pk])
    page = client.get(edit).content.decode()
    for name in ("text_sms_a_zh", "text_email_a_zh", "text_email_a_en", "text_sms_b_zh"):
        value = FORM[name]
        assert f'name="{name}"' in page and f">\n{value}</textarea>" in page, name
    assert 'name="subject_email_en"' in page and 'value="Winter savings"' in page
    before = messages(campaign)
    response = client.post(edit, {**FORM, "segment": seg.pk, "text_email_a_zh": "邮件新文"})
    assert response.status_code == 302
    after = messages(campaign)
    assert after.pop(("email", "A", "zh-hans")) == ("冬季理财上线", "邮件新文")
    before.pop(("email", "A", "zh-hans"))
    assert after == before  # the SMS texts did not follow the e-mail's change

    # Without the A/B test, variant B's texts are dropped with the variant.
    client.post(edit, {**FORM, "segment": seg.pk, "ab_test": ""})
    assert set(messages(campaign)) == {
        ("sms", "A", "zh-hans"), ("sms", "A", "en"), ("email", "A", "zh-hans"),
        ("email", "A", "en"),
    }  # fmt: skip
    assert list(campaign.variants.values_list("code", "weight")) == [("A", 100)]


def test_each_channel_has_its_own_cost_per_message(client, rm):
    """The budget: an SMS and an e-mail cost what the planner says, each on its step, shown
    again on the edit page; a chosen channel without a cost is refused."""
    seg = segment(rm, tree())
    client.force_login(rm)
    client.post(reverse("marketing:campaign-create"), {**FORM, "segment": seg.pk})
    campaign = Campaign.objects.get()
    costs = dict(campaign.steps.values_list("channel", "cost_per_message"))
    assert costs == {"sms": Decimal("0.0500"), "email": Decimal("0.0120")}
    page = client.get(reverse("marketing:campaign-edit", args=[campaign.pk])).content.decode()
    assert (
        'name="cost_email"' in page and 'value="0.0120"' in page.split('name="cost_email"')[1][:80]
    )
    response = client.post(reverse("marketing:campaign-create"),
                           {**FORM, "segment": seg.pk, "cost_email": ""})  # fmt: skip
    assert response.status_code == 400
    assert "invalid-feedback" in response.content.decode().split('name="cost_email"')[1][:400]


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        ({"text_email_a_zh": ""}, "text_email_a_zh"),  # a chosen channel without its text
        ({"text_sms_b_zh": " "}, "text_sms_b_zh"),  # the A/B test without a channel's B
    ],
)
def test_each_chosen_channel_needs_its_chinese_text(client, rm, change, missing):
    seg = segment(rm, tree())
    client.force_login(rm)
    response = client.post(
        reverse("marketing:campaign-create"), {**FORM, "segment": seg.pk, **change}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert page.count('class="invalid-feedback') == 1
    field = page.split(f'name="{missing}"')[1].split("<label")[0]
    assert "invalid-feedback" in field
    assert not Campaign.objects.exists()


def test_a_campaign_needs_every_channels_text_for_every_variant(rm, marketer):
    draft = services.CampaignDraft(
        name="c", segment=segment(rm, tree()), channels=["sms", "email"],
        variants=[("A", 50), ("B", 50)],
        texts={("sms", "A", "zh-hans"): "甲", ("sms", "B", "zh-hans"): "乙",
               ("email", "A", "zh-hans"): "甲", ("email", "B", "en"): "B"},
    )  # fmt: skip
    campaign = services.campaign_save(actor=rm, context=SYSTEM, draft=draft)
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        services.campaign_submit(actor=rm, context=SYSTEM, campaign=campaign)
    assert refused.value.messages == ["E-mail has no Chinese text for variant B."]


@pytest.mark.parametrize(
    "where", ["text_sms_a_en", "subject_email_en", "text_email_b_zh", "text_email_a_en"]
)
def test_a_prohibited_promise_in_any_channel_language_or_subject_stops_it(
    client, rm, marketer, where
):
    ProhibitedPhrase.objects.create(phrase="guaranteed return")
    seg = segment(rm, tree())
    client.force_login(rm)
    form = {**FORM, "segment": seg.pk, where: FORM[where] + " with a Guaranteed  return"}
    assert client.post(reverse("marketing:campaign-create"), form).status_code == 302
    campaign = Campaign.objects.get()
    with pytest.raises(ValidationError, match="guaranteed return"):
        services.campaign_submit(actor=rm, context=SYSTEM, campaign=campaign)
    # The page says which channel's text makes it.
    page = client.get(reverse("marketing:campaign-detail", args=[campaign.pk])).content.decode()
    channel = where.split("_")[1]
    section = page.split(f'data-testid="preview-{channel}"')[1].split("</section>")[0]
    assert 'data-testid="prohibited"' in section and "guaranteed return" in section
    other = "email" if channel == "sms" else "sms"
    section = page.split(f'data-testid="preview-{other}"')[1].split("</section>")[0]
    assert 'data-testid="prohibited"' not in section


def test_the_form_previews_each_channel_as_the_customer_reads_it(client, rm, branch):
    product = factories.product(code="FUND-P", name_zh="稳健一号", name_en="Steady One",
                                risk_level=2)  # fmt: skip
    ProhibitedPhrase.objects.get_or_create(phrase="稳赚")  # seeded by marketing 0002
    seg = segment(rm, tree())
    client.force_login(rm)
    form = {**FORM, "segment": seg.pk, "product": product.pk,
            "text_sms_a_zh": "{name}您好，{product}稳赚",
            "text_email_a_en": "Dear {name}, {product}"}  # fmt: skip
    response = client.post(reverse("marketing:campaign-preview"), form, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    sms = body.split('data-testid="preview-sms"')[1].split("</section>")[0]
    email = body.split('data-testid="preview-email"')[1].split("</section>")[0]
    assert "张女士您好，稳健一号稳赚" in sms and "短信乙" in sms and "邮件" not in sms
    assert "Hi Ms Zhang, SMS A" in sms
    assert "Dear Ms Zhang, Steady One" in email and "冬季理财上线" in email and "短信" not in email
    assert 'data-testid="prohibited"' in sms and 'data-testid="prohibited"' not in email
    assert 'data-testid="preview-app"' not in body  # not chosen
    assert not Campaign.objects.exists()  # a preview saves nothing
    # Nothing chosen yet: the preview says what to do.
    empty = client.post(reverse("marketing:campaign-preview"), {}).content.decode()
    assert "preview-" not in empty and ("Choose a channel" in empty or "选择渠道" in empty)


@pytest.fixture
def file_out(settings, tmp_path):
    settings.MARKETING_PROVIDERS = dict.fromkeys(["sms", "email", "app", "call"], "file")
    settings.MARKETING_FILE_DIR = str(tmp_path / "out")
    return tmp_path / "out"


def test_each_channel_sends_its_own_text_in_the_customers_language(
    branch, rm, marketer, second_marketer, file_out
):
    chinese = factories.customer(branch=branch, rm=rm, cif="ZH1", name="王芳")
    english = factories.customer(branch=branch, rm=rm, cif="EN1", name="Anna Li",
                                 tags=[sending.ENGLISH_TAG])  # fmt: skip
    for customer in (chinese, english):
        customer.set_email(f"{customer.cif.lower()}@example.cn")
        customer.save()
        consent(customer)
    texts = {
        ("sms", "A", "zh-hans"): "{name}您好，短信", ("sms", "A", "en"): "Hi {name}, SMS",
        ("email", "A", "zh-hans"): "尊敬的{name}：邮件",  # no English e-mail text
        ("app", "A", "en"): "Hi {name}, push", ("app", "A", "zh-hans"): "{name}，推送",
    }  # fmt: skip
    draft = services.CampaignDraft(
        name="多渠道", segment=segment(marketer, tree()), channels=["sms", "email"],
        texts=texts, subjects={("email", "zh-hans"): "冬季理财"},
    )  # fmt: skip
    campaign = services.campaign_save(actor=marketer, context=SYSTEM, draft=draft)
    assert {s.channel for s in campaign.steps.all()} == {"sms", "email"}  # not the app
    with time_machine.travel(NOON, tick=False):
        services.campaign_submit(actor=marketer, context=SYSTEM, campaign=campaign)
        services.campaign_approve(actor=second_marketer, context=SYSTEM, campaign=campaign)
        services.campaign_launch(actor=marketer, context=SYSTEM, campaign=campaign)
        assert sending.dispatch_all()["sent"] == 4
    sent = {}
    for path in file_out.glob("*.json"):
        message = json.loads(path.read_text())
        sent[(message["channel"], message["to"])] = (message["subject"], message["text"])
    first_line = {key: (subject, text.split("\n")[0]) for key, (subject, text) in sent.items()}
    assert first_line == {
        ("sms", chinese.mobile): ("", "王芳您好，短信"),
        ("sms", english.mobile): ("", "Hi Anna Li, SMS"),
        ("email", "zh1@example.cn"): ("冬季理财", "尊敬的王芳：邮件"),
        # No English e-mail: the Chinese one, in full.
        ("email", "en1@example.cn"): ("冬季理财", "尊敬的Anna Li：邮件"),
    }


def test_the_b_variant_of_each_channel_goes_to_its_group(branch, rm, marketer, second_marketer,
                                                         file_out):  # fmt: skip
    for n in range(30):
        customer = factories.customer(branch=branch, rm=rm, cif=f"AB{n:02d}")
        customer.set_email(f"ab{n}@example.cn")
        customer.save()
        consent(customer)
    draft = services.CampaignDraft(
        name="AB", segment=segment(marketer, tree()), channels=["sms", "email"],
        variants=[("A", 50), ("B", 50)],
        texts={("sms", "A", "zh-hans"): "短信甲", ("sms", "B", "zh-hans"): "短信乙",
               ("email", "A", "zh-hans"): "邮件甲", ("email", "B", "zh-hans"): "邮件乙"},
    )  # fmt: skip
    campaign = services.campaign_save(actor=marketer, context=SYSTEM, draft=draft)
    with time_machine.travel(NOON, tick=False):
        services.campaign_submit(actor=marketer, context=SYSTEM, campaign=campaign)
        services.campaign_approve(actor=second_marketer, context=SYSTEM, campaign=campaign)
        services.campaign_launch(actor=marketer, context=SYSTEM, campaign=campaign)
    from marketing.models import Delivery

    seen = set()
    for delivery in Delivery.objects.filter(campaign=campaign).select_related(
        "customer", "campaign", "variant"
    ):
        first = sending.render(delivery)[1].split("\n")[0]
        expected = {"sms": "短信", "email": "邮件"}[delivery.channel] + (
            "甲" if delivery.variant.code == "A" else "乙"
        )
        assert first == expected
        seen.add((delivery.channel, delivery.variant.code))
    assert seen == {("sms", "A"), ("sms", "B"), ("email", "A"), ("email", "B")}


def test_the_preview_costs_the_same_for_one_channel_and_four(client, rm, django_assert_num_queries):
    """Session, user and roles, the audit context set and cleared around a POST, the segment
    chosen and the phrase list: 7, however many channels, variants and languages."""
    seg = segment(rm, tree())
    client.force_login(rm)
    one = {**FORM, "segment": seg.pk, "channels": ["sms"]}
    four = {**FORM, "segment": seg.pk, "channels": ["sms", "email", "app", "call"],
            **{f"text_{c}_{v}_zh": "文" for c in ("app", "call") for v in "ab"}}  # fmt: skip
    for data in (one, four):
        with django_assert_num_queries(7):
            assert client.post(reverse("marketing:campaign-preview"), data).status_code == 200

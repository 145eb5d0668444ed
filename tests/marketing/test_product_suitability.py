"""A campaign sells a catalogue product: its risk disclosure must be in the catalogue before
it goes out and is recorded on the campaign; {product} reads in the message's language;
and the audience is checked by compliance's suitability engine (marketing purpose) and
risk warnings, in one statement, agreeing with suitability_check customer by customer."""

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from bankcrm.audit import SYSTEM
from compliance import warnings
from compliance.models import SuitabilityCheck
from compliance.suitability import suitability_check
from compliance.warning_models import Severity
from customers.models import Customer, Product
from customers.services import product_document_add
from marketing import sending, services
from marketing.models import Delivery, FrequencyCap
from tests import factories
from tests.compliance.suitability_world import assess
from tests.marketing.conftest import consent, segment, tree

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def file_provider(settings, tmp_path):
    settings.MARKETING_PROVIDERS = dict.fromkeys(["sms", "email", "app", "call"], "file")
    settings.MARKETING_FILE_DIR = str(tmp_path / "out")


def disclose(product, version_text="理财非存款，产品有风险，投资须谨慎。"):
    return product_document_add(
        actor=None, product=product, kind="risk_disclosure", file_name="风险揭示书.txt",
        content=version_text.encode(), content_type="text/plain",
    )  # fmt: skip


def fund(risk=4, *, disclosed=True, **fields):
    product = factories.product(
        kind=Product.Kind.FUND, risk_level=risk, name_zh="成长1号", name_en="Growth No. 1",
        **fields,
    )  # fmt: skip
    if disclosed:
        disclose(product)
    return product


def make_campaign(actor, seg, product=None, *, text="{name}您好，{product}热销中", **extra):
    channels = list(extra.pop("channels", ["sms"]))
    texts = {}
    for channel in channels:
        texts[(channel, "A", "zh-hans")] = text
        texts[(channel, "A", "en")] = "Dear {name}, {product} is on sale"
    draft = services.CampaignDraft(
        name=extra.pop("name", "基金推广"),
        segment=seg,
        channels=channels,
        product=product,
        texts=texts,
        **extra,
    )
    return services.campaign_save(actor=actor, context=SYSTEM, draft=draft)


def approve(campaign, approver):
    services.campaign_submit(actor=campaign.created_by, context=SYSTEM, campaign=campaign)
    assert services.campaign_approve(actor=approver, context=SYSTEM, campaign=campaign)
    return campaign


def launched(campaign, approver):
    approve(campaign, approver)
    services.campaign_launch(actor=campaign.created_by, context=SYSTEM, campaign=campaign)
    campaign.refresh_from_db()
    return campaign


def reasons(campaign):
    return {
        d.customer.cif: d.left_out_reason or d.status
        for d in Delivery.objects.filter(campaign=campaign).select_related("customer")
    }


def warn(customer):
    warnings.warning_signal_apply(signal=warnings.Signal(
        source="court", signal_id=f"enf-{customer.pk}", customer_id=customer.pk,
        kind="court_enforcement", severity=Severity.SEVERE,
        occurred_at=timezone.now() - timedelta(hours=1),
    ))  # fmt: skip


# ---- the product on the campaign ---------------------------------------------------------


def test_the_campaign_keeps_the_products_name_and_rating(branch, marketer):
    product = fund(risk=3)
    campaign = make_campaign(marketer, segment(marketer, tree()), product)
    assert (campaign.product, campaign.product_name, campaign.product_risk) == (
        product,
        "成长1号",
        "R3",
    )
    # A draft rewritten without a product forgets it.
    draft = services.CampaignDraft(name="x", segment=campaign.segment, channels=["sms"],
                                   texts={("sms", "A", "zh-hans"): "你好"})  # fmt: skip
    services.campaign_save(actor=marketer, context=SYSTEM, draft=draft, campaign=campaign)
    campaign.refresh_from_db()
    assert (campaign.product, campaign.product_name, campaign.product_risk) == (None, "", "")


def test_a_product_without_a_risk_disclosure_cannot_go_out(branch, marketer, second_marketer):
    product = fund(disclosed=False)
    campaign = make_campaign(marketer, segment(marketer, tree()), product)
    with translation.override("en"), pytest.raises(ValidationError, match="risk disclosure"):
        services.campaign_submit(actor=marketer, context=SYSTEM, campaign=campaign)
    first = disclose(product)
    approve(campaign, second_marketer)
    assert campaign.risk_disclosure_document == first  # what the approver approved
    # A new version before the launch: the messages carry the one in force at launch.
    second = disclose(product, "第二版")
    services.campaign_launch(actor=marketer, context=SYSTEM, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.risk_disclosure_document == second and second.version == 2


def test_a_product_taken_off_sale_after_approval_is_not_launched(branch, marketer, second_marketer):
    product = fund()
    campaign = approve(make_campaign(marketer, segment(marketer, tree()), product),
                       second_marketer)  # fmt: skip
    Product.objects.filter(pk=product.pk).update(status=Product.Status.SUSPENDED)
    campaign.product.refresh_from_db()
    with translation.override("en"), pytest.raises(ValidationError, match="not on sale"):
        services.campaign_launch(actor=marketer, context=SYSTEM, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == "approved" and not Delivery.objects.exists()


def test_product_and_disclosure_in_the_messages_language(branch, rm, marketer, second_marketer):
    zh = factories.customer(branch=branch, rm=rm, cif="ZH")
    en = factories.customer(branch=branch, rm=rm, cif="EN", tags=[sending.ENGLISH_TAG])
    for customer in (zh, en):
        consent(customer)
        assess(customer, 5)
    campaign = launched(make_campaign(marketer, segment(marketer, tree()), fund()),
                        second_marketer)  # fmt: skip
    texts = {
        d.customer.cif: sending.render(d)[1]
        for d in Delivery.objects.filter(campaign=campaign).select_related("customer")
    }
    assert texts["ZH"].startswith(f"{zh.name}您好，成长1号热销中")
    assert "风险揭示书（第 1 版）" in texts["ZH"]
    assert texts["EN"].startswith(f"Dear {en.name}, Growth No. 1 is on sale")
    assert "version 1" in texts["EN"]


def test_the_campaign_form_offers_products_on_sale(client, login, branch, marketer):
    on_sale = fund(code="FUND-ON")
    factories.product(code="FUND-OFF", status=Product.Status.SUSPENDED)
    seg = segment(marketer, tree())
    login(marketer)  # with the TOTP step a marketing manager needs
    page = client.get("/marketing/campaigns/new/").content.decode()
    assert "FUND-ON" in page and "FUND-OFF" not in page
    response = client.post("/marketing/campaigns/new/", {
        "name": "基金推广", "segment": seg.pk, "channels": ["sms"],
        "text_sms_a_zh": "{product}上线",
        "control_percent": 0, "cost_sms": "0.05", "goal_days": 30,
        "revenue_per_conversion": "0", "product": on_sale.pk,
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = services.Campaign.objects.get(name="基金推广")
    assert campaign.product == on_sale and campaign.product_risk == "R4"
    detail = client.get(response["Location"]).content.decode()
    assert "成长1号上线" in detail and "风险揭示书.txt" in detail


# ---- who the campaign leaves out ---------------------------------------------------------


@pytest.fixture
def audience(branch, rm, risk_kinds):
    """Consenting customers who differ only in what suitability and warnings see."""
    today = timezone.localdate()
    c = {name: factories.customer(branch=branch, rm=rm, cif=name) for name in
         ("C4", "C5", "C2", "EXPIRED", "LOWEST", "NONE", "WARNED")}  # fmt: skip
    for customer in c.values():
        consent(customer)
    assess(c["C4"], 4)
    assess(c["C5"], 5)
    assess(c["C2"], 2)
    assess(c["EXPIRED"], 5, expires_on=today - timedelta(days=1))
    assess(c["LOWEST"], 4, lowest=True)
    assess(c["WARNED"], 5)
    warn(c["WARNED"])
    return c


def test_an_r4_fund_campaign_leaves_out_whom_it_does_not_suit(audience, marketer, second_marketer):
    campaign = launched(make_campaign(marketer, segment(marketer, tree()), fund(risk=4)),
                        second_marketer)  # fmt: skip
    assert reasons(campaign) == {
        "C4": "pending",
        "C5": "pending",
        "C2": "unsuitable",
        "EXPIRED": "unsuitable",
        "LOWEST": "unsuitable",
        "NONE": "unsuitable",
        "WARNED": "risk_warning",  # the warning is named, before suitability
    }
    # One summary of the marketing suitability run per launch, by the launcher.
    run = SuitabilityCheck.objects.get(code="set_run")
    assert (run.purpose, run.product_id, run.customers_checked, run.customers_allowed) == (
        "marketing",
        campaign.product_id,
        7,
        2,
    )
    assert run.actor == marketer


def test_a_warning_leaves_a_customer_out_even_without_a_product(
    audience, marketer, second_marketer
):
    campaign = launched(make_campaign(marketer, segment(marketer, tree())), second_marketer)
    got = reasons(campaign)
    assert got.pop("WARNED") == "risk_warning"
    assert set(got.values()) == {"pending"}  # no product: suitability is not asked
    assert not SuitabilityCheck.objects.filter(code="set_run").exists()


def test_an_r1_product_reaches_those_without_a_valid_assessment(
    audience, marketer, second_marketer
):
    campaign = launched(
        make_campaign(marketer, segment(marketer, tree()), fund(risk=1)), second_marketer
    )
    got = reasons(campaign)
    assert got.pop("WARNED") == "risk_warning"
    assert set(got.values()) == {"pending"}


def test_suitability_is_one_statement_over_the_audience(audience, marketer, second_marketer):
    campaign = approve(make_campaign(marketer, segment(marketer, tree()), fund()),
                       second_marketer)  # fmt: skip
    from marketing.audience import resolve_campaign

    with CaptureQueriesContext(connection) as queries:
        resolve_campaign(campaign)
    inserts = [q["sql"] for q in queries if q["sql"].startswith("INSERT INTO marketing_delivery")]
    assert len(inserts) == 1
    assert "customers_riskprofile" in inserts[0] and "compliance_riskwarning" in inserts[0]
    assert not any("customers_customer" in q["sql"] and "INSERT" not in q["sql"]
                   for q in queries)  # fmt: skip


def test_the_campaign_agrees_with_suitability_check_per_customer(
    branch, rm, marketer, second_marketer, risk_kinds
):
    """On a seeded random population, a customer is sent the campaign exactly when
    compliance's per-customer check allows the product for marketing."""
    rng = random.Random(19)
    today = timezone.localdate()
    customers = []
    for n in range(40):
        customer = factories.customer(
            branch=branch, rm=rm, cif=f"R{n:03d}", tier=rng.choice(Customer.Tier.values),
            kind=rng.choice(Customer.Kind.values),
        )  # fmt: skip
        consent(customer)
        level = rng.choice([None, 1, 2, 3, 4, 5])
        if level is not None:
            expired = rng.random() < 0.2
            assess(customer, level, lowest=rng.random() < 0.15,
                   expires_on=today - timedelta(days=3) if expired else None)  # fmt: skip
        if rng.random() < 0.2:
            warn(customer)
        customers.append(customer)
    FrequencyCap.objects.update(max_messages=10)  # three campaigns to the same people
    seg = segment(marketer, tree())
    for risk, tier, kinds in ((3, "mass", "both"), (4, "affluent", "individual"),
                              (2, "mass", "corporate")):  # fmt: skip
        product = fund(risk=risk, min_tier=tier, eligible_kinds=kinds, code=f"F{risk}{tier}")
        campaign = launched(make_campaign(marketer, seg, product, name=f"c{risk}"),
                            second_marketer)  # fmt: skip
        got = reasons(campaign)
        for customer in customers:
            verdict = suitability_check(
                customer=customer, product=product, purpose="marketing", record=False
            )
            sent = got[customer.cif] == "pending"
            assert sent == verdict.allowed, (customer.cif, got[customer.cif], verdict.codes)
            if not sent:
                expected = ("risk_warning" if "severe_warning_marketing" in verdict.codes
                            else "unsuitable")  # fmt: skip
                assert got[customer.cif] == expected, (customer.cif, verdict.codes)


def test_a_journey_skips_suitability(audience):
    from marketing.eligibility import Offer, checks

    reasons_checked = [reason for reason, _q in checks(Offer(channel="sms"))]
    assert "unsuitable" not in reasons_checked and "risk_warning" in reasons_checked


@pytest.fixture(autouse=True)
def at_noon():
    with time_machine.travel(NOON, tick=False):
        yield

"""Recording a sale from the 360 page: a blocked sale saves only its block record, an allowed
one its evidence; the evidence a verdict requires is enforced; core banking's
`sale.confirmed` links the sale to its holding, replayed and out of order; the 360 panel."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bankcrm.audit import SYSTEM
from compliance.models import DataChange, Sale, SuitabilityCheck
from compliance.sales import SaleInvalidError, sale_record
from customers.ingest.services import inbox_process, inbox_replay, inbox_store
from customers.models import Account
from customers.models.integration import InboxEvent, IntegrationSource
from tests import factories
from tests.compliance.suitability_world import assess

pytestmark = pytest.mark.django_db

SHA = "a" * 64


@pytest.fixture
def c2(customer):
    assess(customer, 2)
    return customer


@pytest.fixture
def r4_fund(db):
    return factories.product(code="FUND-R4", name_zh="成长混合基金", kind="fund", risk_level=4,
                             min_amount=Decimal("1000"))  # fmt: skip


@pytest.fixture
def r2_wealth(db):
    return factories.product(code="WM-R2", name_zh="稳健理财", kind="wealth", risk_level=2,
                             min_amount=Decimal("10000"))  # fmt: skip


def form(product, action="record", **extra):
    return {
        "product": product.pk, "amount": "50000", "channel": "branch", "action": action,
        "confirmation_method": "signature", "confirmation_ref": "QR-2026-0001", **extra,
    }  # fmt: skip


def url(customer):
    return f"/compliance/customers/{customer.pk}/sales/new/"


def test_a_blocked_sale_shows_the_reason_in_chinese_and_saves_only_the_block(
    client, login, rm, c2, r4_fund
):
    login(rm)
    for action in ("check", "record"):
        response = client.post(
            url(c2), form(r4_fund, action), headers={"Accept-Language": "zh-hans"}
        )
        assert response.status_code == 200
        text = response.content.decode()
        assert "不允许销售" in text and "高于客户的风险承受能力" in text, action
    assert Sale.objects.count() == 0
    blocks = list(SuitabilityCheck.objects.order_by("at"))
    assert [(b.allowed, b.code, b.actor, b.customer) for b in blocks] == [
        (False, "risk_exceeds_tolerance", rm, c2)
    ] * 2


def test_an_allowed_sale_is_recorded_with_its_evidence(client, login, rm, c2, r2_wealth):
    login(rm)
    assert client.post(url(c2), form(r2_wealth, "check")).status_code == 200
    assert SuitabilityCheck.objects.count() == 0  # an allowed check alone is not a sale
    response = client.post(url(c2), form(r2_wealth))
    assert response.status_code == 302 and response["Location"] == f"/customers/{c2.pk}/"
    sale = Sale.objects.select_related("suitability_check").get()
    profile = c2.risk_profiles.get(is_current=True)
    assert (sale.customer, sale.product, sale.amount, sale.currency, sale.channel) == (
        c2,
        r2_wealth,
        Decimal("50000.00"),
        "CNY",
        "branch",
    )
    assert (sale.status, sale.recorded_by, sale.branch) == ("recorded", rm, c2.branch)
    assert (sale.risk_profile, sale.questionnaire_version, sale.customer_risk_level) == (
        profile,
        profile.questionnaire.version,
        2,
    )
    assert (sale.product_risk_level, sale.confirmation_method, sale.confirmation_ref) == (
        2,
        "signature",
        "QR-2026-0001",
    )
    assert "不是存款" in sale.warning_text and "R2" in sale.warning_text
    assert (sale.recording_required, sale.cooling_off_ends, sale.mismatch_confirmed) == (
        False,
        None,
        False,
    )
    check = sale.suitability_check
    assert (check.allowed, check.code, check.purpose, check.ruleset.version) == (
        True,
        "allowed",
        "sale",
        1,
    )
    assert sale.reference.startswith("SL-")
    # In the data-change trail, as the RM.
    change = DataChange.objects.get(table_name="compliance_sale")
    assert (change.op, change.actor_id, change.customer_id) == ("I", rm.pk, c2.pk)


def test_a_sale_that_needs_a_recording_saves_nothing_without_one(client, login, rm, customer):
    assess(customer, 5)
    r4 = factories.product(kind="fund", risk_level=4)
    login(rm)
    response = client.post(url(customer), form(r4))
    assert response.status_code == 400
    assert "双录" in response.content.decode()
    assert (Sale.objects.count(), SuitabilityCheck.objects.count()) == (0, 0)
    response = client.post(url(customer), form(r4, recording_ref="SL-REC-1",
                                               recording_sha256="not-a-digest"))  # fmt: skip
    assert response.status_code == 400 and Sale.objects.count() == 0
    response = client.post(url(customer), form(r4, recording_ref="REC-1", recording_sha256=SHA))
    assert response.status_code == 302
    sale = Sale.objects.get()
    assert (sale.recording_required, sale.recording_ref, sale.recording_sha256) == (
        True,
        "REC-1",
        SHA,
    )


def test_a_private_placement_records_its_cooling_off_end(rm, customer):
    assess(customer, 4)
    product = factories.product(kind="fund", risk_level=3, private_placement=True)
    at = timezone.now()
    outcome = sale_record(
        actor=rm, context=SYSTEM, customer=customer, product=product, amount=Decimal("1000000"),
        channel="branch", confirmation_method="otp", confirmation_ref="OTP-88",
        recording_ref="REC-9", recording_sha256=SHA, at=at,
    )  # fmt: skip
    assert outcome.sale.cooling_off_ends == at + timedelta(hours=24)
    assert "冷静期" in outcome.sale.warning_text


def test_a_customer_who_insists_on_a_fund_above_tolerance(rm, c2, r4_fund):
    common = {
        "actor": rm, "context": SYSTEM, "customer": c2, "product": r4_fund,
        "amount": Decimal("5000"), "channel": "branch", "confirmation_method": "signature",
        "confirmation_ref": "MISMATCH-1",
    }  # fmt: skip
    assert sale_record(**common).sale is None
    with pytest.raises(SaleInvalidError):  # insisting needs the recording
        sale_record(**common, customer_insists=True)
    sale = sale_record(**common, customer_insists=True, recording_ref="R1", recording_sha256=SHA)
    assert sale.sale.mismatch_confirmed and sale.sale.recording_required
    assert "高于您的风险承受能力" in sale.sale.warning_text


def test_an_amount_below_the_minimum_is_refused_before_any_check(client, login, rm, c2, r2_wealth):
    login(rm)
    response = client.post(url(c2), form(r2_wealth, amount="9999.99"))
    assert response.status_code == 400
    assert (Sale.objects.count(), SuitabilityCheck.objects.count()) == (0, 0)
    with pytest.raises(SaleInvalidError):
        sale_record(
            actor=rm, context=SYSTEM, customer=c2, product=r2_wealth, amount=Decimal("1"),
            channel="branch", confirmation_method="otp", confirmation_ref="x",
        )  # fmt: skip


def test_the_360_panel_lists_what_may_be_offered_and_why_not(client, login, rm, c2, r4_fund,
                                                            r2_wealth):  # fmt: skip
    login(rm)
    text = client.get(f"/customers/{c2.pk}/", headers={"Accept-Language": "zh-hans"}).content
    text = text.decode()
    offered = text.split('data-testid="offerable-products"')[1]
    allowed, refused = (
        offered.split('data-testid="not-offerable"')[0],
        offered.split('data-testid="not-offerable"')[1],
    )
    assert "稳健理财" in allowed and "成长混合基金" not in allowed
    assert "成长混合基金" in refused and "高于客户的风险承受能力" in refused
    assert SuitabilityCheck.objects.count() == 0  # a list is not a check of a sale


# ---- sale.confirmed ------------------------------------------------------------------------

HOLDING = "6222020200009990001"


@pytest.fixture
def source(db):
    return IntegrationSource.objects.create(code="core", name="Core", kind="core_banking")


@pytest.fixture
def sale(rm, c2, r2_wealth):
    return sale_record(
        actor=rm, context=SYSTEM, customer=c2, product=r2_wealth, amount=Decimal("20000"),
        channel="branch", confirmation_method="otp", confirmation_ref="OTP-1",
    ).sale  # fmt: skip


def confirmed(seq, reference, account=HOLDING, amount="20000.00", currency="CNY"):
    return {
        "event_id": f"sc{seq}", "sequence": seq, "type": "sale.confirmed",
        "occurred_at": "2026-12-02T10:00:00+08:00",
        "data": {"sale_reference": reference, "account_number": account, "amount": amount,
                 "currency": currency},
    }  # fmt: skip


def deliver(source, *events):
    outcomes = inbox_store(source=source, events=list(events))
    assert all(o.accepted for o in outcomes), [o.error for o in outcomes]
    inbox_process()


def test_core_banking_confirms_a_sale_and_it_becomes_a_holding(source, sale, c2, r2_wealth):
    deliver(source, confirmed(1, sale.reference))
    sale.refresh_from_db()
    holding = Account.objects.get(product=r2_wealth)
    assert (sale.status, sale.holding, holding.customer, holding.balance) == (
        "confirmed",
        holding,
        c2,
        Decimal("20000.00"),
    )
    assert (holding.kind, holding.risk_level, holding.number_masked[-4:]) == (
        "wealth",
        "R2",
        "0001",
    )
    assert sale.confirmation_event == "core:sc1" and sale.confirmed_at is not None
    # Replayed, and confirmed again under another event id: nothing changes.
    deliver(source, confirmed(1, sale.reference), confirmed(2, sale.reference, amount="1.00"))
    assert InboxEvent.objects.filter(status="applied").count() == 2
    sale.refresh_from_db()
    assert (sale.confirmation_event, Account.objects.filter(product=r2_wealth).count()) == (
        "core:sc1",
        1,
    )
    assert Account.objects.get(product=r2_wealth).balance == Decimal("20000.00")


def test_a_confirmation_of_an_existing_holding_links_it(source, sale, c2, r2_wealth):
    holding = factories.account(c2, number=HOLDING, kind="wealth")
    deliver(source, confirmed(1, sale.reference))
    sale.refresh_from_db()
    holding.refresh_from_db()
    assert (sale.holding, holding.product) == (holding, r2_wealth)


def test_out_of_order_and_unmatched_confirmations_are_parked_then_replayed(
    source, sale, c2, branch, admin_user
):
    stranger = factories.customer(branch=branch)
    factories.account(stranger, number="6222020200009990002")
    balance_first = {
        # Sent after the confirmation (a later sequence), delivered before it.
        "event_id": "b1", "sequence": 10, "type": "balance.changed",
        "occurred_at": "2026-12-02T10:05:00+08:00",
        "data": {"account_number": HOLDING, "balance": "20100.00", "currency": "CNY"},
    }  # fmt: skip
    deliver(
        source, balance_first,  # the holding's balance before the holding exists
        confirmed(2, "SL-20261202-NOSUCH01"),  # a reference no sale has
        confirmed(3, sale.reference, account="6222020200009990002"),  # another's account
        confirmed(4, sale.reference, currency="USD"),
    )  # fmt: skip
    parked = dict(InboxEvent.objects.values_list("event_id", "error"))
    assert parked == {
        "b1": "unknown_account", "sc2": "unknown_sale", "sc3": "holding_of_another_customer",
        "sc4": "currency_mismatch",
    }  # fmt: skip
    sale.refresh_from_db()
    assert sale.status == "recorded"
    deliver(source, confirmed(5, sale.reference))
    waiting = InboxEvent.objects.filter(event_id="b1").values_list("pk", flat=True)
    inbox_replay(event_ids=list(waiting), actor=admin_user, context=SYSTEM)
    inbox_process()
    sale.refresh_from_db()
    assert sale.status == "confirmed" and sale.holding.balance == Decimal("20100.00")

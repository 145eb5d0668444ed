"""The lifecycle journeys of issue 19 beyond the first five: an insurance policy due for
renewal, the same product viewed in the app three times in a week, and the birthday care
task for the RM of affluent, wealth and private customers. Each fires once per customer and
occurrence, through the same checks and delivery path as the others."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bankcrm.models import StaffNotification
from customers.ingest.services import product_view_subject
from customers.models import Interaction, Product
from marketing.journeys import fire_journeys, journey_fire
from marketing.models import Delivery, Journey, JourneyFiring
from tests import factories
from tests.marketing.conftest import consent

pytestmark = pytest.mark.django_db


def firings(journey):
    return set(JourneyFiring.objects.filter(journey=journey).values_list("customer", flat=True))


def test_insurance_renewal_fires_once_per_policy_and_date(branch, rm):
    today = timezone.localdate()
    insurance = factories.product(kind=Product.Kind.INSURANCE)
    wealth = factories.product(kind=Product.Kind.WEALTH)
    due, later, other_kind, lapsed = (factories.customer(branch=branch, rm=rm) for _ in range(4))
    policy = factories.account(
        due, kind="wealth", product=insurance, balance=Decimal(1),
        matures_on=today + timedelta(days=80),
    )  # fmt: skip
    factories.account(later, kind="wealth", product=insurance, matures_on=today + timedelta(91))
    factories.account(other_kind, kind="wealth", product=wealth, matures_on=today + timedelta(30))
    factories.account(
        lapsed, kind="wealth", product=insurance, matures_on=today + timedelta(30),
        status="closed",
    )  # fmt: skip
    for c in (due, later, other_kind, lapsed):
        consent(c)
    renewal = Journey.objects.create(
        name="续保", trigger=Journey.Trigger.INSURANCE_RENEWAL, days_ahead=90, body="保单即将续保"
    )
    assert journey_fire(renewal) == 1
    assert journey_fire(renewal) == 0
    assert journey_fire(renewal, today=today + timedelta(days=2)) == 1  # `later` is now in
    assert firings(renewal) == {due.pk, later.pk}
    assert JourneyFiring.objects.get(journey=renewal, customer=due).occurrence == (
        f"renewal:{policy.pk}:{policy.matures_on.isoformat()}"
    )
    assert Delivery.objects.filter(firing__journey=renewal).count() == 2
    # Renewed: a new date is another occurrence.
    policy.matures_on = today + timedelta(days=85)
    policy.save(update_fields=["matures_on"])
    assert journey_fire(renewal) == 1


def view(customer, product, *, days_ago=0, hours=0):
    return Interaction.objects.create(
        customer=customer, channel=Interaction.Channel.APP,
        direction=Interaction.Direction.INBOUND, subject=product_view_subject(product),
        occurred_at=timezone.now() - timedelta(days=days_ago, hours=hours),
    )  # fmt: skip


def test_same_product_viewed_three_times_in_a_week(branch, rm):
    keen, spread, browsing, dormant_login = (
        factories.customer(branch=branch, rm=rm) for _ in range(4)
    )
    for days in (0, 2, 5):
        view(keen, "稳健理财A", days_ago=days)
    for days in (0, 1):
        view(keen, "基金B", days_ago=days)  # twice only
    for days in (0, 3, 9):
        view(spread, "稳健理财A", days_ago=days)  # the third is older than a week
    for name in ("一号", "二号", "三号"):
        view(browsing, name)  # three products, once each
    for _n in range(3):
        Interaction.objects.create(
            customer=dormant_login, channel=Interaction.Channel.APP,
            direction=Interaction.Direction.INBOUND, subject="登录手机银行",
        )  # fmt: skip
    for c in (keen, spread, browsing, dormant_login):
        consent(c)
    journey = Journey.objects.create(
        name="产品兴趣", trigger=Journey.Trigger.PRODUCT_INTEREST, body="您关注的产品"
    )
    assert journey_fire(journey) == 1
    assert firings(journey) == {keen.pk}
    assert Delivery.objects.filter(firing__journey=journey, customer=keen).count() == 1
    # Still three views in the window tomorrow: not reached again for the same product.
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert journey_fire(journey, today=tomorrow) == 0
    # A third view of the other product: that product is another occurrence.
    view(keen, "基金B")
    assert journey_fire(journey) == 1
    assert JourneyFiring.objects.filter(journey=journey, customer=keen).count() == 2


def test_product_interest_returns_after_the_window(branch, rm):
    keen = factories.customer(branch=branch, rm=rm)
    consent(keen)
    for days in (0, 1, 2):
        view(keen, "稳健理财A", days_ago=days)
    journey = Journey.objects.create(
        name="产品兴趣", trigger=Journey.Trigger.PRODUCT_INTEREST, body="您关注的产品"
    )
    assert journey_fire(journey) == 1
    JourneyFiring.objects.filter(journey=journey).update(
        fired_at=timezone.now() - timedelta(days=8)
    )
    assert journey_fire(journey, today=timezone.localdate() + timedelta(days=8)) == 1


def test_birthday_care_task_for_the_rm_of_affluent_wealth_and_private(branch, rm, other_rm):
    today = timezone.localdate()
    born = today.replace(year=1980) if (today.month, today.day) != (2, 29) else today

    def birthday(tier, who):
        c = factories.customer(branch=branch, rm=who, tier=tier, birth_date=born)
        consent(c)
        return c

    affluent = birthday("affluent", rm)
    wealth = birthday("wealth", other_rm)
    private = birthday("private", other_rm)
    mass = birthday("mass", rm)
    no_rm = birthday("private", None)
    sms = Journey.objects.create(name="生日短信", trigger="birthday", body="生日快乐")
    email = Journey.objects.create(
        name="生日邮件", trigger="birthday", channel="email", subject="生日", body="生日快乐"
    )
    assert fire_journeys() == 10
    assert fire_journeys() == 0
    notes = StaffNotification.objects.filter(kind="birthday_care")
    # One per customer and year though two birthday journeys reached them.
    assert sorted(notes.values_list("recipient_id", "dedupe_key")) == sorted([
        (rm.pk, f"birthday-care:{affluent.pk}:{today.year}"),
        (other_rm.pk, f"birthday-care:{wealth.pk}:{today.year}"),
        (other_rm.pk, f"birthday-care:{private.pk}:{today.year}"),
    ])  # fmt: skip
    assert affluent.name in notes.get(recipient=rm).title
    assert not notes.filter(dedupe_key__contains=f":{mass.pk}:").exists()
    assert not notes.filter(dedupe_key__contains=f":{no_rm.pk}:").exists()
    everyone = {affluent.pk, wealth.pk, private.pk, mass.pk, no_rm.pk}
    assert firings(sms) == firings(email) == everyone

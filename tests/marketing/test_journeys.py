"""The lifecycle journeys of issue 19 beyond the first five: an insurance policy due for
renewal, the same product (by its catalogue code) viewed in the app three times in a week,
the app's events applied through the real inbox, and the birthday care task for the RM of
affluent, wealth and private customers. Each fires once per customer and occurrence, through
the same checks and delivery path as the others."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bankcrm.models import StaffNotification
from customers.ingest.services import inbox_process, inbox_store
from customers.models import ExternalIdentity, Interaction, Product
from customers.models.integration import IntegrationSource
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


class AppFeed:
    """The mobile app's events, stored and applied through the real inbox
    (customers.ingest): each view becomes an interaction with the product's code."""

    def __init__(self):
        self.source = IntegrationSource.objects.create(code="app", name="App", kind="app")
        self.sequence = itertools.count(1)

    def event(self, customer, data, *, days_ago=0):
        ref = f"U{customer.pk}"
        ExternalIdentity.objects.get_or_create(
            source=self.source.code, external_id=ref, defaults={"customer": customer}
        )
        n = next(self.sequence)
        at = timezone.localtime() - timedelta(days=days_ago)
        outcomes = inbox_store(source=self.source, events=[{
            "event_id": f"app-{n}", "sequence": n, "type": "app.activity",
            "occurred_at": at.isoformat(), "data": {"customer_ref": ref, **data},
        }])  # fmt: skip
        assert outcomes[0].accepted, outcomes[0].errors
        while inbox_process(limit=50):
            pass

    def view(self, customer, code=None, *, name=None, days_ago=0):
        data = {"action": "product_view"}
        if code is not None:
            data["product_code"] = code
        if name is not None:
            data["product"] = name
        self.event(customer, data, days_ago=days_ago)


@pytest.fixture
def app(db):
    return AppFeed()


@pytest.fixture
def interest():
    return Journey.objects.create(
        name="产品兴趣", trigger=Journey.Trigger.PRODUCT_INTEREST, body="您关注的产品"
    )


def test_three_views_of_one_product_fire_once_whatever_the_app_calls_it(branch, rm, app, interest):
    """Views are matched by the product's catalogue code, not by the words of the
    interaction's subject: the app naming one product three ways is still one product."""
    keen, spread = (factories.customer(branch=branch, rm=rm) for _ in range(2))
    for c in (keen, spread):
        consent(c)
    for days, name in ((0, "稳健理财A"), (2, "稳健理财 A（热销）"), (5, None)):
        app.view(keen, "WM-A", name=name, days_ago=days)
    for days in (0, 1):
        app.view(keen, "FD-B", name="基金B", days_ago=days)  # twice only
    for days in (0, 3, 9):
        app.view(spread, "WM-A", name="稳健理财A", days_ago=days)  # the third: over a week ago
    assert Interaction.objects.filter(customer=keen).exclude(product_code="").count() == 5
    assert journey_fire(interest) == 1
    assert firings(interest) == {keen.pk}
    today = timezone.localdate()
    assert JourneyFiring.objects.get(journey=interest).occurrence == f"viewed:WM-A:{today}"
    assert Delivery.objects.filter(firing__journey=interest, customer=keen).count() == 1
    # Still three views in the window tomorrow: not reached again for the same product.
    assert journey_fire(interest, today=today + timedelta(days=1)) == 0
    # A third view of the other product: that product is another occurrence.
    app.view(keen, "FD-B", name="基金B")
    assert journey_fire(interest) == 1
    assert JourneyFiring.objects.filter(journey=interest, customer=keen).count() == 2


def test_views_of_three_products_do_not_fire_whatever_the_app_calls_them(branch, rm, app, interest):
    """Three products once each, even under one name (the subject is the same three
    times); views that name no product code; sign-ins: none of them is an interest."""
    browsing, unnamed, signing_in = (factories.customer(branch=branch, rm=rm) for _ in range(3))
    for c in (browsing, unnamed, signing_in):
        consent(c)
    for code in ("WM-1", "WM-2", "WM-3"):
        app.view(browsing, code, name="热门理财")
    subjects = set(Interaction.objects.filter(customer=browsing).values_list("subject", flat=True))
    assert len(subjects) == 1  # what the subject-based matching counted as one product
    for _n in range(3):
        app.view(unnamed, name="热门理财")  # a name the catalogue does not know: no code
        app.event(signing_in, {"action": "login"})
    assert journey_fire(interest) == 0
    assert not JourneyFiring.objects.exists()


def test_a_product_sent_by_its_catalogue_code_alone_counts(branch, rm, app, interest):
    """An app that puts the catalogue code in `product` (no product_code): the view is of
    that product, named in the subject as the catalogue names it."""
    factories.product(code="FD-CSI300", name_zh="沪深300指数基金")
    keen = factories.customer(branch=branch, rm=rm)
    consent(keen)
    for days in (0, 1, 2):
        app.view(keen, name="FD-CSI300", days_ago=days)
    view = Interaction.objects.filter(customer=keen).first()
    assert view.product_code == "FD-CSI300" and view.subject.endswith("沪深300指数基金")
    assert journey_fire(interest) == 1


def test_product_interest_returns_after_the_window(branch, rm, app, interest):
    keen = factories.customer(branch=branch, rm=rm)
    consent(keen)
    for days in (0, 1, 2):
        app.view(keen, "WM-A", days_ago=days)
    assert journey_fire(interest) == 1
    JourneyFiring.objects.filter(journey=interest).update(
        fired_at=timezone.now() - timedelta(days=8)
    )
    assert journey_fire(interest, today=timezone.localdate() + timedelta(days=8)) == 1


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

"""What `make run` shows of analytics (analytics/demo.py): an active churn model trained on
the demo's own history by one person and activated by another, every customer scored with
reasons, value tiers on the customer record, and the sentiment of the demo's texts; a
second seed adds nothing. One seed of 1,000 customers serves the module (at 300 the demo
RMs' rich histories leave too few churners for LightGBM to beat its baseline), made in a
transaction rolled back at the module's end, as tests/customers/test_seed_demo.py does."""

import io

import pytest
from django.core.management import call_command
from django.db import transaction

from analytics.kpi_models import KpiRun
from analytics.models import CustomerScore, CustomerValue, ModelVersion, NightlyRun
from analytics.sentiment import scorer
from analytics.text_models import TextSentiment
from compliance.models import DataChange
from customers.models import Customer, Interaction, OutboundEvent
from service.models import Ticket

pytestmark = pytest.mark.django_db
CUSTOMERS = 1000


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", customers=CUSTOMERS, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module", autouse=True)
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield seed()
        transaction.set_rollback(True)


def test_the_dashboards_have_a_year_of_month_ends_yesterday_and_today():
    """A branch manager's first look at `make run` finds figures, not "no snapshot yet"."""
    from datetime import timedelta

    from django.utils import timezone

    from analytics.demo import KPI_MONTHS
    from analytics.kpi_models import KpiBalanceDay

    today = timezone.localdate()
    days = set(KpiRun.objects.values_list("day", flat=True))
    assert {today, today - timedelta(days=1)} <= days
    assert len(days) == KPI_MONTHS + 2 or len(days) == KPI_MONTHS + 1  # yesterday a month-end
    assert all(d.day == 1 or (d + timedelta(days=1)).day == 1 or d >= today - timedelta(days=1)
               for d in days)  # fmt: skip
    assert KpiBalanceDay.objects.filter(day=today).exists()


def test_the_churn_model_is_trained_by_one_person_and_active_by_another():
    model = ModelVersion.objects.get(name="churn")
    assert model.status == ModelVersion.Status.ACTIVE
    assert (model.trained_by.username, model.activated_by.username) == ("admin", "compliance")
    assert model.source == ModelVersion.Source.CRM and model.window_start < model.window_end
    assert model.beats_baseline
    # In the trail by those two, labelled as the demo's.
    rows = DataChange.objects.filter(table_name="analytics_modelversion", row_pk=str(model.pk))
    assert {(r.op, r.actor_id, r.actor_label) for r in rows} == {
        ("I", model.trained_by_id, "demo"), ("U", model.activated_by_id, "demo"),
    }  # fmt: skip


def test_every_customer_is_scored_with_reasons_and_valued():
    model = ModelVersion.objects.get(name="churn")
    assert NightlyRun.objects.get().status == NightlyRun.Status.DONE
    scores = CustomerScore.objects.filter(model_version=model)
    assert scores.count() == Customer.objects.count() == CUSTOMERS
    assert scores.exclude(reasons=[]).count() > CUSTOMERS // 2
    values = CustomerValue.objects.filter(churn_from_model=True)
    assert values.count() == CUSTOMERS
    # The record shows the value tier (closed customers keep theirs).
    live = values.exclude(customer__lifecycle="closed")
    assert not [v for v in live.select_related("customer") if v.customer.tier != v.tier]
    assert set(live.values_list("tier", flat=True)) >= {"mass", "affluent", "wealth"}


def test_the_demos_texts_have_their_sentiment():
    notes = Interaction.objects.exclude(notes="")
    tickets = Ticket.objects.exclude(description="")
    assert notes.count() > 100 and tickets.count() == 60
    computed = TextSentiment.objects.filter(computed_at__isnull=False)
    assert computed.filter(kind="interaction").count() == notes.count()
    assert computed.filter(kind="ticket").count() == tickets.count()
    assert not TextSentiment.objects.pending().exists()
    labels = set(computed.values_list("label", flat=True))
    assert labels == {"negative", "neutral", "positive"}
    # Each text scored as the task scores one (text_sentiment_compute), kept with its
    # customer and the model's version.
    model = scorer()
    for ticket in tickets:
        row = computed.get(kind="ticket", source_id=ticket.pk)
        assert (row.label, row.score) == model.score(ticket.description)
        assert (row.customer_id, row.model_version) == (ticket.customer_id, model.version)


def test_a_second_seed_adds_nothing():
    def counts():
        return (ModelVersion.objects.count(), CustomerScore.objects.count(),
                NightlyRun.objects.count(), TextSentiment.objects.count(),
                OutboundEvent.objects.count(), DataChange.objects.count(),
                KpiRun.objects.count())  # fmt: skip

    before = counts()
    output = seed()
    assert counts() == before
    assert "model versions" not in output and "customer scores" not in output
    assert "text sentiments" not in output and "KPI snapshot days" not in output

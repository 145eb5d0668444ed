"""The nightly run: every customer scored by the active model with three reasons, value tier
and lifetime value, the tier change published; a second run of the day does nothing. And who
sees it: scores only for roles that may see assets, model pages for compliance and admins."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import CustomerScore, CustomerValue, NightlyRun
from analytics.nightly import nightly_run
from analytics.panels import customer_value
from customers.models import Customer, OutboundEvent
from service.models import Ticket
from tests import factories
from tests.analytics.helpers import activate, book, synthetic_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(branch, rm, admin_user, compliance_officer):
    today = timezone.localdate()
    customers = book(branch, rm, today=today)
    model = activate(synthetic_model("churn", trainer=admin_user), compliance_officer)
    run = nightly_run(day=today)
    return {"customers": customers, "model": model, "run": run, "today": today}


def test_nightly_scores_values_and_publishes_tier(scored):
    run, model, customers = scored["run"], scored["model"], scored["customers"]
    assert run.status == NightlyRun.Status.DONE and run.customers == 3 and run.scores == 3
    scores = CustomerScore.objects.filter(model_version=model, scored_on=scored["today"])
    assert scores.count() == 3
    for score in scores:
        assert 0 <= score.score <= 1
        assert 1 <= len(score.reasons) <= 3
        contributions = [r["contribution"] for r in score.reasons]
        assert contributions == sorted(contributions, reverse=True) and min(contributions) > 0
    wealthy = CustomerValue.objects.get(customer=customers[0])
    # 600k wealth + 80k current: over the wealth threshold (500k) whatever the stickiness.
    assert wealthy.tier == "wealth" and wealthy.churn_from_model
    assert wealthy.clv > 0 and wealthy.margin_per_year > 0
    assert CustomerValue.objects.get(customer=customers[1]).tier == "affluent"
    # Between the wealth (500k) and private banking (6M) floors: wealth on the customer
    # record too, and the change is published with it.
    assert Customer.objects.get(pk=customers[0].pk).tier == "wealth"
    assert Customer.objects.get(pk=customers[1].pk).tier == "affluent"
    events = OutboundEvent.objects.filter(event_type="customer.tier_changed")
    assert events.count() == 3
    published = events.get(customer=customers[0])
    assert (published.payload["previous_tier"], published.payload["tier"]) == ("mass", "wealth")


def test_nightly_is_idempotent_per_day(scored):
    today = scored["today"]
    events = OutboundEvent.objects.count()
    values = list(CustomerValue.objects.order_by("pk").values_list("tier", "clv", "tier_since"))
    assert nightly_run(day=today) is None  # the day is done
    rerun = nightly_run(day=today, force=True)  # an operator runs it again: same result
    assert rerun.status == NightlyRun.Status.DONE
    assert CustomerScore.objects.count() == 3
    assert (
        list(CustomerValue.objects.order_by("pk").values_list("tier", "clv", "tier_since"))
        == values
    )
    assert OutboundEvent.objects.count() == events  # no tier changed again
    assert NightlyRun.objects.count() == 1


def test_old_daily_scores_expire_but_month_ends_stay(scored, settings):
    """Past ANALYTICS_SCORE_DAYS only each month's last day is kept; the newer days, other
    models' rows of the same days and a second expiry are untouched."""
    from datetime import date

    from analytics.nightly import scores_expire

    settings.ANALYTICS_SCORE_DAYS = 30
    model, today = scored["model"], date(2026, 12, 2)
    one = CustomerScore.objects.filter(model_version=model).first()
    for day in (date(2026, 9, 29), date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 31),
                date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)):  # fmt: skip
        CustomerScore.objects.create(customer=one.customer, model_version=model,
                                     model_name=model.name, score=0.5, scored_on=day)  # fmt: skip
    assert scores_expire(today) == 3  # 29 Sep, 1 Oct, 1 Nov (the cutoff is 2 Nov)
    kept = set(
        CustomerScore.objects.filter(customer=one.customer, model_version=model)
        .values_list("scored_on", flat=True)
    )  # fmt: skip
    assert {date(2026, 9, 30), date(2026, 10, 31), date(2026, 11, 2),
            date(2026, 11, 3)} <= kept  # fmt: skip
    assert not kept & {date(2026, 9, 29), date(2026, 10, 1), date(2026, 11, 1)}
    assert scores_expire(today) == 0


def test_panel_for_asset_roles_only(scored, client, login, rm, agent, supervisor):
    customer = scored["customers"][1]
    login(rm)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'data-testid="analytics-panel"' in page and 'data-testid="reasons"' in page
    assert 'data-testid="move-up"' in page and 'data-testid="clv"' in page
    # A reason in words, in the page's language (Chinese by default).
    assert "工资" in page or "投诉" in page
    client.logout()
    factories.ticket(customer, assignee=agent, status=Ticket.Status.ASSIGNED)
    login(agent)
    page = client.get(f"/customers/{customer.pk}/")
    assert page.status_code == 200
    assert 'data-testid="analytics-panel"' not in page.content.decode()


def test_panel_queries_constant(scored, rf, rm, admin_user, compliance_officer):
    request = rf.get("/")
    request.user = rm
    customer = scored["customers"][0]
    customer_value(request, customer)  # the user's roles are read once per request
    with CaptureQueriesContext(connection) as one:
        customer_value(request, customer)
    # More models and more days of scores: the same number of queries.
    other = activate(synthetic_model("potential", trainer=admin_user, seed=3), compliance_officer)
    nightly_run(day=scored["today"] + timedelta(days=1))
    assert CustomerScore.objects.filter(customer=customer).count() == 3
    with CaptureQueriesContext(connection) as many:
        panel = customer_value(request, customer)
    assert len(many) == len(one) <= 2
    assert {s.model_name for s, _title, _why in panel["scores"]} == {"churn", other.name}


def test_rm_home_lists_high_value_at_risk(scored, client, login, rm):
    CustomerValue.objects.filter(customer=scored["customers"][0]).update(stickiness=0.1)
    login(rm)
    page = client.get("/").content.decode()
    assert 'data-testid="at-risk"' in page
    assert page.count('data-testid="at-risk-row"') == 1
    assert scored["customers"][0].name in page


def test_model_pages(
    scored, client, login, rm, admin_user, compliance_officer, django_assert_max_num_queries
):
    model = scored["model"]
    login(rm)
    assert client.get("/analytics/models/").status_code == 403
    assert client.get(f"/analytics/models/{model.pk}/").status_code == 404
    client.logout()
    login(compliance_officer)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/analytics/models/").status_code == 200
    for seed in range(2):
        synthetic_model("churn", trainer=admin_user, seed=10 + seed)
    with django_assert_max_num_queries(len(few)):
        page = client.get("/analytics/models/")
    assert page.content.decode().count('data-testid="model-row"') == 3
    newest = model.__class__.objects.filter(name="churn").latest("version")
    with CaptureQueriesContext(connection) as detail:
        page = client.get(f"/analytics/models/{newest.pk}/")
    assert 'data-testid="activate"' in page.content.decode()
    assert len(detail) <= 12
    response = client.post(f"/analytics/models/{newest.pk}/activate/")
    assert response.status_code == 302
    newest.refresh_from_db()
    assert newest.status == "active" and newest.activated_by == compliance_officer
    client.logout()
    # The trainer sees no button and a POST of theirs is refused.
    login(admin_user)
    older = model.__class__.objects.get(name="churn", version=newest.version - 1)
    assert (
        'data-testid="activate"'
        not in client.get(f"/analytics/models/{older.pk}/").content.decode()
    )
    assert client.post(f"/analytics/models/{older.pk}/activate/").status_code == 403

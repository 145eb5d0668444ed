"""Analytics' part of the demo (bankcrm.registry.DEMO_SEEDERS, last: it reads what the other
seeders wrote), so that the first morning of `make run` looks like any other:

- a churn model trained on the demo's own history (analytics.history.crm_table, what
  `manage.py model_train churn` does) by the demo's administrator and activated by the
  compliance officer, model risk management's second person. The services' rules apply as
  on the model page: a model worse than its baseline stays trained, not active;
- the nightly run for today (analytics.nightly): every customer scored with reasons, value
  tiers and lifetime values;
- the sentiment of the texts the seeders wrote: interaction notes, COPYed around the
  services, are queued by text_sentiment_backfill; ticket descriptions are pending since
  ticket_open; both are computed in batches (text_sentiment_compute_pending), each
  distinct text scored once;
- KPI snapshots (analytics.kpi) of the last KPI_MONTHS month-ends, yesterday and today, so
  the dashboards have a year of months and a day on day before beat's first hourly run
  (backfilled days, as every backfill, file customers under today's branch, RM and tier).

Writes are labelled `demo` in the data-change trail (the services run as their actor under
the demo's label, as marketing's seeder does), except the nightly run's tier changes, which
are the run's own ("analytics nightly").

Idempotent: a churn model is trained only while there is none; the nightly run is made
only while none has been, or again for today when this seed added customers (so they are
scored too); only pending texts are computed; snapshots only while there are none. A
second `seed_demo` adds nothing.
"""

from datetime import date, timedelta

from django.utils import timezone

from analytics import training
from analytics.history import crm_table
from analytics.kpi import kpi_refresh, kpi_snapshot
from analytics.kpi_models import KpiRun
from analytics.models import ModelVersion, NightlyRun
from analytics.nightly import CHURN_MODEL, nightly_run
from analytics.sentiment import text_sentiment_backfill, text_sentiment_compute_pending
from analytics.services import model_version_activate, model_version_record
from bankcrm.audit import SYSTEM, audit_context
from bankcrm.demo import DEMO_LABEL, Demo

TRAINER, ACTIVATOR = "admin", "compliance"
# As-of dates of the training rows, a month apart (model_train's default is 4): at the
# default size 2 give the same held-out ROC AUC (0.75) in half the time (features are built
# once per date).
SNAPSHOTS = 2
TEXT_BATCH = 5000


def _as(actor, service, **kwargs):
    """An analytics service run as `actor`, its writes by that user and labelled `demo`."""
    with audit_context(actor=actor, label=DEMO_LABEL):
        return service.__wrapped__(actor=actor, context=SYSTEM, **kwargs)


def seed_churn_model(demo: Demo) -> ModelVersion | None:
    """The demo's churn model, trained and activated; None when one exists already or the
    history gives nothing to learn from (a demo of a few customers)."""
    if ModelVersion.objects.filter(name=CHURN_MODEL).exists():
        return None
    today = timezone.localdate()
    demo.progress(f"analytics: training the {CHURN_MODEL} model on the demo's history")
    try:
        table, window = crm_table(CHURN_MODEL, today=today, snapshots=SNAPSHOTS)
        trained = training.train(table)
    except training.DataError as exc:
        demo.progress(f"analytics: no {CHURN_MODEL} model ({exc})")
        return None
    version = _as(
        demo.users[TRAINER], model_version_record, name=CHURN_MODEL,
        source=ModelVersion.Source.CRM, source_detail=f"{SNAPSHOTS} as-of dates (demo)",
        table=table, trained=trained, window=window,
    )  # fmt: skip
    demo.add("model versions", 1)
    if version.beats_baseline:
        version = _as(demo.users[ACTIVATOR], model_version_activate, version_id=version.pk)
    else:
        demo.progress(f"analytics: {version} does worse than its baseline, left inactive")
    return version


def seed(demo: Demo) -> None:
    seed_churn_model(demo)
    added_customers = demo.counts.get("customers", 0) > 0
    if added_customers or not NightlyRun.objects.filter(status=NightlyRun.Status.DONE).exists():
        demo.progress("analytics: the nightly run (scores, value tiers, lifetime values)")
        run = nightly_run(day=timezone.localdate(), force=True)
        demo.add("customer scores", run.scores)
        demo.add("tier changes", run.tier_changes)
    demo.progress("analytics: sentiment of the demo's texts")
    text_sentiment_backfill()
    while computed := text_sentiment_compute_pending(limit=TEXT_BATCH):
        demo.add("text sentiments", computed)
    seed_kpi(demo)


KPI_MONTHS = 13  # month on month over a year, and the same month a year before


def kpi_days(today: date) -> list[date]:
    """The month-ends of the last KPI_MONTHS months and yesterday, oldest first."""
    days = {today - timedelta(days=1)}
    month_end = today.replace(day=1) - timedelta(days=1)
    for _ in range(KPI_MONTHS):
        days.add(month_end)
        month_end = month_end.replace(day=1) - timedelta(days=1)
    return sorted(days)


def seed_kpi(demo: Demo) -> None:
    if KpiRun.objects.exists():
        return
    today = timezone.localdate()
    days = kpi_days(today)
    demo.progress(f"analytics: KPI snapshots of {len(days)} past days and today")
    for day in days:
        kpi_snapshot(day)
    kpi_refresh(today)
    demo.add("KPI snapshot days", len(days) + 1)

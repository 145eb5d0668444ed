"""The nightly run: every customer's scores, value tier and lifetime value for one day.

1. Feature rows at the end of the day before (analytics.features), one statement.
2. Each active model that reads the CRM's features scores everyone; the three largest
   contributions of each score are kept as its reasons. The day's scores of a version are
   replaced as a whole (DELETE, then COPY in), so running the day again changes nothing.
3. Value score, tier and CLV (analytics.value) with the churn model's probability, upserted
   into CustomerValue through a temporary table; a changed tier keeps its date.
4. The tier on the customer record is set where it differs: the customers' trigger turns
   each change into a `customer.tier_changed` outbound event (customers/ingest/outbound.py)
   and the audit trigger records it with this run as the actor's label.

The day is claimed by inserting its NightlyRun row (unique day): a second run of the same
day, from beat firing twice or a retried task, finds the row and does nothing unless the
first one failed or was left running for longer than STALE.
"""

import io
import json
import logging
import time
from datetime import date, timedelta

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from analytics import training, value
from analytics.features import FEATURE_NAMES, build_features, copy_floats
from analytics.models import CustomerScore, CustomerValue, ModelVersion, NightlyRun, ValuePolicy
from bankcrm.audit import audit_context

logger = logging.getLogger(__name__)
STALE = timedelta(hours=6)
CHURN_MODEL = "churn"
BATCH = 100_000  # rows scored at a time: bounds memory of the contribution matrix


def claim(day: date, *, force: bool = False) -> NightlyRun | None:
    run, created = NightlyRun.objects.get_or_create(day=day)
    if created:
        return run
    retry = NightlyRun.objects.filter(pk=run.pk)
    if not force:
        from django.db.models import Q

        retry = retry.filter(
            Q(status=NightlyRun.Status.FAILED)
            | Q(status=NightlyRun.Status.RUNNING, started_at__lt=timezone.now() - STALE)
        )
    taken = retry.update(status=NightlyRun.Status.RUNNING, started_at=timezone.now(),
                         finished_at=None, failure="")  # fmt: skip
    return NightlyRun.objects.get(pk=run.pk) if taken else None


def scores_customers(version: ModelVersion) -> bool:
    """Whether a version reads the CRM's own features (a model trained on a file with
    other columns scores files, not customers)."""
    return all(f["name"] in FEATURE_NAMES and f["kind"] == "numeric" for f in version.features)


# How far back a night looks for daily scores to expire: nights missed within it are caught up.
EXPIRY_WINDOW = timedelta(days=62)


def scores_expire(day: date) -> int:
    """Daily scores older than settings.ANALYTICS_SCORE_DAYS before `day` are deleted, except
    those of a month's last day (the history by month; a month whose last night did not run
    keeps none). A million rows a night per active model would otherwise grow for ever. Each
    version's rows in the EXPIRY_WINDOW before the cutoff, through the unique index (version,
    day, customer): the night's work is the day that aged out, not the table. Idempotent;
    how many rows went."""
    cutoff = day - timedelta(days=settings.ANALYTICS_SCORE_DAYS)
    deleted = 0
    with connection.cursor() as cursor:
        for version_id in ModelVersion.objects.values_list("pk", flat=True):
            cursor.execute(
                "DELETE FROM analytics_customerscore WHERE model_version_id = %s"
                " AND scored_on >= %s AND scored_on < %s"
                " AND extract(day FROM scored_on + 1) <> 1",
                [version_id, cutoff - EXPIRY_WINDOW, cutoff],
            )
            deleted += cursor.rowcount
    return deleted


def nightly_run(*, day: date | None = None, force: bool = False) -> NightlyRun | None:
    """Scores, tiers and lifetime values for `day` (today); None if the day is done."""
    day = day or timezone.localdate()
    run = claim(day, force=force)
    if run is None:
        return None
    timings: dict[str, float] = {}
    try:
        started = time.monotonic()
        as_of = day - timedelta(days=1)
        frame = build_features(as_of)
        timings["features"] = round(time.monotonic() - started, 2)
        churn = None
        scored = 0
        for version in ModelVersion.objects.active().order_by("name"):
            if not scores_customers(version):
                continue
            t0 = time.monotonic()
            probability = score_frame(version, frame, day)
            scored += len(probability)
            if version.name == CHURN_MODEL:
                churn = probability
            timings[f"score:{version.name}"] = round(time.monotonic() - t0, 2)
        t0 = time.monotonic()
        changes = write_values(frame, day, churn)
        timings["values"] = round(time.monotonic() - t0, 2)
        t0 = time.monotonic()
        scores_expire(day)
        timings["expire"] = round(time.monotonic() - t0, 2)
        timings["total"] = round(time.monotonic() - started, 2)
    except Exception as exc:
        NightlyRun.objects.filter(pk=run.pk).update(
            status=NightlyRun.Status.FAILED, failure=f"{type(exc).__name__}: {exc}"[:300],
            finished_at=timezone.now(), timings=timings,
        )  # fmt: skip
        raise
    NightlyRun.objects.filter(pk=run.pk).update(
        status=NightlyRun.Status.DONE, finished_at=timezone.now(), customers=len(frame.ids),
        scores=scored, tier_changes=changes, timings=timings,
    )  # fmt: skip
    run.refresh_from_db()
    logger.info("analytics nightly %s: %s", day, timings)
    return run


def top_reasons(contrib: np.ndarray, X: np.ndarray, names, k: int = 3) -> list[str]:
    """Per row, the JSON of the k features that raised the score most (positive
    contributions only, largest first)."""
    k = min(k, contrib.shape[1])
    top = np.argpartition(-contrib, k - 1, axis=1)[:, :k]
    rows = []
    for i in range(len(contrib)):
        picked = sorted(top[i], key=lambda j: -contrib[i, j])
        rows.append(json.dumps([
            {"feature": names[j],
             "value": None if np.isnan(X[i, j]) else round(float(X[i, j]), 4),
             "contribution": round(float(contrib[i, j]), 4)}
            for j in picked if contrib[i, j] > 0
        ], ensure_ascii=False))  # fmt: skip
    return rows


def score_frame(version: ModelVersion, frame, day: date) -> np.ndarray:
    """Scores every row of `frame` with `version` and stores the day's scores."""
    names = [f["name"] for f in version.features]
    X = frame.X[:, [frame.names.index(n) for n in names]]
    probability = np.empty(len(X))
    now = timezone.now()
    with transaction.atomic():
        CustomerScore.objects.filter(model_version=version, scored_on=day).delete()
        columns = "customer_id, model_version_id, model_name, score, reasons, scored_on, scored_at"
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY analytics_customerscore ({columns}) FROM STDIN") as copy,
        ):
            for start in range(0, len(X), BATCH):
                part = X[start : start + BATCH]
                p = np.clip(training.predict(version, part), 0, 1)
                probability[start : start + BATCH] = p
                reasons = top_reasons(training.contributions(version, part), part, names)
                ids = frame.ids[start : start + BATCH]
                for customer_id, score, why in zip(ids.tolist(), p.tolist(), reasons, strict=True):
                    copy.write_row((customer_id, version.pk, version.name, score, why, day, now))
    return probability


def _margins_and_overdue(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per customer of `ids` (ascending): yearly margin of the products held today and the
    most overdue loan's days."""
    margins = value.margins()
    kinds = list(margins)
    statement = """
        SELECT a.customer_id::float8,
               coalesce(sum(greatest(a.balance, 0) * m.pct / 100 + m.fee)
                        FILTER (WHERE a.currency = 'CNY'), 0)::float8,
               coalesce(max(a.overdue_days) FILTER (WHERE a.kind = 'loan'), 0)::float8
          FROM customers_account a
          JOIN unnest(%(kinds)s::text[], %(pcts)s::numeric[], %(fees)s::numeric[]) m(kind, pct, fee)
            ON m.kind = a.kind
         WHERE a.status <> 'closed'
         GROUP BY a.customer_id
    """
    params = {"kinds": kinds, "pcts": [margins[k][0] for k in kinds],
              "fees": [margins[k][1] for k in kinds]}  # fmt: skip
    rows = copy_floats(statement, params, width=3)
    margin, overdue = np.zeros(len(ids)), np.zeros(len(ids))
    if len(rows):
        where = np.searchsorted(ids, rows[:, 0].astype(np.int64))
        found = (where < len(ids)) & (ids[np.minimum(where, len(ids) - 1)] == rows[:, 0])
        margin[where[found]], overdue[where[found]] = rows[found, 1], rows[found, 2]
    return margin, overdue


def write_values(frame, day: date, churn: np.ndarray | None) -> int:
    """CustomerValue for every row of `frame`; the tier on the customer record where it
    changed. Returns how many customers changed tier."""
    policy = ValuePolicy.current()
    levels = value.load_tiers()  # fresh, not the pages' cached copy
    margin, overdue = _margins_and_overdue(frame.ids)
    values = value.compute_values(frame, overdue, policy, levels)
    from_model = churn is not None
    p = churn if from_model else np.full(len(frame.ids), float(policy.default_churn))
    lifetime = value.clv(margin, p, policy)
    codes = [levels[r].code for r in values.rank]
    comp = values.components
    tenure = np.nan_to_num(frame.column("tenure_days"))
    buffer = io.StringIO()
    for i, customer_id in enumerate(frame.ids.tolist()):
        components = {k: round(float(v[i]), 3) for k, v in comp.items()}
        components.update(kinds=int(frame.column("product_kinds")[i]),
                          tenure_years=round(float(tenure[i]) / 365, 1),
                          overdue_days=int(overdue[i]))  # fmt: skip
        buffer.write("\t".join((
            str(customer_id), f"{values.aum[i]:.2f}", repr(float(values.stickiness[i])),
            repr(float(values.risk_factor[i])), f"{values.score[i]:.2f}", codes[i],
            json.dumps(components).replace("\\", "\\\\"), f"{margin[i]:.2f}",
            repr(float(p[i])), f"{lifetime[i]:.2f}",
        )) + "\n")  # fmt: skip
    mapping = [(t.code, t.customer_tier) for t in levels]
    with transaction.atomic(), connection.cursor() as cursor:
        # (Inside an outer transaction, as in tests, ON COMMIT has not come yet.)
        cursor.execute("DROP TABLE IF EXISTS pg_temp.analytics_value_in")
        cursor.execute("""
            CREATE TEMPORARY TABLE analytics_value_in (
                customer_id bigint, aum numeric, stickiness float8, risk_factor float8,
                value_score numeric, tier text, components jsonb, margin numeric,
                churn float8, clv numeric) ON COMMIT DROP
        """)  # fmt: skip
        with cursor.cursor.copy("COPY analytics_value_in FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        cursor.execute(
            f"""
            INSERT INTO {CustomerValue._meta.db_table} AS v (customer_id, computed_on, aum,
                stickiness, risk_factor, value_score, tier, tier_since, previous_tier,
                components, margin_per_year, churn_probability, churn_from_model, clv)
            SELECT customer_id, %(day)s, aum, stickiness, risk_factor, value_score, tier,
                   %(day)s, '', components, margin, churn, %(model)s, clv
              FROM analytics_value_in
            ON CONFLICT (customer_id) DO UPDATE SET
                computed_on = EXCLUDED.computed_on, aum = EXCLUDED.aum,
                stickiness = EXCLUDED.stickiness, risk_factor = EXCLUDED.risk_factor,
                value_score = EXCLUDED.value_score, tier = EXCLUDED.tier,
                tier_since = CASE WHEN v.tier = EXCLUDED.tier THEN v.tier_since
                                  ELSE EXCLUDED.tier_since END,
                previous_tier = CASE WHEN v.tier = EXCLUDED.tier THEN v.previous_tier
                                     ELSE v.tier END,
                components = EXCLUDED.components, margin_per_year = EXCLUDED.margin_per_year,
                churn_probability = EXCLUDED.churn_probability,
                churn_from_model = EXCLUDED.churn_from_model, clv = EXCLUDED.clv
            """,  # noqa: S608 (the table name is the model's)
            {"day": day, "model": from_model},
        )
        with audit_context(label="analytics nightly"):
            cursor.execute(
                """
                UPDATE customers_customer c SET tier = m.customer_tier, updated_at = now()
                  FROM analytics_value_in v
                  JOIN unnest(%(codes)s::text[], %(tiers)s::text[]) m(code, customer_tier)
                    ON m.code = v.tier
                 WHERE c.id = v.customer_id AND c.tier <> m.customer_tier
                   AND c.lifecycle <> 'closed'
                """,
                {"codes": [c for c, _t in mapping], "tiers": [t for _c, t in mapping]},
            )
            changed = cursor.rowcount
    return changed

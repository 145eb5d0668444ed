"""Daily KPI snapshots (analytics.kpi_models): one day at a time, in SQL, idempotent.

`kpi_snapshot(day)` rebuilds a day: under an advisory lock on the day, in one transaction,
it deletes the day's rows from every snapshot table and inserts them again with
INSERT … SELECT … GROUP BY statements (no row goes through Python). Running a day twice
gives the same rows; beat closes yesterday at 02:15 (after the nightly value run);
`manage.py kpi_snapshot --from D --to D` backfills.

`kpi_refresh(today)`, every hour: the day's first run rebuilds it, the later ones apply the
changes since (analytics.KpiChange, written by triggers in the writers' transactions): the
same statements, over the branch × RM × tier slices the changed customers are in or left
(`_apply_changes`), give the rows a rebuild would; nothing to apply, nothing written.

How a past day is known (the CRM keeps current balances and the transaction history):
- The balance at the end of day D is the account's current balance less the flows booked
  after D (credits add to deposits and wealth, debits add to loans and cards, which are
  owed), the method of the 360 chart and analytics.features. It holds while balances and
  transactions agree; an account without transactions (a time deposit, a loan in the
  demo data) keeps its balance from its opening day. Only the default currency (CNY)
  counts.
- The month-to-date daily average: for each account, Σ over the days d from the later of
  the 1st and its opening day to D of the end-of-day balance, which is
  (days) × balance(D) − Σ over this month's transactions after its first day of
  amount × (transaction day − first day); the group's sum ÷ the days of the month to D.
- Transacting (90 days) and retention are from the transactions, so a backfill gets them
  right: retention at D is, of the customers with a transaction in the 90 days to D − 30,
  the share with one in the 90 days to D.
- What the CRM keeps only as the current state is taken as it is when the day is
  snapshotted: each customer's branch, RM, tier and lifecycle, an account's status (open
  or closed) and overdue days. Rows made on the night after D are right; a backfill of an
  older day files customers by today's branch, RM, tier and lifecycle.
- Tier changes come from analytics.CustomerValue, which keeps only each customer's last
  change (previous tier, since when): the nightly row of D+1 (the run that values D)
  gives the moves of D. A backfill finds the moves that were not changed again since.
- Tickets: opened on D (created), resolved on D (resolved, else closed), of those with a
  resolution target the ones resolved by it; surveys answered on D. Campaigns: deliveries
  sent on D with their step's price, and converted on D with the campaign's revenue per
  conversion. Both filed under the customer's branch (and RM for campaigns).
"""

import logging
import time
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from analytics import value
from analytics.kpi_models import (
    KpiBalanceDay,
    KpiCampaignDay,
    KpiChange,
    KpiCustomerDay,
    KpiQueueDay,
    KpiRun,
    KpiTierMoveDay,
)

logger = logging.getLogger(__name__)

LIABILITY_KINDS = ("loan", "card")
DEPOSIT_KINDS = ("current", "time_deposit")
ASSET_KINDS = ("current", "time_deposit", "wealth")  # AUM: deposits and wealth products

# Per account: the end-of-day balance and the month's Σ of end-of-day balances.
_ACCOUNTS = """
CREATE TEMPORARY TABLE kpi_account ON COMMIT DROP AS
WITH acct AS (
    SELECT a.id, a.customer_id, a.kind, a.balance, a.status, a.overdue_days,
           greatest(a.opened_on, %(month_first)s::date) AS since,
           a.kind IN ('loan', 'card') AS owed
      FROM {accounts}
     WHERE a.opened_on <= %(day)s::date AND a.currency = %(currency)s
), flows AS (
    SELECT t.account_id,
           sum(s.amount) FILTER (WHERE t.booked_at >= %(asof)s) AS after_d,
           sum(s.amount * ((t.booked_at AT TIME ZONE %(tz)s)::date - a.since))
               FILTER (WHERE t.booked_at < %(asof)s) AS weighted
      FROM {transactions} t
      JOIN acct a ON a.id = t.account_id
      CROSS JOIN LATERAL (SELECT CASE WHEN (t.direction = 'credit') <> a.owed
                                 THEN t.amount ELSE -t.amount END AS amount) s
     WHERE t.booked_at >= %(month_start)s
     GROUP BY t.account_id
)
SELECT a.id, a.customer_id, a.kind, a.status <> 'closed' AS open, a.overdue_days,
       a.balance - coalesce(f.after_d, 0) AS balance,
       (%(day)s::date - a.since + 1) * (a.balance - coalesce(f.after_d, 0))
           - coalesce(f.weighted, 0) AS day_sum
  FROM acct a LEFT JOIN flows f ON f.account_id = a.id
"""

# The customers there were at the end of D, with their branch, RM, tier and lifecycle.
_CUSTOMERS = """
CREATE TEMPORARY TABLE kpi_customer ON COMMIT DROP AS
SELECT c.id, c.branch_id, c.primary_rm_id AS rm_id, c.tier, c.lifecycle,
       c.created_at >= %(day_start)s AS is_new
  FROM customers_customer c
 WHERE c.created_at < %(asof)s{customers}
"""

_BALANCES = """
INSERT INTO analytics_kpibalanceday (day, level, branch_id, rm_id, tier, kind, balance,
    balance_avg_month, accounts, holders, overdue_accounts, overdue_balance, overdue_90_balance)
SELECT %(day)s, 0, c.branch_id, c.rm_id, c.tier, a.kind, sum(a.balance),
       round(sum(a.day_sum) / %(month_days)s, 2),
       count(*) FILTER (WHERE a.open),
       count(DISTINCT a.customer_id) FILTER (WHERE a.open),
       count(*) FILTER (WHERE a.open AND a.kind = 'loan' AND a.overdue_days > 0),
       coalesce(sum(a.balance) FILTER (WHERE a.open AND a.kind = 'loan'
                                         AND a.overdue_days > 0), 0),
       coalesce(sum(a.balance) FILTER (WHERE a.open AND a.kind = 'loan'
                                         AND a.overdue_days >= 90), 0)
  FROM kpi_account a JOIN kpi_customer c ON c.id = a.customer_id
 GROUP BY c.branch_id, c.rm_id, c.tier, a.kind
"""

_CUSTOMER_COUNTS = """
INSERT INTO analytics_kpicustomerday (day, level, branch_id, rm_id, tier, customers, new,
    prospect, active, dormant, closed, holders, products, product_kinds, transacting,
    transacting_before, retained)
WITH held AS (
    SELECT customer_id, count(*) AS products, count(DISTINCT kind) AS kinds
      FROM kpi_account WHERE open GROUP BY customer_id
), tx AS (
    SELECT t.customer_id,
           bool_or(t.booked_at >= %(active_from)s) AS now,
           bool_or(t.booked_at < %(before_to)s) AS before
      FROM {transactions} t
     WHERE t.booked_at >= %(before_from)s AND t.booked_at < %(asof)s
     GROUP BY t.customer_id
)
SELECT %(day)s, 0, c.branch_id, c.rm_id, c.tier,
       count(*) FILTER (WHERE c.lifecycle <> 'closed'),
       count(*) FILTER (WHERE c.is_new),
       count(*) FILTER (WHERE c.lifecycle = 'prospect'),
       count(*) FILTER (WHERE c.lifecycle = 'active'),
       count(*) FILTER (WHERE c.lifecycle = 'dormant'),
       count(*) FILTER (WHERE c.lifecycle = 'closed'),
       count(h.customer_id) FILTER (WHERE c.lifecycle <> 'closed'),
       coalesce(sum(h.products) FILTER (WHERE c.lifecycle <> 'closed'), 0),
       coalesce(sum(h.kinds) FILTER (WHERE c.lifecycle <> 'closed'), 0),
       count(*) FILTER (WHERE tx.now),
       count(*) FILTER (WHERE tx.before),
       count(*) FILTER (WHERE tx.before AND tx.now)
  FROM kpi_customer c
  LEFT JOIN held h ON h.customer_id = c.id
  LEFT JOIN tx ON tx.customer_id = c.id
 GROUP BY c.branch_id, c.rm_id, c.tier
"""

# The branch level: the detail rows summed over the RMs (every figure is additive, since a
# customer has one RM).
_BALANCE_ROLLUP = """
INSERT INTO analytics_kpibalanceday (day, level, branch_id, rm_id, tier, kind, balance,
    balance_avg_month, accounts, holders, overdue_accounts, overdue_balance, overdue_90_balance)
SELECT day, 1, branch_id, NULL, tier, kind, sum(balance), sum(balance_avg_month),
       sum(accounts), sum(holders), sum(overdue_accounts), sum(overdue_balance),
       sum(overdue_90_balance)
  FROM analytics_kpibalanceday WHERE day = %(day)s AND level = 0{groups}
 GROUP BY day, branch_id, tier, kind
"""

_CUSTOMER_ROLLUP = """
INSERT INTO analytics_kpicustomerday (day, level, branch_id, rm_id, tier, customers, new,
    prospect, active, dormant, closed, holders, products, product_kinds, transacting,
    transacting_before, retained)
SELECT day, 1, branch_id, NULL, tier, sum(customers), sum(new), sum(prospect), sum(active),
       sum(dormant), sum(closed), sum(holders), sum(products), sum(product_kinds),
       sum(transacting), sum(transacting_before), sum(retained)
  FROM analytics_kpicustomerday WHERE day = %(day)s AND level = 0{groups}
 GROUP BY day, branch_id, tier
"""

_TIER_MOVES = """
INSERT INTO analytics_kpitiermoveday (day, branch_id, rm_id, from_tier, to_tier, customers)
SELECT %(day)s, c.branch_id, c.primary_rm_id, v.previous_tier, v.tier, count(*)
  FROM analytics_customervalue v JOIN customers_customer c ON c.id = v.customer_id
 WHERE v.tier_since = %(next_day)s AND v.previous_tier <> ''
 GROUP BY c.branch_id, c.primary_rm_id, v.previous_tier, v.tier
"""

_QUEUES = """
INSERT INTO analytics_kpiqueueday (day, queue_id, queue_name, branch_id, opened, closed,
    sla_due, sla_met, csat_answers, csat_sum)
WITH events AS (
    SELECT t.queue_id, t.customer_id, 1 AS opened, 0 AS closed, 0 AS due, 0 AS met,
           0 AS answers, 0 AS score
      FROM service_ticket t
     WHERE t.created_at >= %(day_start)s AND t.created_at < %(asof)s
    UNION ALL
    SELECT t.queue_id, t.customer_id, 0, 1,
           (t.resolve_due_at IS NOT NULL)::int,
           (coalesce(t.resolved_at, t.closed_at) <= t.resolve_due_at)::int, 0, 0
      FROM service_ticket t
     WHERE coalesce(t.resolved_at, t.closed_at) >= %(day_start)s
       AND coalesce(t.resolved_at, t.closed_at) < %(asof)s
    UNION ALL
    SELECT t.queue_id, t.customer_id, 0, 0, 0, 0, 1, s.score
      FROM service_survey s JOIN service_ticket t ON t.id = s.ticket_id
     WHERE s.answered_at >= %(day_start)s AND s.answered_at < %(asof)s AND s.score IS NOT NULL
)
SELECT %(day)s, e.queue_id, q.name, c.branch_id, sum(e.opened), sum(e.closed),
       sum(e.due), coalesce(sum(e.met), 0), sum(e.answers), sum(e.score)
  FROM events e
  JOIN service_queue q ON q.id = e.queue_id
  JOIN customers_customer c ON c.id = e.customer_id
 GROUP BY e.queue_id, q.name, c.branch_id
"""

_CAMPAIGNS = """
INSERT INTO analytics_kpicampaignday (day, campaign_id, campaign_name, channel, branch_id,
    rm_id, sent, converted, cost, revenue)
WITH events AS (
    SELECT d.campaign_id, d.channel, d.customer_id, 1 AS sent, 0 AS converted,
           st.cost_per_message AS cost
      FROM marketing_delivery d JOIN marketing_campaignstep st ON st.id = d.step_id
     WHERE d.status = 'sent' AND d.sent_at >= %(day_start)s AND d.sent_at < %(asof)s
    UNION ALL
    SELECT d.campaign_id, d.channel, d.customer_id, 0, 1, 0
      FROM marketing_delivery d
     WHERE d.campaign_id IS NOT NULL
       AND d.converted_at >= %(day_start)s AND d.converted_at < %(asof)s
)
SELECT %(day)s, e.campaign_id, m.name, e.channel, c.branch_id, c.primary_rm_id,
       sum(e.sent), sum(e.converted), round(sum(e.cost), 2),
       sum(e.converted) * m.revenue_per_conversion
  FROM events e
  JOIN marketing_campaign m ON m.id = e.campaign_id
  JOIN customers_customer c ON c.id = e.customer_id
 GROUP BY e.campaign_id, m.name, m.revenue_per_conversion, e.channel, c.branch_id,
          c.primary_rm_id
"""

# The branch managers' watch lists (analytics.KpiWatchList): per branch and customer tier
# (and '' for all tiers), the first WATCH_RANKS by churn risk and, of the high value tiers
# with low stickiness, by lifetime value; the dashboard shows ten of them.
WATCH_RANKS = 20
_WATCH_LISTS = """
INSERT INTO analytics_kpiwatchlist (computed_on, branch_id, tier, kind, rank, customer_id)
SELECT %(day)s, branch_id, tier, kind, rank, customer_id FROM (
    SELECT c.branch_id, t.tier, 'churn' AS kind, v.customer_id,
           row_number() OVER (PARTITION BY c.branch_id, t.tier
                              ORDER BY v.churn_probability DESC, v.customer_id) AS rank
      FROM analytics_customervalue v JOIN customers_customer c ON c.id = v.customer_id
     CROSS JOIN LATERAL (VALUES (''), (c.tier)) AS t (tier)
     WHERE v.churn_probability >= %(high_churn)s
    UNION ALL
    SELECT c.branch_id, t.tier, 'sticky', v.customer_id,
           row_number() OVER (PARTITION BY c.branch_id, t.tier
                              ORDER BY v.clv DESC, v.customer_id)
      FROM analytics_customervalue v JOIN customers_customer c ON c.id = v.customer_id
     CROSS JOIN LATERAL (VALUES (''), (c.tier)) AS t (tier)
     WHERE v.tier = ANY(%(high)s) AND v.stickiness < %(low_stickiness)s
) ranked
 WHERE rank <= %(ranks)s
"""

TABLES = (KpiBalanceDay, KpiCustomerDay, KpiTierMoveDay, KpiQueueDay, KpiCampaignDay)

# Today's runs after the first: the changes since the last (analytics.KpiChange) and the
# slices (branch, RM, tier) of balance and customer rows they touch.
_CHANGES = """
CREATE TEMPORARY TABLE kpi_change (part text, customer_id bigint, branch_id bigint,
                                   rm_id bigint, tier text) ON COMMIT DROP
"""
_TAKE_CHANGES = """
WITH taken AS (
    DELETE FROM analytics_kpichange RETURNING part, customer_id, branch_id, rm_id, tier
)
INSERT INTO kpi_change SELECT * FROM taken
"""
# Where each changed customer is now, and where the ones that moved were.
_SLICES = """
CREATE TEMPORARY TABLE kpi_slice ON COMMIT DROP AS
SELECT c.branch_id, c.primary_rm_id AS rm_id, c.tier
  FROM customers_customer c
 WHERE c.id IN (SELECT customer_id FROM kpi_change WHERE part = 'book')
UNION
SELECT branch_id, rm_id, tier FROM kpi_change WHERE part = 'book' AND branch_id IS NOT NULL
"""
# The slices' customers, found by the RM index (a branch's customers without an RM by the
# branch index), and their transactions since the earliest a figure reads, by the customer
# index: a few RMs' books, not the bank's (Transaction.customer is its account's customer).
_SLICE_CUSTOMERS = (
    " AND (c.primary_rm_id = ANY(%(slice_rms)s)"
    "      OR (c.primary_rm_id IS NULL AND c.branch_id = ANY(%(slice_branches)s)))"
    " AND (c.branch_id, coalesce(c.primary_rm_id, 0), c.tier) IN"
    "     (SELECT branch_id, coalesce(rm_id, 0), tier FROM kpi_slice)"
)
# (OFFSET 0 keeps each lookup a lookup: flattened, the planner may hash the whole table.)
_SLICE_ACCOUNTS = """kpi_customer c CROSS JOIN LATERAL (
    SELECT * FROM customers_account a WHERE a.customer_id = c.id OFFSET 0) a"""
_SLICE_TRANSACTIONS = """
CREATE TEMPORARY TABLE kpi_tx ON COMMIT DROP AS
SELECT t.account_id, t.customer_id, t.booked_at, t.amount, t.direction
  FROM kpi_customer c
 CROSS JOIN LATERAL (
       SELECT * FROM customers_transaction t
        WHERE t.customer_id = c.id AND t.booked_at >= %(before_from)s OFFSET 0) t
"""
# How many of the day's customers the slices hold (by the rows of the run before).
_SLICE_SHARE = """
SELECT coalesce(sum(k.customers + k.closed) FILTER (
           WHERE (k.branch_id, coalesce(k.rm_id, 0), k.tier) IN
                 (SELECT branch_id, coalesce(rm_id, 0), tier FROM kpi_slice)), 0),
       coalesce(sum(k.customers + k.closed), 0)
  FROM analytics_kpicustomerday k WHERE k.day = %(day)s AND k.level = 0
"""
# Past this share, looking each customer up costs more than reading every table once (at
# 1,000,000 customers a quarter of them cost 22 s against a rebuild's 26 s: bench/README).
REBUILD_SHARE = 1 / 5
_SLICE_DELETE = """
DELETE FROM {table} k
 WHERE k.day = %(day)s AND (
       (k.level = 0 AND (k.branch_id, coalesce(k.rm_id, 0), k.tier) IN
            (SELECT branch_id, coalesce(rm_id, 0), tier FROM kpi_slice))
    OR (k.level = 1 AND (k.branch_id, k.tier) IN (SELECT branch_id, tier FROM kpi_slice)))
"""


def _params(day: date) -> dict:
    tz = timezone.get_default_timezone()
    day_start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    asof = day_start + timedelta(days=1)
    month_first = day.replace(day=1)
    return {
        "day": day, "next_day": day + timedelta(days=1), "day_start": day_start, "asof": asof,
        "month_first": month_first,
        "month_start": datetime.combine(month_first, datetime.min.time(), tzinfo=tz),
        "month_days": (day - month_first).days + 1, "tz": settings.TIME_ZONE,
        "currency": settings.DEFAULT_CURRENCY,
        "active_from": asof - timedelta(days=90),
        "before_from": asof - timedelta(days=120), "before_to": asof - timedelta(days=30),
    }  # fmt: skip


def kpi_snapshot(day: date) -> KpiRun:
    """Rebuilds every snapshot table's rows of `day` (local date); returns the run's row.
    Concurrent runs of one day wait for each other (an advisory lock on the day), so the
    rows are always those of one complete run. Backfills and the nightly close."""
    return _run(day, follow=False)


def kpi_refresh(day: date) -> KpiRun:
    """Today's run (beat, every hour). The day's first run rebuilds it and from then on the
    day follows the changes (KpiChange, written by triggers): each later run takes the
    changes committed since and recomputes only the balance and customer rows of the
    branches, RMs and tiers they touch (and the day's service, campaign or tier-move
    figures if theirs changed), which gives the rows a rebuild would. With no change it
    writes nothing, not even its KpiRun (the dashboards' figures stay cached)."""
    return _run(day, follow=True)


def _run(day: date, *, follow: bool) -> KpiRun:
    params = _params(day)
    started = time.monotonic()
    changes = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('analytics.kpi'), %s)",
                       [day.toordinal()])  # fmt: skip
        run = None
        if follow:
            changes = _take_changes(cursor)
            run = KpiRun.objects.filter(day=day, tracked=True).first()
        if run is not None and not changes:
            cursor.execute("DROP TABLE pg_temp.kpi_change")
            return run
        mode, rows = KpiRun.Mode.CHANGES, None
        if run is not None:
            rows = _apply_changes(cursor, day, params)
        if rows is None:
            mode, rows = KpiRun.Mode.FULL, _rebuild(cursor, day, params)
        if follow:
            cursor.execute("DROP TABLE pg_temp.kpi_change")
            # The queue now holds the changes since this run: no other day may apply them.
            KpiRun.objects.filter(tracked=True).exclude(day=day).update(tracked=False)
        seconds = round(time.monotonic() - started, 3)
        defaults = {
            "started_at": timezone.now() - timedelta(seconds=seconds),
            "finished_at": timezone.now(), "seconds": seconds, "rows": rows, "mode": mode,
            "changes": changes,
        }  # fmt: skip
        if follow:
            defaults["tracked"] = True
        run, _created = KpiRun.objects.update_or_create(day=day, defaults=defaults)
        KpiRun.objects.filter(pk=run.pk).update(runs=F("runs") + 1)
    logger.info("kpi snapshot %s (%s, %d changes): %s rows in %.2f s", day, mode, changes,
                rows, seconds)  # fmt: skip
    return run


def _take_changes(cursor) -> int:
    """Moves the changes this transaction can see from the queue to `kpi_change`; what
    commits later stays for the next run. One reader at a time (two days' runs around
    midnight), so a change is taken once."""
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext('analytics.kpi.changes'))")
    cursor.execute("DROP TABLE IF EXISTS pg_temp.kpi_change")
    cursor.execute(_CHANGES)
    cursor.execute(_TAKE_CHANGES)
    return cursor.rowcount


def _rebuild(cursor, day: date, params: dict) -> dict[str, int]:
    for model in TABLES:
        model.objects.filter(day=day).delete()
    rows = _book(cursor, params)
    for name, statement in (
        ("tier_moves", _TIER_MOVES), ("queues", _QUEUES), ("campaigns", _CAMPAIGNS),
    ):  # fmt: skip
        cursor.execute(statement, params)
        rows[name] = cursor.rowcount
    if not KpiRun.objects.filter(day__gt=day).exists():  # the newest day: current lists
        rows["watch_lists"] = _watch_lists_refresh(cursor, day)
    return rows


def _apply_changes(cursor, day: date, params: dict) -> dict[str, int] | None:
    """Recomputes what the taken changes touch. Balance and customer rows are per branch,
    RM and tier, each customer in one: the rows of every slice a changed customer is in now
    or was in at the last run (recorded by the customer trigger) are deleted and made again
    from that slice's customers alone; the branch rows of their branch and tier are summed
    again. The day's service, campaign and tier-move rows and the watch lists are a few
    rows: redone whole when theirs changed."""
    cursor.execute("SELECT DISTINCT part FROM kpi_change")
    parts = {part for (part,) in cursor.fetchall()}
    rows: dict[str, int] = {}
    if KpiChange.Part.BOOK in parts:
        cursor.execute("DROP TABLE IF EXISTS pg_temp.kpi_slice")
        cursor.execute(_SLICES)
        rows["slices"] = cursor.rowcount
        cursor.execute("ANALYZE pg_temp.kpi_slice")
        cursor.execute(_SLICE_SHARE, params)
        touched, everyone = cursor.fetchone()
        if touched > everyone * REBUILD_SHARE:
            cursor.execute("DROP TABLE pg_temp.kpi_slice")
            return None
        cursor.execute("SELECT branch_id, rm_id FROM kpi_slice")
        slices = cursor.fetchall()
        params = params | {
            "slice_rms": sorted({rm for _branch, rm in slices if rm is not None}),
            "slice_branches": sorted({branch for branch, rm in slices if rm is None}),
        }
        for table in ("analytics_kpibalanceday", "analytics_kpicustomerday"):
            cursor.execute(_SLICE_DELETE.format(table=table), params)
        rows |= _book(cursor, params, slices=True)
        cursor.execute("DROP TABLE pg_temp.kpi_slice")
    for wanted, model, name, statement in (
        ({KpiChange.Part.MOVES, KpiChange.Part.VALUES}, KpiTierMoveDay, "tier_moves",
         _TIER_MOVES),
        ({KpiChange.Part.QUEUES}, KpiQueueDay, "queues", _QUEUES),
        ({KpiChange.Part.CAMPAIGNS}, KpiCampaignDay, "campaigns", _CAMPAIGNS),
    ):  # fmt: skip
        if wanted & parts:
            model.objects.filter(day=day).delete()
            cursor.execute(statement, params)
            rows[name] = cursor.rowcount
    if KpiChange.Part.VALUES in parts and not KpiRun.objects.filter(day__gt=day).exists():
        rows["watch_lists"] = _watch_lists_refresh(cursor, day)
    return rows


def _book(cursor, params: dict, *, slices: bool = False) -> dict[str, int]:
    """The balance and customer rows of every customer, or of the slices' (kpi_slice)."""
    where = {
        "customers": _SLICE_CUSTOMERS if slices else "",
        "accounts": _SLICE_ACCOUNTS if slices else "customers_account a",
        "transactions": "kpi_tx" if slices else "customers_transaction",
        "groups": " AND (branch_id, tier) IN (SELECT branch_id, tier FROM kpi_slice)"
        if slices else "",
    }  # fmt: skip
    rows = {}
    cursor.execute("DROP TABLE IF EXISTS pg_temp.kpi_account, pg_temp.kpi_customer,"
                   " pg_temp.kpi_tx")  # fmt: skip
    cursor.execute(_CUSTOMERS.format_map(where), params)
    if slices:
        cursor.execute("ANALYZE pg_temp.kpi_customer")
        cursor.execute(_SLICE_TRANSACTIONS, params)
    cursor.execute(_ACCOUNTS.format_map(where), params)
    for name, statement in (
        ("balances", _BALANCES), ("customers", _CUSTOMER_COUNTS),
        ("balances_branch", _BALANCE_ROLLUP), ("customers_branch", _CUSTOMER_ROLLUP),
    ):  # fmt: skip
        cursor.execute(statement.format_map(where), params)
        rows[name] = cursor.rowcount
    cursor.execute("DROP TABLE IF EXISTS pg_temp.kpi_account, pg_temp.kpi_customer,"
                   " pg_temp.kpi_tx")  # fmt: skip
    return rows


def _watch_lists_refresh(cursor, day: date) -> int:
    """Replaces the watch lists (they are the current ones: CustomerValue keeps no history);
    concurrent runs of two days take turns."""
    policy = value.policy()
    codes = [t.code for t in value.tiers()]
    high = codes[codes.index(policy.high_value_tier) :] if policy.high_value_tier in codes else []
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext('analytics.kpi.watch'))")
    cursor.execute("DELETE FROM analytics_kpiwatchlist")
    cursor.execute(_WATCH_LISTS, {
        "day": day, "high_churn": policy.high_churn, "high": high,
        "low_stickiness": policy.low_stickiness, "ranks": WATCH_RANKS,
    })  # fmt: skip
    return cursor.rowcount


def kpi_backfill(first: date, last: date) -> list[KpiRun]:
    """Every day from `first` to `last`, oldest first, each in its own transaction."""
    runs = []
    day = first
    while day <= last:
        runs.append(kpi_snapshot(day))
        day += timedelta(days=1)
    return runs


def latest_day() -> date | None:
    """The last day with a snapshot (the dashboards' "as of")."""
    return KpiRun.objects.order_by("-day").values_list("day", flat=True).first()

"""Benchmark: the nightly KPI snapshot and every dashboard (head office, branch, RM, with
filters) at 1,000,000 customers and 20,000,000 transactions, under gunicorn, next to the
minimal view and page in the same run.

    .venv/bin/python scripts/with_services.py .venv/bin/python bench/dashboards.py
    (options: --customers, --transactions, --template, --days, --seconds, --concurrency,
     --reuse, --keep)

1. A scratch database beside DATABASE_URL's (`bankcrm_bench_dashboards`) is migrated and
   `seed_demo --template` customers are seeded (users, branches, products, tickets,
   campaigns). 40 more branches with 10 book-holding RMs each are added, then copies of the
   demo's customers and their accounts by INSERT … SELECT (new ids by a fixed stride, spread
   over the 48 branches and their RMs; the demo's own customers keep theirs, so the demo RM's
   book stays the demo's) up to --customers, then transactions by INSERT … SELECT over the
   current and card accounts up to --transactions, booked over the last 400 days. A value row
   (analytics.CustomerValue) for everyone, a tenth of them changed tier in the last 400
   days. Row triggers are off for the load (session_replication_role: the data-change trail
   of made-up rows is not what is measured); the secondary indexes and unique constraints of
   the three big tables are dropped for it and rebuilt after.
2. The nightly snapshot: `manage.py kpi_snapshot` of yesterday (the whole day rebuilt, as beat
   does at 02:15), timed; then the --days before it are filled by copying yesterday's rows
   with the figures scaled (a slow growth), so the snapshot tables hold two years of rows at
   this scale (recomputing 730 days at 1,000,000 customers would take hours and measure
   nothing more); then yesterday again (a re-run over full tables) and today rebuilt (as
   the day's first hourly run does; the later ones apply the changes since, timed by
   bench/kpi_refresh.py), timed.
3. gunicorn serves bench.settings (DEBUG off); a load generator in this process drives the
   minimal view, the minimal page and each dashboard URL set, signed in as the demo
   marketing manager (head office), branch manager (SH001) and RM, and prints requests/s
   and p50/p95/p99 (ms).
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.customer_pages import (
    ROOT,
    drive,
    log,
    scratch_database,
    serve,
    sign_in,
)

SCRATCH = "bankcrm_bench_dashboards"
EXTRA_BRANCHES = 40
RMS_PER_EXTRA_BRANCH = 10
TX_DAYS = 400

# Copy k (1 … copies) of demo customer c gets id c.id + k × stride and lands in branch
# (c.id + k) mod 48 with one of that branch's RMs; its accounts follow with their own stride.
COPY_CUSTOMERS = """
INSERT INTO customers_customer (
    id, cif, kind, name, name_latin, gender, birth_date, national_id_masked, mobile_masked,
    email_masked, occupation, employer, lifecycle, kyc_status, kyc_expires_on, tier, tags,
    created_at, updated_at, branch_id, primary_rm_id, family_status, income_band,
    risk_expires_on, risk_level)
SELECT c.id + k * %(stride)s, 'K' || lpad((c.id + k * %(stride)s)::text, 12, '0'), c.kind,
       c.name, c.name_latin, c.gender, c.birth_date, c.national_id_masked, c.mobile_masked,
       c.email_masked, c.occupation, c.employer, c.lifecycle, c.kyc_status, c.kyc_expires_on,
       c.tier, c.tags, c.created_at - (k || ' days')::interval, c.updated_at, b.branch_id,
       r.rm_id, c.family_status, c.income_band, c.risk_expires_on, c.risk_level
  FROM customers_customer c
 CROSS JOIN generate_series(1, %(copies)s) AS k
  JOIN bench_branch b ON b.idx = (c.id + k) %% %(branches)s
  JOIN bench_rm r ON r.branch_id = b.branch_id AND r.slot = (c.id * 7 + k) %% r.slots
 WHERE c.id <= %(template_max)s
"""

COPY_ACCOUNTS = """
INSERT INTO customers_account (
    id, kind, number, number_index, number_masked, product_name, currency, balance,
    credit_limit, overdue_days, opened_on, matures_on, status, customer_id, risk_level,
    principal, product_id)
SELECT a.id + k * %(astride)s, a.kind, a.number, 'K' || (a.id + k * %(astride)s),
       a.number_masked, a.product_name, a.currency, a.balance, a.credit_limit,
       a.overdue_days, a.opened_on, a.matures_on, a.status, a.customer_id + k * %(stride)s,
       a.risk_level, a.principal, a.product_id
  FROM customers_account a
 CROSS JOIN generate_series(1, %(copies)s) AS k
 WHERE a.id <= %(account_max)s AND a.customer_id + k * %(stride)s <= %(last_id)s
"""

# n transactions for each current and card account (one more for the first `extra`), booked
# over the last TX_DAYS days; credits and debits about even so past balances stay plausible.
ADD_TRANSACTIONS = """
INSERT INTO customers_transaction (account_id, customer_id, booked_at, amount, currency,
    direction, channel, kind, counterparty_masked, source, external_id)
SELECT a.id, a.customer_id,
       now() - ((a.id * 7919 + g * 104729) %% (%(days)s * 1440)) * interval '1 minute',
       ((a.id * 31 + g * 17) %% 300000) / 100.0 + 1, 'CNY',
       CASE WHEN (a.id + g) %% 2 = 0 THEN 'credit' ELSE 'debit' END,
       (ARRAY['mobile', 'pos', 'atm', 'online', 'transfer'])[1 + (a.id + g) %% 5],
       (ARRAY['工资', '消费', '取现', '还款', '转账'])[1 + (a.id + g) %% 5],
       '62**********' || lpad(((a.id + g) %% 10000)::text, 4, '0'), 'bench',
       'D' || a.id || '-' || g
  FROM (SELECT id, customer_id, row_number() OVER (ORDER BY id) AS rn
          FROM customers_account WHERE kind IN ('current', 'card')) a
 CROSS JOIN LATERAL generate_series(1, %(per)s + (a.rn <= %(extra)s)::int) AS g
"""

# Everyone's value row (the nightly value run's output), one in ten moved tier in the last
# TX_DAYS days (up or down by one), so the tier-move snapshot has rows.
VALUES = """
INSERT INTO analytics_customervalue (customer_id, computed_on, aum, stickiness, risk_factor,
    value_score, tier, tier_since, previous_tier, components, margin_per_year,
    churn_probability, churn_from_model, clv)
SELECT c.id, current_date, (c.id %% 997) * 1000, ((c.id * 13) %% 100) / 100.0, 0.8,
       (c.id %% 997) * 10000, t.code, current_date - (c.id / 10 %% %(days)s)::int,
       CASE WHEN c.id %% 10 = 3 THEN t.previous ELSE '' END, '{}', (c.id %% 997) * 9,
       ((c.id * 31) %% 1000) / 1000.0, false, (c.id %% 997) * 120
  FROM customers_customer c
 CROSS JOIN LATERAL (SELECT CASE c.tier WHEN 'private' THEN 'private'
                                        WHEN 'affluent' THEN 'wealth' ELSE 'mass' END AS code,
                            CASE c.tier WHEN 'private' THEN 'wealth'
                                        WHEN 'affluent' THEN 'affluent' ELSE 'affluent' END
                                AS previous) t
"""

# Two years of history: the base day's rows copied to each earlier day, figures scaled down
# by 0.04 %% a day (a bank growing about 15 %% a year) with a little monthly wobble.
HISTORY = {
    "analytics_kpibalanceday": """
INSERT INTO analytics_kpibalanceday (day, level, branch_id, rm_id, tier, kind, balance,
    balance_avg_month, accounts, holders, overdue_accounts, overdue_balance, overdue_90_balance)
SELECT d, level, branch_id, rm_id, tier, kind, round(balance * f, 2),
       round(balance_avg_month * f, 2), accounts, holders, overdue_accounts,
       round(overdue_balance * f, 2), round(overdue_90_balance * f, 2)
  FROM analytics_kpibalanceday, bench_days WHERE day = %(base)s""",
    "analytics_kpicustomerday": """
INSERT INTO analytics_kpicustomerday (day, level, branch_id, rm_id, tier, customers, new,
    prospect, active, dormant, closed, holders, products, product_kinds, transacting,
    transacting_before, retained)
SELECT d, level, branch_id, rm_id, tier, round(customers * f), new, round(prospect * f),
       round(active * f), round(dormant * f), closed, round(holders * f), round(products * f),
       round(product_kinds * f), round(transacting * f), round(transacting_before * f),
       round(retained * f * (0.97 + 0.02 * sin(extract(doy FROM d))))
  FROM analytics_kpicustomerday, bench_days WHERE day = %(base)s""",
    "analytics_kpitiermoveday": """
INSERT INTO analytics_kpitiermoveday (day, branch_id, rm_id, from_tier, to_tier, customers)
SELECT d, branch_id, rm_id, from_tier, to_tier, customers
  FROM analytics_kpitiermoveday, bench_days WHERE day = %(base)s""",
    # Service and campaign figures are made up (the demo has few tickets, no campaign): each
    # queue and branch every day; 20 campaigns by SMS and call list in every branch, each
    # branch's rows filed under one of its RMs (and the demo RM's own).
    "analytics_kpiqueueday": """
INSERT INTO analytics_kpiqueueday (day, queue_id, queue_name, branch_id, opened, closed,
    sla_due, sla_met, csat_answers, csat_sum)
SELECT d, q.id, q.name, b.id, 5 + (q.id + b.id + x) %% 20, 4 + (q.id + b.id + x) %% 19,
       4 + (q.id + b.id + x) %% 19, 3 + (q.id + b.id + x) %% 17, (b.id + x) %% 6,
       4 * ((b.id + x) %% 6)
  FROM service_queue q, bankcrm_branch b, bench_days,
       LATERAL (SELECT extract(doy FROM d)::int AS x) x""",
    "analytics_kpicampaignday": """
INSERT INTO analytics_kpicampaignday (day, campaign_id, campaign_name, channel, branch_id,
    rm_id, sent, converted, cost, revenue)
SELECT d, 900000 + m, '基准活动' || m, ch, r.branch_id, r.rm_id, 200 + (m * 7 + x) %% 100,
       (m + x) %% 9, round((200 + (m * 7 + x) %% 100) * 0.05, 2), ((m + x) %% 9) * 800
  FROM generate_series(1, 20) m, (VALUES ('sms'), ('call')) c(ch),
       (SELECT branch_id, rm_id FROM bench_rm WHERE slot = 0
        UNION ALL SELECT branch_id, id FROM bankcrm_user WHERE username = 'rm') r,
       bench_days, LATERAL (SELECT extract(doy FROM d)::int AS x) x""",
}


# ---- loading ------------------------------------------------------------------------------


def manage(env: dict, *argv, capture: bool = False) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *argv], cwd=ROOT, env=env, check=True,
        capture_output=capture, text=True,
    )  # fmt: skip
    return result.stdout if capture else ""


def _drop_indexes(conn, table: str) -> tuple[list, list]:
    """Drops `table`'s unique constraints and secondary indexes; returns them to rebuild."""
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype = 'u'",
        [table],
    ).fetchall()
    for name, _definition in constraints:
        conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    indexes = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s"
        " AND i.indexname NOT LIKE '%%pkey'",
        [table],
    ).fetchall()
    for name, _definition in indexes:
        conn.execute(f"DROP INDEX {name}")
    return constraints, indexes


def _rebuild(conn, table: str, constraints, indexes) -> None:
    for _name, definition in indexes:
        conn.execute(definition)
    for name, definition in constraints:
        conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")


def load(url: str, env: dict, customers: int, transactions: int, template: int) -> None:
    started = time.perf_counter()
    manage(env, "migrate", "--noinput", "-v", "0")
    log(f"seed_demo --customers {template:,}")
    manage(env, "seed_demo", "--customers", str(template))
    log(f"seeded in {time.perf_counter() - started:.0f} s")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET maintenance_work_mem = '1GB'")
        _organisation(conn)
        template_max, account_max = conn.execute(
            "SELECT (SELECT max(id) FROM customers_customer),"
            " (SELECT max(id) FROM customers_account)"
        ).fetchone()
        have = conn.execute("SELECT count(*) FROM customers_customer").fetchone()[0]
        stride = 10 ** len(str(template_max))
        astride = 10 ** len(str(account_max))
        copies = -(-(customers - have) // have)
        dropped = {
            t: _drop_indexes(conn, t)
            for t in ("customers_customer", "customers_account", "customers_transaction")
        }
        t = time.perf_counter()
        conn.execute(
            COPY_CUSTOMERS,
            {"stride": stride, "copies": copies, "branches": EXTRA_BRANCHES + 8,
             "template_max": template_max},
        )  # fmt: skip
        # Trim to exactly `customers` (the last copy is partial).
        conn.execute(
            "DELETE FROM customers_customer WHERE id IN (SELECT id FROM customers_customer"
            " ORDER BY id DESC LIMIT greatest(0, (SELECT count(*) FROM customers_customer) - %s))",
            [customers],
        )
        last_id = conn.execute("SELECT max(id) FROM customers_customer").fetchone()[0]
        log(f"customers copied in {time.perf_counter() - t:.0f} s (x{copies})")
        t = time.perf_counter()
        conn.execute(
            COPY_ACCOUNTS,
            {"stride": stride, "astride": astride, "copies": copies,
             "account_max": account_max, "last_id": last_id},
        )  # fmt: skip
        log(f"accounts copied in {time.perf_counter() - t:.0f} s")
        for table in ("customers_customer", "customers_account"):
            reset = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608, E501
            conn.execute(reset)
        have_tx = conn.execute("SELECT count(*) FROM customers_transaction").fetchone()[0]
        eligible = conn.execute(
            "SELECT count(*) FROM customers_account WHERE kind IN ('current', 'card')"
        ).fetchone()[0]
        missing = max(0, transactions - have_tx)
        per, extra = divmod(missing, eligible)
        t = time.perf_counter()
        conn.execute(ADD_TRANSACTIONS, {"per": per, "extra": extra, "days": TX_DAYS})
        log(f"{missing:,} transactions in {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        for table, (constraints, indexes) in dropped.items():
            _rebuild(conn, table, constraints, indexes)
        log(f"indexes rebuilt in {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        conn.execute("DELETE FROM analytics_customervalue")
        conn.execute(VALUES, {"days": TX_DAYS})
        log(f"value rows in {time.perf_counter() - t:.0f} s")
        for table in ("customers_customer", "customers_account", "customers_transaction",
                      "analytics_customervalue"):  # fmt: skip
            conn.execute(f"VACUUM ANALYZE {table}")
    log(f"loaded in {time.perf_counter() - started:.0f} s")


def _organisation(conn) -> None:
    """40 more branches with 10 book-holding RMs each (no usable password), and the two
    lookup tables the copies are spread by: bench_branch (index → branch) and bench_rm
    (branch, slot → RM; the demo's RMs `rm` and `rm2` hold only the demo's book)."""
    conn.execute(
        "INSERT INTO bankcrm_branch (code, name, region, is_active)"
        " SELECT 'BX' || lpad(i::text, 3, '0'), '基准支行' || i, '华东', true"
        "   FROM generate_series(1, %s) i ON CONFLICT (code) DO NOTHING",
        [EXTRA_BRANCHES],
    )
    group = conn.execute(
        "SELECT ug.group_id FROM bankcrm_user_groups ug JOIN bankcrm_user u ON u.id = ug.user_id"
        " WHERE u.username LIKE 'rm\\_%%' LIMIT 1"
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO bankcrm_user (password, is_superuser, username, first_name, last_name,"
        " email, is_staff, is_active, date_joined, branch_id)"
        " SELECT '!', false, 'rm_' || lower(b.code) || '_' || lpad(n::text, 2, '0'), '经理' || n,"
        "        '客户', '', false, true, now(), b.id"
        "   FROM bankcrm_branch b CROSS JOIN generate_series(1, %s) n"
        "  WHERE b.code LIKE 'BX%%' ON CONFLICT (username) DO NOTHING",
        [RMS_PER_EXTRA_BRANCH],
    )
    conn.execute(
        "INSERT INTO bankcrm_user_groups (user_id, group_id)"
        " SELECT u.id, %s FROM bankcrm_user u WHERE u.username LIKE 'rm\\_bx%%'"
        " ON CONFLICT DO NOTHING",
        [group],
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_branch AS"
        " SELECT (row_number() OVER (ORDER BY id) - 1)::int AS idx, id AS branch_id"
        "   FROM bankcrm_branch"
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_rm AS"
        " SELECT u.branch_id, (row_number() OVER (PARTITION BY u.branch_id ORDER BY u.id) - 1)::int"
        "        AS slot, count(*) OVER (PARTITION BY u.branch_id)::int AS slots, u.id AS rm_id"
        "   FROM bankcrm_user u WHERE u.username LIKE 'rm\\_%%'"
    )


# ---- the nightly snapshot -----------------------------------------------------------------


def snapshots(url: str, env: dict, days: int) -> dict:
    """Yesterday built for real, `days` before it copied from it, then yesterday and today
    again, each timed; returns the timings (seconds) and the snapshot tables' sizes."""
    from datetime import date, timedelta

    with psycopg.connect(url) as conn:
        today = conn.execute("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date").fetchone()[0]
    yesterday = today - timedelta(days=1)
    figures = {}

    def timed(label: str, day: date) -> None:
        t = time.perf_counter()
        out = manage(env, "kpi_snapshot", "--from", str(day), "--to", str(day), capture=True)
        figures[label] = time.perf_counter() - t
        log(f"kpi_snapshot {day} ({label}): {figures[label]:.1f} s wall; {out.strip()}")

    timed("first run, empty tables", yesterday)
    with psycopg.connect(url, autocommit=True) as conn:
        t = time.perf_counter()
        conn.execute("DROP TABLE IF EXISTS bench_days")
        conn.execute(
            "CREATE TABLE bench_days AS SELECT d::date AS d,"
            " ((1 - 0.0004 * (%(base)s::date - d::date))"
            "  * (1 + 0.01 * sin(extract(month FROM d))))::numeric AS f"
            "   FROM generate_series(%(base)s::date - %(days)s, %(base)s::date - 1,"
            "                        interval '1 day') d",
            {"base": yesterday, "days": days},
        )
        params = {"base": yesterday}
        for table, statement in HISTORY.items():
            conn.execute(f"DELETE FROM {table} WHERE day <> %(base)s", params)  # noqa: S608
            conn.execute(statement, params)
        conn.execute("DELETE FROM analytics_kpirun WHERE day < %(base)s", params)
        conn.execute(
            "INSERT INTO analytics_kpirun (day, started_at, finished_at, seconds, rows, runs)"
            " SELECT d, now(), now(), 0, '{}', 1 FROM bench_days"
            " ON CONFLICT (day) DO NOTHING"
        )
        for table in (*HISTORY, "analytics_kpirun"):
            conn.execute(f"VACUUM ANALYZE {table}")
        log(f"{days} days of history copied in {time.perf_counter() - t:.0f} s")
        sizes = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in HISTORY
        }
    timed("nightly: yesterday over full tables", yesterday)
    timed("today rebuilt (its first hourly run)", today)
    figures["sizes"] = sizes
    return figures


# ---- the dashboards -----------------------------------------------------------------------


def dashboard_urls(url: str) -> dict[str, tuple[str, list[str]]]:
    """Name → (who signs in, URLs)."""
    with psycopg.connect(url) as conn:
        branches = [r[0] for r in conn.execute(
            "SELECT id FROM bankcrm_branch ORDER BY id LIMIT 5").fetchall()]  # fmt: skip
    d = "/analytics/dashboard/"
    return {
        "minimal view": ("marketing", ["/bench/minimal/"]),
        "minimal page": ("marketing", ["/bench/page/"]),
        "head office": ("marketing", [d, f"{d}?months=24", f"{d}?months=3"]),
        "head office, tier": ("marketing", [f"{d}?tier=affluent", f"{d}?tier=private&months=24"]),
        "head office, branch": ("marketing", [f"{d}?branch={b}" for b in branches]
                                + [f"{d}?branch={branches[0]}&tier=mass"]),
        "branch manager": ("branch_manager", [d, f"{d}?months=24", f"{d}?months=6"]),
        "branch, tier": ("branch_manager", [f"{d}?tier={t}" for t in
                                             ("mass", "affluent", "private")]),
        "RM": ("rm", [d, f"{d}?months=24"]),
        "RM, tier": ("rm", [f"{d}?tier=mass", f"{d}?tier=affluent&months=3"]),
        "reports page": ("marketing", ["/analytics/reports/"]),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=20_000_000)
    parser.add_argument("--template", type=int, default=20_000, help="customers seed_demo makes")
    parser.add_argument("--days", type=int, default=730, help="days of snapshot history")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--reuse", action="store_true", help="keep a loaded scratch database")
    parser.add_argument("--keep", action="store_true", help="do not drop it at the end")
    parser.add_argument("--skip-snapshot", action="store_true", help="with --reuse: serve only")
    args = parser.parse_args()

    admin_url, url, env = scratch_database(SCRATCH)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [SCRATCH]).fetchone()
        if exists and not args.reuse:
            conn.execute(f'DROP DATABASE "{SCRATCH}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{SCRATCH}"')
    loaded = False
    if args.reuse and exists:
        with psycopg.connect(url) as conn:
            try:
                counts = conn.execute(
                    "SELECT (SELECT count(*) FROM customers_customer),"
                    " (SELECT count(*) FROM customers_transaction)"
                ).fetchone()
                loaded = counts[0] >= args.customers and counts[1] >= args.transactions
            except psycopg.errors.UndefinedTable:
                pass
    if not loaded:
        load(url, env, args.customers, args.transactions, args.template)
    with psycopg.connect(url) as conn:
        customers, transactions, branches, rms = conn.execute(
            "SELECT (SELECT count(*) FROM customers_customer),"
            " (SELECT count(*) FROM customers_transaction),"
            " (SELECT count(*) FROM bankcrm_branch),"
            " (SELECT count(*) FROM bankcrm_user WHERE username LIKE 'rm%%')"
        ).fetchone()
    log(f"database: {customers:,} customers, {transactions:,} transactions, {branches} "
        f"branches, {rms} RMs")  # fmt: skip
    figures = {} if args.skip_snapshot else snapshots(url, env, args.days)

    server = serve(env, args.port, args.workers)
    results = {}
    try:
        cookies = {}
        for name, (who, paths) in dashboard_urls(url).items():
            if who not in cookies:
                cookies[who] = sign_in(args.port, who)
            log(f"driving {name} as {who} ({len(paths)} URLs, {args.concurrency} connections, "
                f"{args.seconds:.0f} s)")  # fmt: skip
            results[name] = drive(args.port, cookies[who], paths, args.seconds, args.concurrency)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')

    print()
    print(f"{customers:,} customers, {transactions:,} transactions, {branches} branches, "
          f"{rms} RMs; gunicorn {args.workers} workers x 4 threads; {args.concurrency} client "
          "connections; 2 cores shared")  # fmt: skip
    for label, value in figures.items():
        if label == "sizes":
            print("snapshot rows: " + ", ".join(f"{t} {n:,}" for t, n in value.items()))
        else:
            print(f"kpi_snapshot, {label}: {value:.1f} s")
    minimal = results["minimal page"]["rps"]
    print(f"{'page':<22} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'vs page':>8} {'errors':>7}")  # fmt: skip
    for name, r in results.items():
        print(f"{name:<22} {r['rps']:>8.1f} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['p99']:>8.1f} "
              f"{r['rps'] / minimal:>8.0%} {r['errors']:>7}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

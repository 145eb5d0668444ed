"""Benchmark: today's KPI snapshot rebuilt whole next to brought up to date from the
changes since its last run (analytics.kpi.kpi_refresh).

    DATABASE_URL=… .venv/bin/python bench/kpi_refresh.py [--changes 10 100 1000] [--repeat 3]
    .venv/bin/python scripts/with_services.py .venv/bin/python bench/kpi_refresh.py \
        --scratch [--customers 1000000 --transactions 20000000] [--keep]

Without --scratch it works on the database DATABASE_URL names (the demo's: `seed_demo
--customers 20000`); with it, on a scratch database beside it (`bankcrm_bench_kpi`) loaded
as bench/dashboards.py loads its own (reused while it holds enough rows; dropped at the end
unless --keep). Everything runs in one transaction that is rolled back: the database is
left as it was.

For each size N, today's snapshot is rebuilt and followed (kpi_refresh's first run), then N
customers drawn at random get a transaction booked now with their balance moved (what an
inbox batch writes), N/10 of them an account opened today, N/100 are closed and N/100 moved
to another RM of their branch; kpi_refresh applies that (timed; past REBUILD_SHARE of the
customers it rebuilds instead), kpi_snapshot rebuilds the day (timed) and the day's rows of
both are compared, every column. A refresh with nothing to apply is timed too. Times are
the median of --repeat rounds.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
SCRATCH = "bankcrm_bench_kpi"


def scratch(customers: int, transactions: int) -> tuple[str, str]:
    """The scratch database, loaded as bench/dashboards.py loads its own."""
    from bench.customer_pages import scratch_database
    from bench.dashboards import load

    admin_url, url, env = scratch_database(SCRATCH)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [SCRATCH]).fetchone():
            conn.execute(f'CREATE DATABASE "{SCRATCH}"')
    try:
        with psycopg.connect(url) as conn:
            have = conn.execute(
                "SELECT (SELECT count(*) FROM customers_customer),"
                " (SELECT count(*) FROM customers_transaction)"
            ).fetchone()
    except psycopg.errors.UndefinedTable:
        have = (0, 0)
    if have[0] < customers or have[1] < transactions:
        load(url, env, customers, transactions, 20_000)
    return admin_url, url


class RollbackError(Exception):
    pass


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankcrm.settings")
    os.environ.setdefault("DJANGO_DEBUG", "true")
    import django

    django.setup()


def day_rows(day) -> dict:
    from analytics.kpi import TABLES

    out = {}
    for model in TABLES:
        fields = [f.attname for f in model._meta.concrete_fields if f.attname != "id"]
        out[model.__name__] = sorted(model.objects.filter(day=day).values_list(*fields), key=str)
    return out


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


PICK = """
CREATE TEMPORARY TABLE bench_pick ON COMMIT DROP AS
SELECT DISTINCT ON (a.customer_id) a.id AS account_id, a.customer_id
  FROM (SELECT id FROM customers_customer WHERE lifecycle <> 'closed'
         ORDER BY random() LIMIT %(n)s) c
  JOIN customers_account a ON a.customer_id = c.id AND a.kind = 'current'
                          AND a.status <> 'closed'
"""
BOOK = """
INSERT INTO customers_transaction (account_id, customer_id, booked_at, amount, currency,
    direction, channel, kind, counterparty_masked, source, external_id)
SELECT account_id, customer_id, now(), 100 + customer_id %% 900, 'CNY', 'credit', 'mobile',
       '转账', '', 'bench', 'kpi-' || %(tag)s || '-' || customer_id
  FROM bench_pick
"""
MOVE_BALANCES = """
UPDATE customers_account a SET balance = a.balance + 100 + p.customer_id %% 900
  FROM bench_pick p WHERE a.id = p.account_id
"""
MOVE_RM = """
UPDATE customers_customer c
   SET primary_rm_id = (SELECT x.primary_rm_id FROM customers_customer x
                         WHERE x.branch_id = c.branch_id AND x.primary_rm_id <> c.primary_rm_id
                         LIMIT 1)
 WHERE c.id = ANY(%(ids)s) AND c.primary_rm_id IS NOT NULL
"""


def make_changes(n: int, tag: int) -> None:
    """An hour's worth of what core banking and the staff write, for n customers."""
    from django.db import connection
    from django.utils import timezone

    from customers.models import Account, Customer

    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [(tag % 997) / 1000])
        cursor.execute(PICK, {"n": n})
        cursor.execute(BOOK, {"tag": tag})
        cursor.execute(MOVE_BALANCES, {})
        cursor.execute("SELECT customer_id FROM bench_pick ORDER BY customer_id")
        picked = [row[0] for row in cursor.fetchall()]
        cursor.execute("DROP TABLE bench_pick")
        step = max(1, n // 100)
        cursor.execute(MOVE_RM, {"ids": picked[step : 2 * step]})
    today = timezone.localdate()
    for i, customer in enumerate(Customer.objects.filter(pk__in=picked[: max(1, n // 10)])):
        account = Account(customer=customer, kind=Account.Kind.TIME_DEPOSIT, opened_on=today,
                          balance=10_000)  # fmt: skip
        account.set_number(f"62{tag:07d}{customer.pk:09d}{i:02d}")
        account.save()
    Customer.objects.filter(pk__in=picked[-step:]).update(lifecycle=Customer.Lifecycle.CLOSED)


def measure(changes: list[int], repeat: int) -> None:
    setup_django()
    from django.db import connection, transaction
    from django.utils import timezone

    from analytics.kpi import kpi_refresh, kpi_snapshot
    from analytics.models import KpiCustomerDay, KpiRun
    from customers.models import Customer

    today = timezone.localdate()
    print(f"{Customer.objects.count():,} customers; today {today}")
    results: dict[str, list[float]] = {}
    how: dict[str, tuple] = {"nothing to apply": (0, "-")}
    try:
        with transaction.atomic():
            KpiRun.objects.filter(day=today).update(tracked=False)
            for round_ in range(repeat):
                kpi_refresh(today)  # the first round's is the day's first run: a rebuild
                results.setdefault("nothing to apply", []).append(timed(kpi_refresh, today)[0])
                for n in changes:
                    make_changes(n, round_ * 100_000 + n)
                    seconds, run = timed(kpi_refresh, today)
                    name = f"{n:,} customers changed"
                    results.setdefault(name, []).append(seconds)
                    how[name] = (run.rows.get("slices", "all"), run.mode)
                    applied = day_rows(today)
                    seconds, _run = timed(kpi_snapshot, today)
                    results.setdefault("whole rebuild", []).append(seconds)
                    assert day_rows(today) == applied, f"{n} changes: rows differ from a rebuild"
            every = KpiCustomerDay.objects.filter(day=today, level=0).count()
            how["whole rebuild"] = (every, KpiRun.Mode.FULL)
            raise RollbackError
    except RollbackError:
        pass
    connection.close()
    print(f"| run ({every:,} slices) | median s | slices recomputed | how |")
    print("| --- | --- | --- | --- |")
    for name, times in results.items():
        touched, mode = how[name]
        print(f"| {name} | {statistics.median(times):.3f} | {touched} | {mode} |")
    print("Every refresh gave the rows of the rebuild that followed it.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scratch", action="store_true", help="load a scratch database")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=20_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    options = parser.parse_args()
    admin_url = None
    if options.scratch:
        admin_url, os.environ["DATABASE_URL"] = scratch(options.customers, options.transactions)
    try:
        measure(options.changes, options.repeat)
    finally:
        if admin_url and not options.keep:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')


if __name__ == "__main__":
    main()

"""Benchmark: the analytics nightly run (features, scores with reasons, value tiers, CLV)
at scale, and the model metrics on the shared data sets next to their READMEs' baselines.

    .venv/bin/python scripts/with_services.py .venv/bin/python bench/analytics.py \
        --customers 100000 --transactions 2000000
    (1,000,000 / 20,000,000 is the issue's target volume; --reuse keeps a loaded database)

1. A scratch database beside DATABASE_URL's (`bankcrm_bench_analytics`) is migrated and
   loaded with `seed_demo --customers N`, then transactions are added by one INSERT … SELECT
   (copies of the demo's, spread over the year) up to --transactions. Above --template
   customers (20,000) it is loaded as bench/dashboards.py loads its own: `seed_demo` of the
   template, then copies of its customers and accounts over 48 branches and transactions by
   INSERT … SELECT, with a made-up value row each (about 5 minutes for 1,000,000 / 20,000,000).
2. The churn model seed_demo trained on the demo's history and activated (analytics/demo.py)
   scores everyone; without one (a database loaded before), one is trained on made-up rows
   (as the tests do) and activated by a second user.
3. `nightly_run` is timed step by step (features, scoring with three reasons each, values
   and tiers), with the process's peak memory: a first night (which changes the tiers the
   load made up) and the next (a steady night).
4. `model_train` on ../shared/datasets/churn and marketing (without `duration`, which is
   known only after the call) prints held-out metrics beside the README baselines.
"""

import argparse
import os
import resource
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DB = "bankcrm_bench_analytics"
DATASETS = ROOT.parent / "shared" / "datasets"


def scratch_url() -> str:
    url = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(url._replace(path=f"/{DB}"))


def create_database(reuse: bool) -> bool:
    """True when the database was (re)created and must be loaded."""
    admin = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone()
        if exists and reuse:
            return False
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}"')
        conn.execute(f'CREATE DATABASE "{DB}"')
    return True


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--transactions", type=int, default=0, help="total wanted (0: as seeded)")
    parser.add_argument("--template", type=int, default=20_000,
                        help="above it, load as bench/dashboards.py does")  # fmt: skip
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--skip-datasets", action="store_true", help="no model_train runs")
    args = parser.parse_args()

    fresh = create_database(args.reuse)
    if fresh and args.customers > args.template:
        sys.path.insert(0, str(ROOT))
        from bench.dashboards import load

        env = {**os.environ, "DATABASE_URL": scratch_url(), "DJANGO_DEBUG": "true"}
        load(scratch_url(), env, args.customers, args.transactions, args.template)
        fresh = False
    os.environ["DATABASE_URL"] = scratch_url()
    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankcrm.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if fresh:
        t0 = time.monotonic()
        call_command("migrate", verbosity=0)
        call_command("seed_demo", customers=args.customers, verbosity=0)
        print(f"loaded {args.customers:,} customers in {time.monotonic() - t0:.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_transaction")
        (have,) = cursor.fetchone()
        if args.transactions > have:
            t0 = time.monotonic()
            copies = -(-args.transactions // have) - 1
            cursor.execute(
                """
                INSERT INTO customers_transaction (account_id, customer_id, booked_at, amount,
                    currency, direction, channel, kind, counterparty_masked, source, external_id)
                SELECT t.account_id, t.customer_id,
                       t.booked_at - ((t.id * 7 + g * 13) %% 300) * interval '1 day',
                       t.amount, t.currency, t.direction, t.channel, t.kind,
                       t.counterparty_masked, 'bench', t.id || '-' || g
                  FROM customers_transaction t, generate_series(1, %s) g
                 LIMIT %s
                """,
                [copies, args.transactions - have],
            )
            cursor.execute("ANALYZE customers_transaction")
            print(f"added {args.transactions - have:,} transactions in "
                  f"{time.monotonic() - t0:.0f} s")  # fmt: skip
        cursor.execute("SELECT count(*) FROM customers_customer")
        customers = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM customers_transaction")
        transactions = cursor.fetchone()[0]
    print(f"volumes: {customers:,} customers, {transactions:,} transactions")

    from analytics.models import ModelVersion
    from bankcrm.models import User
    from tests.analytics.helpers import activate, synthetic_model

    trainer = User.objects.get(username="admin")
    second = User.objects.get(username="compliance")
    if not ModelVersion.objects.active().filter(name="churn").exists():
        activate(synthetic_model("churn", trainer=trainer, rows=5000), second)

    from analytics.nightly import nightly_run

    for night in ("first night", "next night"):
        t0 = time.monotonic()
        run = nightly_run(force=True)
        total = time.monotonic() - t0
        print(f"nightly run, {night}: {total:.1f} s for {run.customers:,} customers "
              f"({run.scores:,} scores, {run.tier_changes:,} tier changes); steps "
              f"{run.timings}; peak memory {peak_mb():.0f} MB", flush=True)  # fmt: skip
    if args.skip_datasets:
        return

    runs = [
        ("churn", DATASETS / "churn" / "BankChurners.csv", "Attrition_Flag", [],
         "README: LightGBM 0.994, logistic 0.924 ROC AUC (5-fold CV)"),
        ("marketing", DATASETS / "marketing" / "bank-additional-full.csv", "y", ["duration"],
         "README/Moro et al.: about 0.8 ROC AUC for a pre-call model"),
    ]  # fmt: skip
    for name, path, label, exclude, baseline in runs:
        if not path.exists():
            print(f"{path} not found: skipped")
            continue
        print(f"\n== {name}: {baseline}")
        extra = [a for column in exclude for a in ("--exclude", column)]
        call_command("model_train", f"bench-{name}", "--csv", str(path), "--label", label,
                     "--by", "admin", *extra)  # fmt: skip


if __name__ == "__main__":
    main()

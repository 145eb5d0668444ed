"""Benchmark: the suitability engine, per customer and set-based.

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/suitability.py
    (options: --customers N (1,000,000), --calls N (2,000), --rounds N (5), --reuse)

1. A scratch database beside DATABASE_URL's (`bankcrm_bench_suitability`) is migrated and
   loaded with N customers and their current risk assessments by INSERT … SELECT over
   generate_series (a tenth without an assessment, a tenth expired, one in twenty in the
   lowest category, levels C1–C5 evenly, tiers 80/15/5 % mass/affluent/private, 5 %
   corporate, a quarter aged 65 or over), with the row triggers off for the load
   (session_replication_role, the scratch database's owner only: the data-change trail of
   made-up customers is not what is measured), then VACUUM ANALYZE. --reuse keeps a
   database that holds N customers already.
2. Per customer: `suitability_check(…, record=False)` in µs per call, cold (each call a
   different customer, not read before by this process) and warm (the same customer again),
   and `evaluate()` alone (the rules without the two reads).
3. Set-based: `eligible_customers(all customers, product, purpose=marketing).count()` for an
   R3 fund and an R1 deposit (no assessment needed), each next to `SELECT count(*)` over the
   same customers in the same run, best and median of --rounds; and the plan.
Severe warnings are read through compliance.warning_rules until compliance.warnings is
merged: its SQL is FALSE, so the marketing form's warning check costs nothing here yet.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = "bankcrm_bench_suitability"

LOAD_CUSTOMERS = """
INSERT INTO customers_customer (
    cif, kind, name, name_latin, gender, birth_date, national_id_masked, mobile_masked,
    email_masked, occupation, employer, lifecycle, kyc_status, tier, tags, created_at,
    updated_at, branch_id, income_band, family_status)
SELECT 'B' || lpad(i::text, 12, '0'),
       CASE WHEN i %% 20 = 0 THEN 'corporate' ELSE 'individual' END,
       '客户' || i, '', 'U',
       CASE WHEN i %% 20 = 0 THEN NULL
            WHEN i %% 4 = 0 THEN date '1950-01-01' + (i %% 3000)
            ELSE date '1970-01-01' + (i %% 9000) END,
       '', '', '', '', '', 'active', 'verified',
       CASE WHEN i %% 20 = 1 THEN 'private' WHEN i %% 20 < 5 THEN 'affluent' ELSE 'mass' END,
       '{}', now(), now(), %(branch)s, '', ''
  FROM generate_series(1, %(n)s) AS i
"""

LOAD_PROFILES = """
INSERT INTO customers_riskprofile (
    customer_id, questionnaire_id, answers, score, level, lowest_category, legacy_level,
    is_current, assessed_at, expires_on)
SELECT c.id, %(questionnaire)s, '{}', 10, 1 + (c.id %% 5), c.id %% 20 = 7, '', true,
       now() - interval '100 days',
       CASE WHEN c.id %% 10 = 3 THEN current_date - 5 ELSE current_date + 265 END
  FROM customers_customer c
 WHERE c.id %% 10 <> 0
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def scratch_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{SCRATCH}"))


def prepare(url: str, customers: int, reuse: bool) -> None:
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [SCRATCH]).fetchone()
        if exists and reuse:
            with psycopg.connect(scratch_url(url)) as scratch:
                try:
                    have = scratch.execute("SELECT count(*) FROM customers_customer").fetchone()[0]
                except psycopg.Error:
                    have = -1
            if have == customers:
                log(f"reusing {SCRATCH} with {have:,} customers")
                return
        if exists:
            conn.execute(f'DROP DATABASE "{SCRATCH}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{SCRATCH}"')
    env = {**os.environ, "DATABASE_URL": scratch_url(url), "DJANGO_DEBUG": "true"}
    started = time.perf_counter()
    import subprocess

    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    log(f"migrated in {time.perf_counter() - started:.0f} s; loading {customers:,} customers")
    with psycopg.connect(scratch_url(url), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # no row triggers: a bulk load
        branch = conn.execute(
            "INSERT INTO bankcrm_branch (code, name, region, is_active) "
            "VALUES ('BENCH', '基准支行', '华东', true) RETURNING id"
        ).fetchone()[0]
        questionnaire = conn.execute(
            "SELECT id FROM customers_riskquestionnaire WHERE is_active"
        ).fetchone()[0]
        t = time.perf_counter()
        conn.execute(LOAD_CUSTOMERS, {"n": customers, "branch": branch})
        log(f"customers in {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        conn.execute(LOAD_PROFILES, {"questionnaire": questionnaire})
        log(f"risk profiles in {time.perf_counter() - t:.0f} s")
        conn.execute("VACUUM ANALYZE customers_customer")
        conn.execute("VACUUM ANALYZE customers_riskprofile")
    log(f"loaded in {time.perf_counter() - started:.0f} s")


def timed(fn, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    prepare(url, args.customers, args.reuse)

    os.environ["DATABASE_URL"] = scratch_url(url)
    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankcrm.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from compliance.models import Purpose
    from compliance.suitability import (
        customer_facts,
        eligible_customers,
        evaluate,
        ruleset_in_force,
        suitability_check,
    )
    from customers.models import Customer, Product

    fund, _ = Product.objects.get_or_create(
        code="BENCH-FUND-R3",
        defaults={"name_zh": "基准混合基金", "kind": "fund", "risk_level": 3, "status": "on_sale"},
    )
    deposit, _ = Product.objects.get_or_create(
        code="BENCH-DEP-R1",
        defaults={"name_zh": "基准定期", "kind": "time_deposit", "risk_level": 1,
                  "status": "on_sale"},
    )  # fmt: skip

    # ---- per customer ----
    ids = list(
        Customer.objects.order_by("?").values_list("pk", flat=True)[: args.calls]
    )  # different customers, in random order: cold
    customers = list(Customer.objects.filter(pk__in=ids).only("pk", "kind", "tier", "birth_date"))
    ruleset_in_force()
    t = time.perf_counter()
    for c in customers:
        suitability_check(customer=c, product=fund, purpose=Purpose.SALE, record=False)
    cold = (time.perf_counter() - t) / len(customers) * 1e6
    one = customers[0]
    t = time.perf_counter()
    for _ in range(args.calls):
        suitability_check(customer=one, product=fund, purpose=Purpose.SALE, record=False)
    warm = (time.perf_counter() - t) / args.calls * 1e6
    now = timezone.now()
    rules = ruleset_in_force(now)
    facts = customer_facts(one, purpose=Purpose.SALE, at=now)
    t = time.perf_counter()
    for _ in range(args.calls):
        evaluate(rules=rules, facts=facts, product=fund, purpose=Purpose.SALE, at=now)
    pure = (time.perf_counter() - t) / args.calls * 1e6
    log(f"per customer ({args.calls:,} calls): cold {cold:.0f} µs, warm {warm:.0f} µs a "
        f"call (two indexed reads: rule set, assessment); rules alone {pure:.1f} µs")  # fmt: skip

    # ---- set-based ----
    everyone = Customer.objects.all()
    total = everyone.count()
    for product in (fund, deposit):
        eligible = eligible_customers(everyone, product, purpose=Purpose.MARKETING)
        allowed = eligible.count()  # also warms the caches
        base = timed(lambda: Customer.objects.count(), args.rounds)
        form = timed(lambda: eligible.count(), args.rounds)  # noqa: B023
        log(
            f"{product.code}: {allowed:,} of {total:,} may be offered; "
            f"eligible_customers().count() best {min(form):.3f} s, median "
            f"{statistics.median(form):.3f} s; SELECT count(*) best {min(base):.3f} s, "
            f"median {statistics.median(base):.3f} s"
        )
        sql, params = eligible.query.sql_with_params()
        with connection.cursor() as cursor:
            explain = f"EXPLAIN (ANALYZE, BUFFERS OFF) SELECT count(*) FROM ({sql}) q"  # noqa: S608
            cursor.execute(explain, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        log("plan:\n" + plan)


if __name__ == "__main__":
    main()

"""Benchmark: segments and a campaign's audience at a million customers.

    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/marketing.py
    (options: --customers N (1,000,000), --transactions N (20,000,000), --rounds N (5),
     --reuse)

1. A scratch database beside DATABASE_URL's (`bankcrm_bench_marketing`) is migrated and
   loaded by INSERT … SELECT over generate_series, with the row triggers off for the load
   (session_replication_role: the data-change trail of made-up rows is not what is
   measured), then VACUUM ANALYZE: N customers (tiers 80/15/5 %, ages 18–80, a mobile
   each), a current account each and a time deposit for three in ten, the transactions
   spread evenly over the current accounts within the last year, a marketing consent for
   four in five (a tenth of those withdrew SMS later), a current risk assessment for nine
   in ten (C1–C5 evenly, a tenth expired), an open severe risk warning for one in a
   hundred. --reuse keeps a database that holds the wanted volumes.
2. Segments, as the marketing manager (whose segments hold every customer): the count of
   a five-condition segment (tier, age, SMS consent, holds a time deposit, at least two
   transactions in 90 days) next to `SELECT count(*)` of the customers, best and median of
   --rounds; its materialisation (segment_freeze: one INSERT … SELECT into the members).
3. A campaign to every customer (an empty segment) for an R3 fund with its risk
   disclosure, through the services (saved, submitted, approved by compliance, launched):
   the launch's time (audience resolution with every check into one delivery per
   customer, the suitability summary, the audience read logged), next to an INSERT …
   SELECT of the same number of rows into a table of the same shape without checks; the
   same campaign without a product (no suitability); and a check that every customer got
   exactly one delivery row.
4. Sending that campaign (the one with the fund) through the file provider: every
   customer gets a mobile number (one ciphertext, written with the triggers off), a Celery
   worker with two processes (prefork, like `make run`'s) starts on the scratch database
   with the file provider and no quiet hours, the launch's on-commit request and one more
   (what beat's 30-s sweep adds) start the work, and each run asks for the next while more
   is due. Reported: the time from the first request until nothing is pending, messages a
   second, and afterwards that every row to send was sent exactly once (one file per
   delivery, named by its idempotency key, and one row per customer). --no-send skips it.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.customer_pages import KEYS

ROOT = Path(__file__).resolve().parent.parent
SCRATCH = "bankcrm_bench_marketing"

LOAD = [
    (
        "customers",
        """
INSERT INTO customers_customer (
    cif, kind, name, name_latin, gender, birth_date, national_id_masked, mobile_masked,
    mobile_index, email_masked, occupation, employer, lifecycle, kyc_status, tier, tags,
    created_at, updated_at, branch_id, income_band, family_status)
SELECT 'M' || lpad(i::text, 12, '0'), 'individual', '客户' || i, '',
       CASE WHEN i %% 2 = 0 THEN 'F' ELSE 'M' END,
       current_date - (365 * 18 + (i::bigint * 7919) %% (365 * 62))::int,
       '', '138****' || lpad((i %% 10000)::text, 4, '0'), 'bench-' || i, '', '', '',
       'active', 'verified',
       CASE WHEN i %% 20 = 1 THEN 'private' WHEN i %% 20 < 5 THEN 'affluent' ELSE 'mass' END,
       '{}', now(), now(), %(branch)s, '', ''
  FROM generate_series(1, %(customers)s) AS i
""",
    ),
    (
        "current accounts",
        """
INSERT INTO customers_account (kind, number, number_index, number_masked, product_name,
    currency, balance, overdue_days, opened_on, status, customer_id, risk_level)
SELECT 'current', 'n' || c.id, 'a' || c.id, '6222****' || lpad((c.id %% 10000)::text, 4, '0'),
       '借记卡活期账户', 'CNY', (c.id %% 100000)::numeric, 0, date '2020-01-01', 'active', c.id, ''
  FROM customers_customer c ORDER BY c.id
""",
    ),
    (
        "time deposits",
        """
INSERT INTO customers_account (kind, number, number_index, number_masked, product_name,
    currency, balance, overdue_days, opened_on, status, customer_id, risk_level)
SELECT 'time_deposit', 't' || c.id, 'td' || c.id, '6222****0000', '一年期整存整取', 'CNY',
       50000, 0, date '2025-06-01', 'active', c.id, ''
  FROM customers_customer c WHERE c.id %% 10 < 3
""",
    ),
    (
        "transactions",
        """
INSERT INTO customers_transaction (booked_at, amount, currency, direction, channel, kind,
    counterparty_masked, source, external_id, account_id, customer_id)
SELECT now() - ((g * 7 %% 365) || ' days')::interval, 100 + g %% 900, 'CNY',
       CASE WHEN g %% 3 = 0 THEN 'credit' ELSE 'debit' END,
       (ARRAY['app', 'counter', 'atm', 'pos'])[1 + g %% 4], 'transfer', '', 'bench',
       'b' || g, %(first_account)s + (g %% %(customers)s), %(first_customer)s + (g %% %(customers)s)
  FROM generate_series(1, %(transactions)s) AS g
""",
    ),
    (
        "consents",
        """
INSERT INTO customers_consent (purpose, channel, granted, source, recorded_at, customer_id)
SELECT 'marketing', 'all', true, '开户协议', now() - interval '300 days', c.id
  FROM customers_customer c WHERE c.id %% 5 <> 0
UNION ALL
SELECT 'marketing', 'sms', false, '客服来电', now() - interval '30 days', c.id
  FROM customers_customer c WHERE c.id %% 5 <> 0 AND c.id %% 10 = 1
""",
    ),
    (
        "risk assessments",
        """
INSERT INTO customers_riskprofile (customer_id, questionnaire_id, answers, score, level,
    lowest_category, legacy_level, is_current, assessed_at, expires_on)
SELECT c.id, %(questionnaire)s, '{}', 10, 1 + (c.id %% 5), false, '', true,
       now() - interval '100 days',
       CASE WHEN c.id %% 10 = 3 THEN current_date - 5 ELSE current_date + 265 END
  FROM customers_customer c WHERE c.id %% 10 <> 0
""",
    ),
    (
        "severe warnings",
        """
INSERT INTO compliance_riskwarning (severity, source, evidence, first_seen, last_seen,
    expires_at, status, opened_at, cleared_reason, last_signal_key, customer_id, kind_id)
SELECT 3, 'bench', '{}', now() - interval '2 days', now() - interval '2 days',
       now() + interval '178 days', 'open', now(), '', 'bench:' || c.id, c.id, %(kind)s
  FROM customers_customer c WHERE c.id %% 100 = 7
""",
    ),
]
TABLES = ("customers_customer", "customers_account", "customers_transaction",
          "customers_consent", "customers_riskprofile", "compliance_riskwarning")  # fmt: skip


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def scratch_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{SCRATCH}"))


def _volumes(url: str) -> tuple[int, int]:
    with psycopg.connect(scratch_url(url)) as conn:
        try:
            return conn.execute(
                "SELECT (SELECT count(*) FROM customers_customer),"
                " (SELECT count(*) FROM customers_transaction)"
            ).fetchone()
        except psycopg.Error:
            return (-1, -1)


def prepare(url: str, customers: int, transactions: int, reuse: bool) -> None:
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [SCRATCH]).fetchone()
        if exists and reuse and _volumes(url) == (customers, transactions):
            log(f"reusing {SCRATCH}: {customers:,} customers, {transactions:,} transactions")
            return
        if exists:
            conn.execute(f'DROP DATABASE "{SCRATCH}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{SCRATCH}"')
    env = {**os.environ, "DATABASE_URL": scratch_url(url), "DJANGO_DEBUG": "true"}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    log(f"migrated in {time.perf_counter() - started:.0f} s")
    with psycopg.connect(scratch_url(url), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")  # no row triggers: a bulk load
        params = {
            "customers": customers,
            "transactions": transactions,
            "branch": conn.execute(
                "INSERT INTO bankcrm_branch (code, name, region, is_active) "
                "VALUES ('BENCH', '基准支行', '华东', true) RETURNING id"
            ).fetchone()[0],
            "questionnaire": conn.execute(
                "SELECT id FROM customers_riskquestionnaire WHERE is_active"
            ).fetchone()[0],
            "kind": conn.execute(
                "SELECT id FROM compliance_riskwarningkind WHERE code = 'court_enforcement'"
            ).fetchone()[0],
        }
        for name, sql in LOAD:
            if name == "transactions":
                params["first_customer"] = conn.execute(
                    "SELECT min(id) FROM customers_customer").fetchone()[0]  # fmt: skip
                params["first_account"] = conn.execute(
                    "SELECT min(id) FROM customers_account WHERE kind = 'current'"
                ).fetchone()[0]
            t = time.perf_counter()
            conn.execute(sql, params)
            log(f"{name} in {time.perf_counter() - t:.0f} s")
        for table in TABLES:
            conn.execute(f"VACUUM ANALYZE {table}")
    log(f"loaded in {time.perf_counter() - started:.0f} s")


def timed(fn, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def fmt(times: list[float]) -> str:
    return f"best {min(times) * 1000:,.0f} ms, median {statistics.median(times) * 1000:,.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=20_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--no-send", action="store_true", help="skip sending the campaign")
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    prepare(url, args.customers, args.transactions, args.reuse)

    os.environ["DATABASE_URL"] = scratch_url(url)
    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ.update(KEYS)  # the worker decrypts what this process encrypts
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankcrm.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection, transaction

    from bankcrm.audit import SYSTEM
    from bankcrm.models import Branch, User
    from bankcrm.roles import Role
    from customers.models import Customer, Product, ProductDocument
    from customers.services import product_document_add
    from marketing import services
    from marketing.models import Campaign, Delivery, Segment

    branch = Branch.objects.get(code="BENCH")

    def user(name, role):
        found, created = User.objects.get_or_create(username=name, defaults={"branch": branch})
        if created:
            from django.contrib.auth.models import Group

            found.groups.add(Group.objects.get_or_create(name=role)[0])
        return found

    marketer = user("bench-marketing", Role.MARKETING_MANAGER)
    officer = user("bench-compliance", Role.COMPLIANCE_OFFICER)
    fund, _ = Product.objects.get_or_create(
        code="BENCH-FUND-R3",
        defaults={"name_zh": "基准混合基金", "kind": "fund", "risk_level": 3, "status": "on_sale"},
    )
    if not ProductDocument.objects.filter(product=fund).exists():
        product_document_add(actor=None, product=fund, kind="risk_disclosure",
                             file_name="风险揭示书.txt", content="基金有风险".encode(),
                             content_type="text/plain")  # fmt: skip

    # ---- segments ----
    five = {"op": "and", "children": [
        {"field": "tier", "op": "in", "value": ["affluent", "private"]},
        {"field": "age", "op": "between", "value": ["30", "60"]},
        {"field": "consent", "op": "in", "value": ["sms"]},
        {"field": "holds", "op": "in", "value": ["time_deposit"]},
        {"field": "txn_count", "op": "gte", "value": "2", "days": 90},
    ]}  # fmt: skip
    segment = services.segment_create(actor=marketer, context=SYSTEM, name="五个条件",
                                      kind=Segment.Kind.DYNAMIC, conditions=five)  # fmt: skip
    total = Customer.objects.count()
    base = timed(lambda: Customer.objects.count(), args.rounds)
    counts = []
    times = timed(lambda: counts.append(services.segment_count(segment=segment)[0]), args.rounds)
    log(f"baseline SELECT count(*) of {total:,} customers: {fmt(base)}")
    log(f"five-condition segment count ({counts[-1]:,} customers): {fmt(times)}")
    with connection.cursor() as cursor:
        query = services.segment_customers(segment).order_by().values("pk").query
        sql, params = query.sql_with_params()
        explain = f"EXPLAIN (ANALYZE, TIMING OFF) SELECT count(*) FROM ({sql}) s"  # noqa: S608
        cursor.execute(explain, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    log("plan of the count:\n" + plan)
    freeze = []
    for _ in range(2):
        t = time.perf_counter()
        snapshot = services.segment_freeze(actor=marketer, context=SYSTEM, segment=segment)
        freeze.append(time.perf_counter() - t)
    log(f"materialisation (snapshot of {snapshot.last_count:,} members): {fmt(freeze)}")

    # ---- a campaign to every customer ----
    everyone = services.segment_create(actor=marketer, context=SYSTEM, name="全部客户",
                                       kind=Segment.Kind.DYNAMIC)  # fmt: skip

    def campaign(product):
        draft = services.CampaignDraft(
            name=f"bench {product and product.code}", segment=everyone, channels=["sms"],
            product=product, texts={("sms", "A", "zh-hans"): "{name}您好，{product}热销中"},
        )  # fmt: skip
        c = services.campaign_save(actor=marketer, context=SYSTEM, draft=draft)
        services.campaign_submit(actor=marketer, context=SYSTEM, campaign=c)
        services.campaign_approve(actor=officer, context=SYSTEM, campaign=c)
        return c

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE marketing_delivery")
        cursor.execute("CREATE TEMP TABLE bench_rows (LIKE marketing_delivery INCLUDING ALL)")
        t = time.perf_counter()
        with transaction.atomic():
            cursor.execute(
                "INSERT INTO bench_rows (campaign_id, step_id, customer_id, channel, status,"
                " left_out_reason, held, idempotency_key, attempts, next_attempt_at,"
                " last_error, provider, created_at)"
                " SELECT 0, 0, id, 'sms', 'pending', '', false, 'k' || id, 0, now(), '', '',"
                " now() FROM customers_customer"
            )
        baseline = time.perf_counter() - t
        cursor.execute("DROP TABLE bench_rows")
    log(f"baseline INSERT … SELECT of {total:,} delivery-shaped rows, no checks: "
        f"{baseline:.1f} s")  # fmt: skip
    for product in (None, fund):
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE marketing_delivery")  # the frequency cap counts them
        c = campaign(product)
        t = time.perf_counter()
        services.campaign_launch(actor=marketer, context=SYSTEM, campaign=c)
        took = time.perf_counter() - t
        rows = Delivery.objects.filter(campaign=c)
        by = dict(rows.filter(status="left_out").values_list("left_out_reason").annotate(
            n=django.db.models.Count("pk")).order_by())  # fmt: skip
        once = rows.values("customer_id").distinct().count() == rows.count() == total
        log(f"launch {'with the fund (every check)' if product else 'without a product'}: "
            f"{took:.1f} s for {rows.count():,} deliveries, "
            f"{rows.filter(status='pending').count():,} to send, left out {by}; "
            f"exactly one row per customer: {once}")  # fmt: skip
    if not args.no_send:
        send(c, total)
    Campaign.objects.all().update(status="cancelled")


def send(campaign, total: int) -> None:
    """Section 4: the launched campaign through the file provider with two worker processes."""
    from django.db import connection
    from django.db.models import Count

    from customers.models import Customer
    from marketing.models import Delivery

    probe = Customer()
    probe.set_mobile("13800138000")
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        t = time.perf_counter()
        cursor.execute(
            "UPDATE customers_customer SET mobile = %s, mobile_index = %s WHERE mobile IS NULL",
            [Customer._meta.get_field("mobile").get_db_prep_value(probe.mobile, connection),
             probe.mobile_index],
        )  # fmt: skip
        cursor.execute("SET session_replication_role = DEFAULT")
    log(f"a mobile number for every customer in {time.perf_counter() - t:.0f} s")
    folder = Path(tempfile.gettempdir()) / "bankcrm-bench-marketing"
    shutil.rmtree(folder, ignore_errors=True)
    pending = Delivery.objects.filter(campaign=campaign, status="pending")
    to_send = pending.count()
    worker_env = {
        **os.environ, "DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_LOG_LEVEL": "WARNING",
        "MARKETING_SMS_PROVIDER": "file", "MARKETING_FILE_DIR": str(folder),
        "MARKETING_QUIET_START": "0", "MARKETING_QUIET_END": "0",
    }  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bankcrm", "worker", "--concurrency", "2",
         "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle",
         "--prefetch-multiplier", "1", "--hostname", f"bench-marketing-{os.getpid()}@%h"],
        cwd=ROOT, env=worker_env, start_new_session=True,
    )  # fmt: skip
    from bankcrm.outbox import enqueue

    try:
        started = time.perf_counter()
        for _ in range(2):  # the launch's on-commit request, and beat's first sweep
            enqueue("marketing.tasks.send_campaigns")
        left, last = to_send, time.perf_counter()
        while left:
            time.sleep(2)
            left = pending.count()
            now = time.perf_counter()
            if int(now - started) % 60 < 2 or not left:
                log(f"  {to_send - left:,} of {to_send:,} settled, "
                    f"{(to_send - left) / (now - started):,.0f} a second")  # fmt: skip
            if worker.poll() is not None:
                raise SystemExit("the worker died")
            last = now
        took = last - started
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
    rows = Delivery.objects.filter(campaign=campaign)
    sent = rows.filter(status="sent").count()
    by = dict(rows.exclude(status="sent").values_list("status").annotate(
        n=Count("pk")).order_by())  # fmt: skip
    files = sum(1 for _ in folder.glob("*.json"))
    keys = set(rows.filter(status="sent").values_list("idempotency_key", flat=True))
    named = {path.stem for path in folder.glob("*.json")}
    expected = {key.replace(":", "_").replace("/", "_") for key in keys}
    once = rows.values("customer_id").distinct().count() == rows.count() == total
    log(f"sent {sent:,} of {to_send:,} in {took:.0f} s ({sent / took:,.0f} a second, two "
        f"worker processes); other rows {by}; {files:,} files, one per sent delivery: "
        f"{files == sent and named == expected}; one row per customer: {once}")  # fmt: skip


if __name__ == "__main__":
    main()

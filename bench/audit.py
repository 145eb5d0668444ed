"""Benchmark: the audit screens at 20,000,000 audit rows, and what writing the access log
adds to the customer 360 page, under gunicorn (issue 6).

    .venv/bin/python scripts/with_services.py .venv/bin/python bench/audit.py \\
        [--rows 20000000] [--seconds 20] [--concurrency 4] [--workers 2] [--reuse] [--keep]
    (also --customers 100000, --rounds 3, --inprocess 300, --port 8767)

1. A scratch database beside DATABASE_URL's (`bankcrm_bench_audit`) is migrated, gets
   `seed_demo --customers 100000`, and then audit rows by COPY up to --rows in all, split
   as in production: 85% sensitive reads (bankcrm_accesslog), 12.5% data changes
   (compliance_datachange; seed_demo's own ~340,000 creations count) and 2.5% sign-in
   events (bankcrm_securityevent). Deterministic from a seed: the seeded users read mostly
   their own book or branch (agents: any customer), a few much more than others; some
   customers are read far more often than most (Pareto); ~96% views, 2% searches, 1.5% ID
   reveals with a reason, 0.5% exports; each user at one or two of 2,000 branch
   workstations; times over the last 365 days in branch hours (weekends and holidays
   quieter), increasing with id. The COPY runs with `session_replication_role = replica`
   (the embedded server's role is a superuser), so no trigger fires: the loaded rows get
   no hash-chain link (`manage.py verify_audit` reports them as unlinked) and foreign keys
   are not checked row by row. Secondary indexes are dropped for the load and rebuilt
   from their definitions, then the tables are vacuumed and analysed. --reuse skips
   loading when the database already holds the wanted volume.
2. gunicorn serves the project with production settings (bench.settings). The demo
   compliance officer gets a confirmed TOTP device, signs in through the login form and
   passes the TOTP check once; the load threads share that session. The demo
   access-anomaly rules stay active (checked after every logged read) but with
   thresholds no bench reaches.
3. Each audit screen is driven for --seconds at --concurrency: newest reads; a much-read
   customer; the busiest reader; reveals; the busiest workstation; one day six months
   ago; a customer's ID reveals yesterday; the busiest reader's reveals; data changes by
   customer and by user; failed sign-ins; a filter that matches nothing; page 21 (20
   "older" links followed); a customer's history and a user's activity (three kinds
   merged); the reads and the activity of a heavy reader who left at mid-year (the
   generator stops their reads then). Every answer must be 200 and carry the rows
   (`data-testid="audit-rows"`); a screen whose first request takes over 5 s is not
   driven, that request is reported. Each page's queries are then run under EXPLAIN
   (ANALYZE, BUFFERS) as the views build them; the plans of a screen over 200 ms p95
   are printed in full.
4. The 360 page over the demo RM's book, signed in as the RM, against that server, one
   whose customer views do not write the access log, and one that writes the rows but
   runs no anomaly check (bench/wsgi_noaudit.py), in turn --rounds times: what audit
   writes, and the check each one triggers, add to p50 and p95 and take from throughput.
   Served pages share the two cores with the load generator, so the same three ways are
   also timed in this process through Django's test client, in turn per request
   (--inprocess requests each): the work of one request, where a millisecond shows. The
   check's in-process cost is reported before and after the runs (it follows the
   customers the reader read, not how often), with the parts of one logged read.
5. The newest reads after cursors 1,000 to 1,000,000 rows back and six months back, SQL
   only, as the view queries them: keyset paging should cost the same at any depth.
"""

import argparse
import html
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from bisect import bisect
from datetime import date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.customer_pages import (
    ROOT,
    Session,
    drive,
    log,
    pages,
    scratch_database,
    serve,
    sign_in,
)

SCRATCH = "bankcrm_bench_audit"
SEED = 2026
TZ = ZoneInfo("Asia/Shanghai")
# Shares of the audit rows, and the columns each table is loaded with.
READS, WRITES, SECURITY = "bankcrm_accesslog", "compliance_datachange", "bankcrm_securityevent"
SHARES = {READS: 0.85, WRITES: 0.125, SECURITY: 0.025}
COLUMNS = {
    READS: "at, actor_id, action, object_type, object_id, customer_id, reason, detail,"
    " ip_address, request_id",
    WRITES: "at, table_name, row_pk, op, changes, customer_id, actor_id, actor_label,"
    " ip_address, request_id",
    SECURITY: "at, kind, user_id, username, actor_id, customer_id, ip_address, request_id,"
    " detail, dedupe_key",
}
ROWS_MARK = b'data-testid="audit-rows"'
SLOW_MS = 200
PROBE_LIMIT_MS = 5000


# ---- what the rows look like --------------------------------------------------------------

# Relative read volume of the seeded demo users; the book-holding RMs (rm_*) get about 1
# each, three of them 4. (With ~100 users for 17M reads a year, everyone reads hundreds of
# customers a day: a big bank's volume on a small bank's staff.)
READ_WEIGHT = {"agent": 6, "agent2": 5, "rm": 2, "rm2": 1.5, "branch_manager": 2,
               "supervisor": 1, "compliance": 0.3, "admin": 0.05}  # fmt: skip
REVEAL_REASONS = [
    "客户临柜办理挂失，核对身份", "客户来电要求修改预留手机号，核实身份",
    "开立理财账户，核对证件信息", "反洗钱尽职调查，核对证件", "客户投诉处理，需回电联系客户",
    "贷款审批材料核验", "客户信息更新，核对原登记号码", "协助有权机关查询，核对身份信息",
]  # fmt: skip
EXPORT_FILTERS = [
    {"tier": "affluent"}, {"tier": "private"}, {"kyc_expiring": "True"},
    {"lifecycle": "dormant"}, {"tier": "affluent", "risk_level": "R4"}, {"q": "王"},
    {"tags": "代发工资"}, {},
]  # fmt: skip
HOUR_WEIGHT = [0.01] * 7 + [0.2, 0.8, 1, 1, 1, 0.5, 0.8, 1, 1, 1, 0.6, 0.2, 0.1, 0.05] + [0.01] * 3
DAY_WEIGHT = [1, 1, 1, 1, 1, 0.35, 0.2]  # Monday … Sunday: branches open on weekends, fewer
# Quiet weeks (first day, days): National Day, the Spring Festival.
HOLIDAYS = [(date(2025, 10, 1), 8), (date(2026, 2, 15), 9), (date(2026, 10, 1), 8),
            (date(2027, 2, 5), 9)]  # fmt: skip


class Weighted:
    """Picks items with the given relative weights."""

    def __init__(self, items, weights):
        self.items = list(items)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]
        self.last = len(self.items) - 1

    def pick(self, rng: random.Random):
        return self.items[min(self.last, bisect(self.cum, rng.random() * self.total))]


class Timeline:
    """Times for the rows of one table over the last `days` days, in branch hours, in id
    order: the i-th of n rows falls at the i/n point of the year's weighted hours."""

    def __init__(self, now: datetime, days: int = 365):
        end = now.astimezone(TZ).replace(minute=0, second=0, microsecond=0)
        quiet = {day + timedelta(days=k) for day, length in HOLIDAYS for k in range(length)}
        first = end.date() - timedelta(days=days)
        self.prefixes, weights = [], []
        for d in range(days + 1):
            day = first + timedelta(days=d)
            # A little growth over the year; holidays quiet.
            scale = DAY_WEIGHT[day.weekday()] * (0.85 + 0.3 * d / days)
            scale *= 0.1 if day in quiet else 1
            for hour in range(24):
                if datetime.combine(day, datetime.min.time(), TZ) + timedelta(hours=hour) >= end:
                    break
                self.prefixes.append(f"{day.isoformat()} {hour:02d}:")
                weights.append(scale * HOUR_WEIGHT[hour])
        self.weights = weights
        self.cum = [0.0, *accumulate(weights)]

    def stamps(self, count: int, rng: random.Random):
        total = self.cum[-1]
        slot = 0
        for i in range(count):
            target = (i + rng.random()) * total / count
            while self.cum[slot + 1] <= target:
                slot += 1
            into = int((target - self.cum[slot]) / self.weights[slot] * 3_600_000_000)
            minute, rest = divmod(min(into, 3_599_999_999), 60_000_000)
            second, micro = divmod(rest, 1_000_000)
            yield f"{self.prefixes[slot]}{minute:02d}:{second:02d}.{micro:06d}+08"


class Actor:
    def __init__(self, pk, username, roles, branch, ips):
        self.pk, self.username, self.roles, self.branch = pk, username, roles, branch
        self.ips = ips  # primary, secondary, the branch's others
        self.reviewer = bool(roles & {"compliance_officer", "admin"})
        self.pool = None  # Weighted customers, or (book, branch)

    def ip(self, rng: random.Random) -> str:
        roll = rng.random()
        if roll < 0.88:
            return self.ips[0]
        if roll < 0.97:
            return self.ips[1]
        return rng.choice(self.ips[2])

    def customer(self, rng: random.Random) -> int:
        if isinstance(self.pool, tuple):
            book, branch = self.pool
            return (book if rng.random() < 0.85 else branch).pick(rng)
        return self.pool.pick(rng)


class World:
    """The seeded users and customers, and who reads whom from where."""

    def __init__(self, conn, now: datetime):
        rng = random.Random(SEED)
        self.timeline = Timeline(now)
        users = conn.execute(
            "SELECT u.id, u.username, u.branch_id, coalesce(array_agg(g.name)"
            " FILTER (WHERE g.name IS NOT NULL), '{}') FROM bankcrm_user u"
            " LEFT JOIN bankcrm_user_groups ug ON ug.user_id = u.id"
            " LEFT JOIN auth_group g ON g.id = ug.group_id GROUP BY u.id ORDER BY u.id"
        ).fetchall()
        customers = conn.execute(
            "SELECT id, primary_rm_id, branch_id FROM customers_customer ORDER BY id"
        ).fetchall()
        branches = sorted({b for _pk, _rm, b in customers} | {u[2] for u in users if u[2]})
        stations = {
            b: [f"10.{31 + n}.{8 + k // 100}.{10 + k % 100}" for k in range(2000 // len(branches))]
            for n, b in enumerate(branches)
        }
        self.stations = [ip for ips in stations.values() for ip in ips]
        # Most customers are read now and then, a few (the busy, the troubled) 50 times more.
        popularity = {pk: min(50.0, rng.paretovariate(1.5)) for pk, _rm, _b in customers}

        def pool(ids):
            return Weighted(ids, [popularity[pk] for pk in ids]) if ids else None

        everyone = pool([pk for pk, _rm, _b in customers])
        by_branch = {b: pool([pk for pk, _rm, cb in customers if cb == b]) for b in branches}
        books: dict[int, list[int]] = {}
        for pk, rm, _b in customers:
            books.setdefault(rm, []).append(pk)
        self.accounts: dict[int, list[int]] = {}
        for pk, customer in conn.execute("SELECT id, customer_id FROM customers_account"):
            self.accounts.setdefault(customer, []).append(pk)

        self.actors, weights = [], []
        book_rms = [u for u in users if u[1].startswith("rm_")]
        busy = [u[0] for u in rng.sample(book_rms, min(3, len(book_rms)))]
        # One of them left the bank at mid-year: a heavy reader with nothing recent.
        self.leaver = busy[0]
        for pk, username, branch, roles in users:
            roles = set(roles)
            if not roles:
                continue
            home = stations.get(branch) or stations[branches[0]]
            primary, secondary = rng.sample(home, 2)
            actor = Actor(pk, username, roles, branch, (primary, secondary, home))
            branch_pool = by_branch.get(branch) or everyone
            if "relationship_manager" in roles and books.get(pk):
                actor.pool = (pool(books[pk]), branch_pool)
            elif "branch_manager" in roles:
                actor.pool = branch_pool
            else:
                actor.pool = everyone
            weight = READ_WEIGHT.get(username) or rng.lognormvariate(0, 0.4)
            self.actors.append(actor)
            weights.append(weight * (4 if pk in busy else 1))
        self.readers = Weighted(self.actors, weights)
        front = [(a, w) for a, w in zip(self.actors, weights, strict=True) if not a.reviewer]
        self.writers = Weighted([a for a, _w in front], [w for _a, w in front])
        # Everyone signs in about as often; agents work shifts.
        self.signers = Weighted(
            self.actors, [2 if "service_agent" in a.roles else 1 for a in self.actors]
        )
        self.tickets = conn.execute("SELECT coalesce(max(id), 0) FROM service_ticket").fetchone()[0]

    def pick(self, among: Weighted, rng: random.Random, late: bool) -> Actor:
        """One of `among`; in the year's second half, never the RM who left."""
        actor = among.pick(rng)
        while late and actor.pk == self.leaver:
            actor = among.pick(rng)
        return actor


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _rid(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def access_lines(world: World, count: int, rng: random.Random):
    """bankcrm_accesslog rows as COPY text."""
    searches = [
        '{"by": "national_id", "hits": 1}', '{"by": "mobile", "hits": 1}',
        '{"by": "account", "hits": 1}', '{"by": "ticket_intake"}',
    ]  # fmt: skip
    fields = [_json({"field": f}) for f in ["national_id"] * 12 + ["mobile"] * 7 + ["email"]]
    exports = [
        _json({"filter": f, "rows": int(min(50_000, rng.lognormvariate(5, 1.5)))})
        for f in EXPORT_FILTERS
        for _ in range(25)
    ]
    for n, at in enumerate(world.timeline.stamps(count, rng)):
        actor = world.pick(world.readers, rng, n >= count // 2)
        customer = actor.customer(rng)
        head = f"{at}\t{actor.pk}\t"
        tail = f"\t{actor.ip(rng)}\t{_rid(rng)}\n"
        roll = rng.random()
        if actor.reviewer:
            if roll < 0.95:  # opening a customer's audit history is logged too
                yield (f"{head}view\tcompliance.customer_history\t{customer}\t{customer}"
                       f"\t\t{{}}{tail}")  # fmt: skip
            else:
                shown = {"kind": "reads", "customer": str(customer)}
                detail = _json({"filter": shown, "rows": rng.randrange(1, 3000)})
                yield f"{head}export\tcompliance.audit\t\t{customer}\t\t{detail}{tail}"
        elif roll < 0.96:
            yield f"{head}view\tcustomers.customer\t{customer}\t{customer}\t\t{{}}{tail}"
        elif roll < 0.98:
            detail = rng.choice(searches)
            found = customer if rng.random() < 0.93 else "\\N"
            yield f"{head}search\tcustomers.customer\t\t{found}\t\t{detail}{tail}"
        elif roll < 0.995:
            reason = rng.choice(REVEAL_REASONS)
            yield (f"{head}reveal\tcustomers.customer\t{customer}\t{customer}\t{reason}"
                   f"\t{rng.choice(fields)}{tail}")  # fmt: skip
        else:
            yield f"{head}export\tcustomers.customer\t\t\\N\t\t{rng.choice(exports)}{tail}"


def change_lines(world: World, count: int, rng: random.Random):
    """compliance_datachange rows as COPY text: mostly updates of customers, holdings and
    tickets by front-line users, some by tasks and imports."""
    tiers = ["mass", "affluent", "private"]
    statuses = ["open", "assigned", "in_progress", "pending_customer", "resolved", "closed"]
    kyc = ["pending", "verified", "expiring", "expired"]

    def mobile():
        return f"1{rng.randrange(30, 90)}******{rng.randrange(100):02d}"

    customer_updates = [
        _json(change)
        for _ in range(20)
        for change in (
            {"tier": rng.sample(tiers, 2)},
            {"kyc_status": rng.sample(kyc, 2),
             "kyc_expires_on": [f"2026-0{rng.randrange(1, 10)}-15", "2029-06-15"]},
            {"mobile": ["***", "***"], "mobile_index": ["***", "***"],
             "mobile_masked": [mobile(), mobile()]},
            {"risk_level": [f"R{rng.randrange(1, 6)}", f"R{rng.randrange(1, 6)}"],
             "risk_expires_on": [None, f"2027-0{rng.randrange(1, 10)}-01"]},
        )
    ] + [_json({"tags": [["代发工资"], ["代发工资", "高净值"]]}),
         _json({"lifecycle": ["active", "dormant"]})]  # fmt: skip
    account_updates = [
        _json(change)
        for change in ({"status": ["active", "dormant"]}, {"status": ["dormant", "active"]},
                       {"status": ["active", "closed"]}, {"product_name": ["活期", "智能存款"]})
    ]  # fmt: skip
    system_labels = ["task:sync_core_banking", "task:kyc_expiry", "api:core-banking"] + [
        f"import:{n}" for n in range(1, 60)
    ]
    ticket = world.tickets
    for n, at in enumerate(world.timeline.stamps(count, rng)):
        if rng.random() < 0.85:
            actor = world.pick(world.writers, rng, n >= count // 2)
            who = f"{actor.pk}\tweb\t{actor.ip(rng)}\t{_rid(rng)}"
            customer = actor.customer(rng)
        else:
            who = f"\\N\t{rng.choice(system_labels)}\t\\N\t"
            customer = world.readers.pick(rng).customer(rng)
        roll, op_roll = rng.random(), rng.random()
        op = "U" if op_roll < 0.88 else "I" if op_roll < 0.99 else "D"
        if roll < 0.42:
            table, row = "customers_customer", customer
            changes = (rng.choice(customer_updates) if op == "U"
                       else f'{{"id": [null, {customer}], "tier": [null, "mass"]}}')  # fmt: skip
        elif roll < 0.72:
            table = "customers_account"
            row = rng.choice(world.accounts.get(customer) or [customer])
            changes = (rng.choice(account_updates) if op == "U" else
                       f'{{"kind": [null, "current"], "currency": [null, "CNY"], "customer_id":'
                       f' [null, {customer}]}}')  # fmt: skip
        elif roll < 0.94:
            table = "service_ticket"
            if op == "U":
                row = rng.randrange(1, ticket + 2)
                changes = _json({"status": rng.sample(statuses, 2)})
            else:
                ticket += 1
                row = ticket
                changes = '{"status": [null, "open"], "subject": [null, "手机银行无法登录"]}'
        elif roll < 0.99:
            table, row, op = "customers_consent", customer * 3 + rng.randrange(3), "I"
            granted = rng.choice(["true", "false"])
            changes = f'{{"purpose": [null, "marketing"], "granted": [null, {granted}]}}'
        else:
            table, row, customer = "bankcrm_user", world.readers.pick(rng).pk, "\\N"
            changes = '{"last_name": ["王", "汪"]}' if op == "U" else '{"is_active": [null, true]}'
        yield f"{at}\t{table}\t{row}\t{op}\t{changes}\t{customer}\t{who}\n"


def security_lines(world: World, count: int, rng: random.Random):
    """bankcrm_securityevent rows as COPY text: sign-ins, sign-outs (some by timeout),
    failed sign-ins (a few naming no account) and TOTP checks."""
    mfa = [a for a in world.actors if a.reviewer]
    for n, at in enumerate(world.timeline.stamps(count, rng)):
        roll = rng.random()
        actor = world.pick(world.signers, rng, n >= count // 2)
        if roll < 0.45:
            kind, user, by, who, detail = "login", actor.pk, actor.pk, actor.username, "{}"
        elif roll < 0.80:
            kind, user, who = "logout", actor.pk, actor.username
            timeout = rng.random() < 0.3
            by = "\\N" if timeout else actor.pk
            detail = '{"reason": "timeout"}' if timeout else '{"reason": "user"}'
        elif roll < 0.95:
            kind, by, detail = "login_failed", "\\N", '{"locked_out": false}'
            if rng.random() < 0.1:
                user, who = "\\N", actor.username.replace("_", ".") + "1"
            else:
                user, who = actor.pk, actor.username
        else:
            actor = rng.choice(mfa)
            kind, user, by, who = "mfa_verified", actor.pk, actor.pk, actor.username
            detail = f'{{"device": {actor.pk}, "enrolling": false}}'
        yield (f"{at}\t{kind}\t{user}\t{who}\t{by}\t\\N\t{actor.ip(rng)}\t{_rid(rng)}"
               f"\t{detail}\t\n")  # fmt: skip


# ---- loading ------------------------------------------------------------------------------


def audit_counts(conn) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SHARES}  # noqa: S608


def load(url: str, env: dict, customers: int, rows: int) -> None:
    def manage(*argv):
        subprocess.run([sys.executable, "manage.py", *argv], cwd=ROOT, env=env, check=True)

    started = time.perf_counter()
    log(f"seed_demo --customers {customers:,}")
    manage("seed_demo", "--customers", str(customers))
    log(f"seed_demo took {time.perf_counter() - started:.0f} s")
    with psycopg.connect(url, autocommit=True) as conn:
        have = audit_counts(conn)
        missing = {t: max(0, round(rows * share) - have[t]) for t, share in SHARES.items()}
        log(f"audit rows after seeding: {have}; adding {missing}")
        world = World(conn, datetime.now(TZ))
        indexes = conn.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
            " AND indexname NOT LIKE '%%pkey'",
            [list(SHARES)],
        ).fetchall()
        for _table, name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        # No triggers: no chain links, no append-only or foreign-key checks per row.
        conn.execute("SET session_replication_role = replica")
        copied = time.perf_counter()
        makers = {READS: access_lines, WRITES: change_lines, SECURITY: security_lines}
        try:
            for n, (table, count) in enumerate(missing.items()):
                if count:
                    lines = makers[table](world, count, random.Random(SEED + n))
                    _copy(conn, table, lines, count)
            total = sum(missing.values())
            seconds = time.perf_counter() - copied
            log(f"COPY of {total:,} audit rows: {seconds:.0f} s ({total / seconds:,.0f} rows/s)")
        finally:
            # Even after a failed COPY: a --reuse run must find the indexes in place.
            conn.execute("RESET session_replication_role")
            rebuilt = time.perf_counter()
            conn.execute("SET maintenance_work_mem = '1GB'")
            for _table, _name, definition in indexes:
                conn.execute(definition)
            log(f"{len(indexes)} indexes rebuilt in {time.perf_counter() - rebuilt:.0f} s")
        for table in SHARES:
            conn.execute(f"VACUUM ANALYZE {table}")
    log(f"loaded in {time.perf_counter() - started:.0f} s (after migrate)")


def _copy(conn, table: str, lines, count: int) -> None:
    started = time.perf_counter()
    with (
        conn.cursor() as cursor,
        cursor.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy,
    ):
        buffer = []
        for n, line in enumerate(lines, 1):
            buffer.append(line)
            if len(buffer) == 20_000:
                copy.write("".join(buffer))
                buffer.clear()
                if n % 2_000_000 == 0:
                    rate = n / (time.perf_counter() - started)
                    log(f"  {table}: {n:,} of {count:,} ({rate:,.0f}/s)")
        copy.write("".join(buffer))
    log(f"  {table}: {count:,} rows in {time.perf_counter() - started:.0f} s")


# ---- the officer, the rules ----------------------------------------------------------------


def setup_django(url: str) -> None:
    os.environ.update(DATABASE_URL=url, DJANGO_DEBUG="true", DJANGO_LOG_LEVEL="WARNING",
                      DJANGO_SETTINGS_MODULE="bankcrm.settings")  # fmt: skip
    import django

    django.setup()


def prepare_users():
    """A confirmed TOTP device for the demo compliance officer (its key is returned), and
    the demo anomaly rules out of reach: a bench reads far more customers than anyone."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from bankcrm.models import User
    from compliance.demo import RULES
    from compliance.models import AccessRule

    officer = User.objects.get(username="compliance")
    device = TOTPDevice.objects.filter(user=officer, confirmed=True).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=officer, name="bench", confirmed=True)
    rules = AccessRule.objects.filter(name__in=[r["name"] for r in RULES], is_active=True)
    changed = rules.exclude(threshold=10**9).update(threshold=10**9)
    log(f"{rules.count()} active anomaly rules, {changed} raised to 10^9")
    return device


def sign_in_verified(port: int, username: str, device) -> dict:
    """The login form, then the TOTP check with the device's current code."""
    from django_otp.oath import TOTP

    cookies = sign_in(port, username)
    session = Session(port, cookies)
    for _attempt in range(2):
        _status, page = session.request("GET", "/accounts/mfa/verify/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        body = urlencode({"token": f"{totp.token():06d}", "csrfmiddlewaretoken": token.decode()})
        status, _ = session.request(
            "POST", "/accounts/mfa/verify/", body,
            {"Content-Type": "application/x-www-form-urlencoded", "Referer": "http://127.0.0.1/"},
        )  # fmt: skip
        if status == 302:
            return session.cookies
        # A code is accepted once per device: one used this step already, wait for the next.
        time.sleep(device.step - time.time() % device.step + 1)
    raise SystemExit(f"{username} did not pass the TOTP check")


# ---- the screens ----------------------------------------------------------------------------


def targets(url: str) -> dict:
    """A much-read customer, the busiest reader and workstation (from a 1% sample), the
    busiest writer, and days to filter on."""
    with psycopg.connect(url) as conn:

        def top(sql):
            row = conn.execute(sql).fetchone()
            return row[0] if row else None

        sample = "FROM bankcrm_accesslog TABLESAMPLE SYSTEM (1) REPEATABLE (2026)"
        customer = top(f"SELECT customer_id {sample} WHERE customer_id IS NOT NULL"
                       " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")  # fmt: skip
        actor = top(f"SELECT actor_id {sample} GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        ip = top(f"SELECT host(ip_address) {sample} GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        # The heaviest reader with nothing in the last 90 days: someone who left.
        leaver = top(f"SELECT actor_id {sample} GROUP BY 1 HAVING max(at) < now() - interval"
                     " '90 days' ORDER BY count(*) DESC LIMIT 1") or actor  # fmt: skip
        writer = top("SELECT actor_id FROM compliance_datachange TABLESAMPLE SYSTEM (2)"
                     " REPEATABLE (2026) WHERE actor_id IS NOT NULL GROUP BY 1"
                     " ORDER BY count(*) DESC LIMIT 1") or actor  # fmt: skip
        cif = top(f"SELECT cif FROM customers_customer WHERE id = {customer}")  # noqa: S608
        names = dict(conn.execute(
            "SELECT id, username FROM bankcrm_user WHERE id IN (%s, %s, %s)",
            [actor, writer, leaver],
        ).fetchall())  # fmt: skip
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM bankcrm_accesslog WHERE customer_id = %s),"
            " (SELECT count(*) FROM bankcrm_accesslog WHERE actor_id = %s),"
            " (SELECT count(*) FROM bankcrm_accesslog WHERE ip_address = %s),"
            " (SELECT count(*) FROM compliance_datachange WHERE actor_id = %s),"
            " (SELECT count(*) FROM bankcrm_accesslog WHERE actor_id = %s)",
            [customer, actor, ip, writer, leaver],
        ).fetchone()
        today = datetime.now(TZ).date()
        yesterday = today - timedelta(days=1)
        # Of the customers whose ID was revealed yesterday, the most read.
        day = [datetime.combine(yesterday + timedelta(days=n), datetime.min.time(), TZ)
               for n in (0, 1)]  # fmt: skip
        revealed = conn.execute(
            "SELECT r.customer_id, c.cif FROM (SELECT DISTINCT customer_id FROM"
            " bankcrm_accesslog WHERE action = 'reveal' AND at >= %s AND at < %s) r"
            " JOIN customers_customer c ON c.id = r.customer_id ORDER BY (SELECT count(*)"
            " FROM bankcrm_accesslog a WHERE a.customer_id = r.customer_id) DESC LIMIT 1",
            day,
        ).fetchone() or (customer, cif)
        past = today - timedelta(days=182)
        while past.weekday() >= 5:
            past -= timedelta(days=1)
        # A cursor no "older" link would reach in a year of clicking: six months back.
        at, pk = conn.execute(
            "SELECT at, id FROM bankcrm_accesslog WHERE at < %s ORDER BY at DESC LIMIT 1",
            [datetime.combine(past, datetime.min.time(), TZ)],
        ).fetchone()
    log(f"much-read customer {cif} (id {customer}): {counts[0]:,} reads; busiest reader "
        f"{names[actor]}: {counts[1]:,}; busiest workstation {ip}: {counts[2]:,}; busiest "
        f"writer {names[writer]}: {counts[3]:,} changes; an ID revealed yesterday: "
        f"{revealed[1]}; left months ago: {names[leaver]}, {counts[4]:,} reads")  # fmt: skip
    return {
        "customer": customer, "cif": cif, "actor": actor, "username": names[actor], "ip": ip,
        "writer": names[writer], "leaver": leaver, "leaver_name": names[leaver],
        "past": past.isoformat(), "yesterday": yesterday.isoformat(), "revealed": revealed[1],
        "far": (at, pk),
    }  # fmt: skip


def screens(t: dict) -> list[tuple[str, str]]:
    def audit(**query):
        return "/compliance/audit/" + (f"?{urlencode(query)}" if query else "")

    return [
        ("newest reads", audit()),
        ("customer", audit(customer=t["cif"])),
        ("actor", audit(actor=t["username"])),
        ("action=reveal", audit(action="reveal")),
        ("ip", audit(ip=t["ip"])),
        ("one day 6 months ago", audit(since=t["past"], until=t["past"])),
        ("revealed yesterday", audit(customer=t["revealed"], action="reveal",
                                     since=t["yesterday"], until=t["yesterday"])),
        ("actor + reveal", audit(actor=t["username"], action="reveal")),
        ("writes, customer", audit(kind="writes", customer=t["cif"])),
        ("writes, actor", audit(kind="writes", actor=t["writer"])),
        ("failed sign-ins", audit(kind="security", action="login_failed")),
        ("matches nothing", audit(action="search", ip="10.250.250.250")),
        ("page 21", None),  # followed below
        ("customer history", f"/compliance/customers/{t['customer']}/history/"),
        ("user activity", f"/compliance/users/{t['actor']}/activity/"),
        ("actor who left", audit(actor=t["leaver_name"])),
        ("leaver's activity", f"/compliance/users/{t['leaver']}/activity/"),
    ]  # fmt: skip


def follow(session: Session, path: str, pages: int) -> str:
    """The URL of the page reached by following the "older" link `pages` times."""
    for _ in range(pages):
        status, body = session.request("GET", path)
        link = re.search(rb'href="\?([^"]*)" data-testid="audit-next"', body)
        if status != 200 or link is None:
            raise SystemExit(f"no older page from {path}: HTTP {status}")
        path = "/compliance/audit/?" + html.unescape(link.group(1).decode())
    return path


def page_queries(path: str) -> dict:
    """The page's queries of each record kind, as compliance.views builds them (keep in step
    with views._filtered, the history and activity views and selectors.page_after, which
    reads each kind through selectors.newest)."""
    from django.http import QueryDict

    from bankcrm.models import User
    from compliance import selectors
    from compliance.forms import AuditFilterForm
    from customers.models import Customer

    split = urlsplit(path)
    query = QueryDict(split.query)
    if split.path.startswith("/compliance/audit/"):
        form = AuditFilterForm(query or None)
        params = form.cleaned_data if form.is_valid() else {"kind": selectors.READS}
        params["kind"] = params.get("kind") or selectors.READS
        sources = {params["kind"]: selectors.audit_sources(params)}
    elif split.path.endswith("/history/"):
        pk = int(split.path.split("/")[3])
        sources = selectors.customer_history_sources(Customer.objects.get(pk=pk))
    else:
        pk = int(split.path.split("/")[3])
        sources = selectors.user_activity_sources(User.objects.get(pk=pk))
    cursor = selectors.parse_cursor(query.get("after"))
    return {
        kind: selectors.newest(kind, source, limit=selectors.PAGE + 1, cursor=cursor)
        for kind, source in sources.items()
    }


def explain(path: str) -> dict[str, tuple[float, str]]:
    plans = {}
    for kind, qs in page_queries(path).items():
        plan = qs.explain(analyze=True, buffers=True)
        ms = float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1))
        plans[kind] = (ms, plan)
    return plans


def measure_screens(port: int, cookies: dict, t: dict, args) -> list[dict]:
    session = Session(port, cookies)
    results = []
    for name, path in screens(t):
        if path is None:
            path = follow(session, "/compliance/audit/", 20)
        # One request first, with time to spare: a screen taking seconds is not driven.
        probe = Session(port, cookies)
        probe.conn.timeout = 300
        started = time.perf_counter()
        status, body = probe.request("GET", path)
        once = (time.perf_counter() - started) * 1000
        if status != 200 or ROWS_MARK not in body:
            raise SystemExit(f"{name}: HTTP {status} without the audit rows ({path})")
        shown = body.count(b'data-testid="audit-row"')
        if once > PROBE_LIMIT_MS:
            log(f"{name}: one request took {once / 1000:.1f} s, not driven ({path[:100]})")
            r = {"requests": 1, "rps": 0.0, "p50": once, "p95": once, "p99": once,
                 "errors": 0, "latencies": [once], "once": True}  # fmt: skip
        else:
            log(f"driving {name}: {path[:100]} ({shown} rows shown)")
            r = drive(port, cookies, [path], args.seconds, args.concurrency, expect=ROWS_MARK)
        r.update(name=name, path=path, shown=shown, plans=explain(path))
        log(f"  {_screen_line(r)}")
        results.append(r)
    return results


def _explain_ms(qs, timeout_s: int) -> float | None:
    """EXPLAIN ANALYZE's execution time (of a second run when the first was quick: warm
    caches), or None when it runs past the timeout."""
    from django.db import OperationalError, connection, transaction

    ms = None
    for _run in range(2):
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL statement_timeout = '{timeout_s}s'")
                plan = qs.explain(analyze=True)
        except OperationalError:
            return ms
        ms = float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1))
        if ms > 5000:
            break
    return ms


def deep_cursors(t: dict, timeout_s: int = 60) -> list[tuple[str, float | None]]:
    """The newest-reads page after cursors ever further back, as the view queries it: (how
    deep, ms). Keyset paging should cost the same at any depth."""
    from django.db.models import Max

    from bankcrm.models import AccessLog

    newest = AccessLog.objects.aggregate(m=Max("id"))["m"]
    cursors = []
    for depth in (1_000, 10_000, 100_000, 1_000_000):
        # Ids increase with time here: the row `depth` ids back has about `depth` newer.
        row = AccessLog.objects.filter(id__lte=newest - depth).order_by("-id").first()
        if row is None:  # a smaller load than this
            break
        cursors.append((f"{depth:,} rows back", row.at, row.pk))
    cursors.append(("six months back", *t["far"]))
    results = []
    for label, at, pk in cursors:
        path = "/compliance/audit/?" + urlencode({"after": f"{at.isoformat()}|0|{pk}"})
        ms = _explain_ms(page_queries(path)["reads"], timeout_s)
        log(f"  cursor {label}: {ms} ms")
        results.append((label, ms))
    return results


# ---- the 360 page with and without audit writes ---------------------------------------------


def _check(row):
    """What follows a logged read: the listeners of bankcrm.registry.READ_LISTENERS (the
    access-anomaly check), as record_access calls them."""
    from bankcrm import registry

    def after_read():
        for listener in registry.READ_LISTENERS:
            listener(row=row, request=None)

    return after_read


def _median_ms(work, times: int) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        work()
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent)


def anomaly_check_ms(username: str) -> tuple[int, float]:
    """The reader's access-log rows in the rules' widest window, and the median time of the
    check after one of their reads (20 runs, in-process)."""
    from django.db.models import Max
    from django.utils import timezone

    from bankcrm.models import AccessLog, User
    from compliance.models import AccessRule

    user = User.objects.get(username=username)
    window = AccessRule.objects.filter(is_active=True).aggregate(m=Max("window_minutes"))["m"]
    reads = AccessLog.objects.filter(actor=user, customer_id__isnull=False)
    rows = reads.filter(at__gte=timezone.now() - timedelta(minutes=window)).count()
    return rows, _median_ms(_check(reads.order_by("-at", "-id").first()), 20)


def write_breakdown(username: str, times: int = 200) -> dict[str, float]:
    """Median ms, in-process, of the parts of one logged read as record_access does it for
    the 360 page: the INSERT alone (rolled back), the INSERT and its commit (which links the
    row into the hash chain), and the anomaly check that follows."""
    from django.db import transaction

    from bankcrm.models import AccessLog, User

    user = User.objects.get(username=username)
    customer = AccessLog.objects.filter(actor=user).values_list("customer_id", flat=True)[0]

    def row():
        return AccessLog.objects.create(
            actor=user, action="view", object_type="customers.customer",
            object_id=str(customer), customer_id=customer, ip_address="10.31.8.21",
            request_id=f"bench-{time.perf_counter_ns()}",
        )  # fmt: skip

    def rolled_back():
        with transaction.atomic():
            row()
            transaction.set_rollback(True)

    parts = {"insert": rolled_back, "insert + commit": row, "check": _check(row())}
    return {name: _median_ms(work, times) for name, work in parts.items()}


def inprocess_overhead(url: str, times: int) -> dict[str, float]:
    """The 360 page in this process through Django's test client (the whole middleware
    stack, no network, one thread), the three ways in turn for each request, in a rotating
    order: median ms of each. Served pages share two cores with their load generator; this
    measures only the work of one request, so a difference of a millisecond shows."""
    os.environ["BENCH_WSGI_NOAUDIT"] = "0"  # import the stand-ins without installing them
    from django.conf import settings
    from django.test import Client

    from bankcrm.audit import record_access
    from bankcrm.models import User
    from bench.wsgi_noaudit import record_access_cut, use_record_access

    settings.DEBUG = False  # no query log
    ways = {
        "with audit": record_access,
        "without": record_access_cut(save=False),
        "rows, no check": record_access_cut(save=True),
    }
    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(username="rm"), backend="bankcrm.backends.ModelBackend")
    paths = pages(url)["360 page"]
    spent: dict[str, list[float]] = {label: [] for label in ways}
    order = list(ways)
    try:
        for n in range(times + 10):
            path = paths[n % len(paths)]
            order = order[1:] + order[:1]
            for label in order:
                use_record_access(ways[label])
                started = time.perf_counter()
                response = client.get(path)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{path}: HTTP {response.status_code}")
                if n >= 10:  # the first ten warm the caches
                    spent[label].append(elapsed)
    finally:
        use_record_access(record_access)
    return {label: statistics.median(values) for label, values in spent.items()}


def measure_overhead(url: str, env: dict, port: int, args) -> dict:
    """The 360 page as served, without access-log writes, and with the rows written but no
    anomaly check, in turn."""
    paths = pages(url)["360 page"]
    app = "bench.wsgi_noaudit:application"
    bare = serve(env, port + 1, args.workers, app=app)
    unchecked = serve({**env, "BENCH_ACCESS_LOG": "no-check"}, port + 2, args.workers, app=app)
    runs: dict[str, list[dict]] = {"with audit": [], "without": [], "rows, no check": []}
    try:
        cookies = sign_in(port, "rm")
        before = anomaly_check_ms("rm")
        for n in range(args.rounds):
            for offset, label in enumerate(runs):
                log(f"360 page {label}, round {n + 1} ({len(paths)} customers)")
                runs[label].append(
                    drive(port + offset, cookies, paths, args.seconds, args.concurrency)
                )
        after = anomaly_check_ms("rm")
        parts = write_breakdown("rm")
        log(f"360 page in-process, {args.inprocess} requests each way")
        inprocess = inprocess_overhead(url, args.inprocess)
    finally:
        for server in (bare, unchecked):
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    return {"runs": runs, "check_before": before, "check_after": after, "parts": parts,
            "inprocess": inprocess}  # fmt: skip


# ---- report -------------------------------------------------------------------------------


def pooled(runs: list[dict], seconds: float) -> dict:
    latencies = sorted(x for r in runs for x in r["latencies"])

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))]

    return {"rps": len(latencies) / (seconds * len(runs)), "p50": statistics.median(latencies),
            "p95": pct(95), "p99": pct(99), "errors": sum(r["errors"] for r in runs)}  # fmt: skip


def _screen_line(r: dict) -> str:
    sql = ", ".join(f"{kind} {ms:.1f}" for kind, (ms, _plan) in r["plans"].items())
    flag = " <-- over 200 ms" if r["p95"] > SLOW_MS else ""
    flag += " (one request: too slow to drive)" if r.get("once") else ""
    return (f"{r['name']:<22} {r['shown']:>5} {r['rps']:>7.1f} {r['p50']:>8.1f} "
            f"{r['p95']:>8.1f} {r['p99']:>8.1f} {r['errors']:>7}  {sql}{flag}")  # fmt: skip


def report(counts, loaded_in, screens_, overhead, cursors, args) -> None:
    print()
    if loaded_in:
        print(f"loaded in {loaded_in:.0f} s (migrate, seed_demo, COPY, indexes, VACUUM ANALYZE)")
    print(f"audit rows: {sum(counts.values()):,} ({counts[READS]:,} reads, {counts[WRITES]:,} "
          f"changes, {counts[SECURITY]:,} security events); gunicorn {args.workers} workers x 4 "
          f"threads; {args.concurrency} client connections; 2 cores shared")  # fmt: skip
    print(f"{'audit screen':<22} {'rows':>5} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'errors':>7}  SQL ms per kind (EXPLAIN ANALYZE)")  # fmt: skip
    for r in screens_:
        print(_screen_line(r))
    for r in screens_:
        if r["p95"] > SLOW_MS:
            print(f"\n{r['name']}: {r['path']}")
            for kind, (_ms, plan) in r["plans"].items():
                print(f"-- {kind}\n{plan}")

    print(f"\n360 page over the demo RM's book, {args.rounds} rounds of the three in turn, "
          f"{args.seconds:.0f} s each")  # fmt: skip
    print(f"{'run':<22} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for label, runs in overhead["runs"].items():
        for n, r in enumerate(runs, 1):
            print(f"{label + f' #{n}':<22} {r['rps']:>7.1f} {r['p50']:>8.1f} {r['p95']:>8.1f} "
                  f"{r['p99']:>8.1f} {r['errors']:>7}")  # fmt: skip
    all_runs = {label: pooled(runs, args.seconds) for label, runs in overhead["runs"].items()}
    for label, r in all_runs.items():
        print(f"{label + ', all':<22} {r['rps']:>7.1f} {r['p50']:>8.1f} {r['p95']:>8.1f} "
              f"{r['p99']:>8.1f} {r['errors']:>7}")  # fmt: skip
    without = all_runs["without"]
    for label, what in (("with audit", "audit writes and the anomaly check"),
                        ("rows, no check", "the rows alone")):  # fmt: skip
        r = all_runs[label]
        print(f"{what} add {r['p50'] / without['p50'] - 1:+.1%} to p50, "
              f"{r['p95'] / without['p95'] - 1:+.1%} to p95, and take "
              f"{1 - r['rps'] / without['rps']:.1%} of throughput")  # fmt: skip
    for when, (rows, ms) in (("before", overhead["check_before"]),
                             ("after", overhead["check_after"])):  # fmt: skip
        print(f"anomaly check for rm {when} the runs: {rows:,} reads in the window, "
              f"{ms:.2f} ms (median, in-process)")  # fmt: skip
    print("one logged read, in-process medians: " + ", ".join(
        f"{name} {ms:.2f} ms" for name, ms in overhead["parts"].items()))  # fmt: skip
    inprocess = overhead["inprocess"]
    base = inprocess["without"]
    print("the 360 page in-process (test client, one thread), median ms: " + ", ".join(
        f"{label} {ms:.2f} ({ms / base - 1:+.1%})" for label, ms in inprocess.items()))  # fmt: skip

    print("\nnewest reads after a cursor, SQL only (EXPLAIN ANALYZE)")
    for label, ms in cursors:
        print(f"  {label:<20} {f'{ms:,.1f} ms' if ms is not None else 'over 60 s':>12}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000, help="audit rows in all")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20, help="per screen and run")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--rounds", type=int, default=3, help="360 page runs of each kind")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--inprocess", type=int, default=300, help="360 requests each way")
    parser.add_argument("--reuse", action="store_true", help="keep a loaded scratch database")
    parser.add_argument("--keep", action="store_true", help="do not drop it at the end")
    args = parser.parse_args()

    admin_url, url, env = scratch_database(SCRATCH)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [SCRATCH]).fetchone()
        if exists and not args.reuse:
            conn.execute(f'DROP DATABASE "{SCRATCH}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{SCRATCH}"')
    # Also on --reuse: the database follows the code's migrations.
    started = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                   cwd=ROOT, env=env, check=True)  # fmt: skip
    with psycopg.connect(url) as conn:
        have = audit_counts(conn)
        customers = conn.execute("SELECT count(*) FROM customers_customer").fetchone()[0]
    loaded = customers >= args.customers and all(
        have[t] >= round(args.rows * share) for t, share in SHARES.items()
    )
    loaded_in = None
    if not loaded:
        load(url, env, args.customers, args.rows)
        loaded_in = time.perf_counter() - started
    with psycopg.connect(url) as conn:
        counts = audit_counts(conn)
    log(f"database: {counts}")

    setup_django(url)
    device = prepare_users()
    server = serve(env, args.port, args.workers)
    try:
        t = targets(url)
        officer = sign_in_verified(args.port, "compliance", device)
        results = measure_screens(args.port, officer, t, args)
        overhead = measure_overhead(url, env, args.port, args)
        log("newest reads after deeper and deeper cursors (EXPLAIN ANALYZE, 60 s at most)")
        cursors = deep_cursors(t)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
    report(counts, loaded_in, results, overhead, cursors, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

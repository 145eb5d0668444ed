"""Benchmark: the service desk at 100,000 open tickets: queue pages, fifty agents taking
next at once, and the SLA sweep.

    .venv/bin/python scripts/with_services.py .venv/bin/python bench/service.py
    (options: --tickets, --customers, --seconds, --concurrency, --claim-seconds, --agents,
     --skip-pages, --skip-claims, --skip-sweeps, --keep; --help for all)

1. A scratch database beside DATABASE_URL's (`bankcrm_bench_service_desk`) is migrated and
   given the demo (`seed_demo --customers 5000`: users, calendars, the three queues, SLA
   policies) and --agents extra service agents, members of every queue. Then --tickets
   open tickets are loaded by COPY: category decides the queue as the routing rules do,
   priorities P1-P4, open for up to 2.5 times their first-response target in working time
   (so about half are overdue, whenever the bench runs), a quarter assigned, some
   responded to or waiting for the customer. Their SLA
   columns are computed by service.sla (start, responded, pause) on unsaved tickets, as
   ticket_open does, and numbered SR-YYYY-NNNNNN after the demo's (the year's counter is
   moved on). Each gets its "opened" (and "assigned") history row.
   The sweep then catches up on everything already due (timed: what beat faces after an
   outage as long as the tickets' ages), and the ticket tables are vacuumed.
2. Queue pages under gunicorn (production settings, --workers x 4 threads), signed in as the
   demo agent (member of all three queues): the team queues and "my tickets", each driven
   for --seconds by --concurrency keep-alive connections; requests/s, p50/p95/p99.
   Target: p95 under 100 ms.
3. Take next: --agents agents, each its own thread and database connection, call
   service.services.ticket_claim_next() directly (not over HTTP: fifty signed-in clients
   and the server would share the same two cores) for --claim-seconds. Afterwards: no
   ticket claimed twice (claims across agents disjoint, and one "assigned" history row per
   claimed ticket since the start), and each claimed ticket held by its claimer.
4. The SLA sweep at a fixed moment T: everything due at T is swept; sla_sweep() with
   nothing due (median and max of 20; target under 50 ms); exactly 1,000 tickets made due
   for escalation (escalate_at and sla_check_at a minute before T) and sla_sweep_all()
   timed (target under 5 s), which must write 1,000 level-1 milestones and nothing else;
   a second sweep at T must take nothing.
"""

import argparse
import functools
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from bisect import bisect_left
from datetime import timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
# This file is bench/service.py: with bench/ first on the path, `import service` would find
# it instead of the service app.
sys.path[0] = str(ROOT)

from bench.customer_pages import (  # noqa: E402
    DEMO_PASSWORD,
    KEYS,
    Session,
    drive,
    log,
    scratch_database,
    serve,
    sign_in,
)

SCRATCH = "bankcrm_bench_service_desk"
PAGE_TARGET_MS = 100
IDLE_SWEEP_TARGET_MS = 50
ESCALATIONS = 1000
ESCALATION_TARGET_S = 5
# category -> queue, as the demo's routing rules place them
QUEUE_OF = {"card_fraud": "card-fraud", "card_lost": "card-fraud", "complaint": "complaints"}
CATEGORIES = (["card_fraud"] * 5 + ["card_lost"] * 5 + ["account"] * 20 + ["complaint"] * 10
              + ["enquiry"] * 35 + ["loan"] * 10 + ["wealth"] * 10 + ["other"] * 5)  # fmt: skip
PRIORITIES = ["P1"] * 3 + ["P2"] * 17 + ["P3"] * 55 + ["P4"] * 25
# A ticket has been open for up to this many times its first-response target, in working
# time: about 60% of those not yet answered are overdue, whatever the day and hour of the run.
AGE_IN_TARGETS = 2.5
SUBJECTS = {
    "card_fraud": ["信用卡盗刷，要求冻结", "境外异常消费", "收到不明扣款短信"],
    "card_lost": ["银行卡丢失，申请挂失", "信用卡被盗，申请补卡"],
    "account": ["账户被冻结，无法转账", "手机银行无法登录", "更新预留手机号"],
    "complaint": ["投诉：网点排队时间过长", "投诉：客户经理态度差", "投诉：短信费用扣收"],
    "enquiry": ["开具存款证明", "信用卡额度调整申请", "查询境外汇款进度"],
    "loan": ["贷款还款日期变更咨询", "提前还款申请"],
    "wealth": ["理财产品赎回未到账", "基金定投修改"],
    "other": ["其他服务请求"],
}


def percentiles(values: list[float]) -> dict:
    values = sorted(values)

    def pct(p):
        return values[min(len(values) - 1, int(len(values) * p / 100))] if values else 0.0

    return {"p50": statistics.median(values) if values else 0.0, "p95": pct(95), "p99": pct(99)}


def setup_django(url: str, agents: int) -> None:
    """Django in this process, with the server's production settings (DEBUG off: no query
    log) and a pool large enough for one connection per claiming agent."""
    os.environ.update(
        {**KEYS, "DATABASE_URL": url, "DATABASE_POOL_MAX_SIZE": str(agents + 5),
         "DJANGO_SETTINGS_MODULE": "bankcrm.settings", "DJANGO_DEBUG": "false",
         "DJANGO_SECRET_KEY": "bench-" + "x" * 60, "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
         "DJANGO_LOG_LEVEL": "WARNING"}
    )  # fmt: skip
    import django

    django.setup()


# ---- loading ------------------------------------------------------------------------------


def add_agents(count: int) -> list:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from bankcrm.models import User
    from bankcrm.roles import Role
    from service.models import Queue

    group = Group.objects.get(name=Role.SERVICE_AGENT)
    queues = list(Queue.objects.all())
    password = make_password(DEMO_PASSWORD)
    agents = []
    for i in range(1, count + 1):
        user, _ = User.objects.get_or_create(
            username=f"bench_agent{i:02d}",
            defaults={"password": password, "last_name": "坐席", "first_name": f"{i:02d}"},
        )
        user.groups.add(group)
        user.service_queues.add(*queues)
        agents.append(user)
    return agents


class OpenedAgo:
    """When a ticket opened `elapsed` working time before `now` (to the step), read from a
    table of working time before now built once per calendar."""

    def __init__(self, hours, now, *, step=timedelta(minutes=5), horizon=timedelta(days=60)):
        self.now, self.step, self.worked = now, step, [timedelta(0)]
        for k in range(1, horizon // step):
            before = hours.between(now - k * step, now - (k - 1) * step)
            self.worked.append(self.worked[-1] + before)

    def __call__(self, elapsed: timedelta):
        k = min(bisect_left(self.worked, elapsed), len(self.worked) - 1)
        return self.now - k * self.step


def load_tickets(url: str, count: int, agents: list, seed: int = 2026) -> dict:
    """COPY `count` open tickets with SLA columns from service.sla; returns what was made."""
    from django.db import connection
    from django.utils import timezone

    from bankcrm.models import User
    from customers.models import Customer
    from service import sla
    from service.models import Queue, Ticket, TicketEvent, TicketNumber

    rng = random.Random(seed)
    queues = {q.code: q for q in Queue.objects.all()}
    default = next(q for q in queues.values() if q.is_default)
    customers = list(Customer.objects.values_list("pk", flat=True))
    staff = [*User.objects.filter(username__in=["agent", "agent2"]), *agents]
    numbers = dict(TicketNumber.objects.values_list("year", "last"))
    first_id = (Ticket.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    fields = [f for f in Ticket._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(f.column for f in fields)
    now = timezone.now()
    made = {"assigned": 0, "responded": 0, "pending": 0, "overdue": 0}
    opened_ago = {}

    # One policy lookup per (priority, category) instead of one query per ticket; the
    # calendars are cached by service.sla itself.
    policy_for = sla.policy_for
    sla.policy_for = functools.lru_cache(policy_for)
    started = time.perf_counter()
    try:
        with (
            psycopg.connect(url) as conn,
            conn.cursor() as cursor,
            cursor.copy(f"COPY service_ticket ({columns}) FROM STDIN") as copy,
        ):
            for n in range(count):
                category = rng.choice(CATEGORIES)
                priority = "P1" if category == "card_fraud" else rng.choice(PRIORITIES)
                policy = sla.policy_for(priority, category)
                queue = queues.get(QUEUE_OF.get(category), default)
                calendar = policy.calendar_id or queue.calendar_id
                if calendar not in opened_ago:
                    opened_ago[calendar] = OpenedAgo(sla.hours_for(calendar), now)
                created = opened_ago[calendar](
                    policy.first_response * AGE_IN_TARGETS * rng.random()
                ) - timedelta(seconds=rng.randrange(300))
                channel = rng.choice(Ticket.Channel.values)
                year = timezone.localdate(created).year
                numbers[year] = numbers.get(year, 0) + 1
                ticket = Ticket(
                    number=f"SR-{year}-{numbers[year]:06d}", customer_id=rng.choice(customers),
                    subject=rng.choice(SUBJECTS[category]), channel=channel,
                    category=category, priority=priority,
                    queue=queue,
                    created_by=rng.choice(staff) if channel in ("phone", "branch") else None,
                    created_at=created, updated_at=created,
                )  # fmt: skip
                sla.start(ticket)
                roll = rng.random()
                if roll < 0.25:  # a quarter assigned; of those, some answered or waiting
                    ticket.assignee = rng.choice(staff)
                    ticket.status = Ticket.Status.ASSIGNED
                    made["assigned"] += 1
                    if roll < 0.12:
                        ticket.status = Ticket.Status.IN_PROGRESS
                        sla.responded(ticket, created + (now - created) * rng.random() / 2)
                        ticket.updated_at = ticket.responded_at
                        made["responded"] += 1
                    if roll < 0.04:
                        ticket.status = Ticket.Status.PENDING_CUSTOMER
                        ticket.updated_at = ticket.responded_at + (now - ticket.responded_at) / 2
                        sla.pause(ticket, ticket.updated_at)
                        made["pending"] += 1
                made["overdue"] += ticket.is_overdue
                copy.write_row([f.get_db_prep_save(getattr(ticket, f.attname), connection)
                                for f in fields])  # fmt: skip
                if (n + 1) % 20_000 == 0:
                    rate = (n + 1) / (time.perf_counter() - started)
                    log(f"  {n + 1:,} tickets ({rate:,.0f}/s)")
    finally:
        sla.policy_for = policy_for
    copied = time.perf_counter() - started

    for year, last in numbers.items():
        TicketNumber.objects.update_or_create(year=year, defaults={"last": last})
    with psycopg.connect(url, autocommit=True) as conn:
        # Their history as ticket_open and take next leave it: opened, then assigned.
        conn.execute(
            "INSERT INTO service_ticketevent (ticket_id, at, actor_id, kind, old, new, body)"
            " SELECT id, created_at, created_by_id, %s, '', %s, '' FROM service_ticket"
            " WHERE id >= %s",
            [TicketEvent.Kind.CREATED, str(Ticket.Status.NEW.label), first_id],
        )
        conn.execute(
            "INSERT INTO service_ticketevent (ticket_id, at, actor_id, kind, old, new, body)"
            " SELECT t.id, t.created_at + interval '1 minute', t.assignee_id, %s, '',"
            " u.last_name || u.first_name, '' FROM service_ticket t"
            " JOIN bankcrm_user u ON u.id = t.assignee_id WHERE t.id >= %s",
            [TicketEvent.Kind.ASSIGNED, first_id],
        )
        for table in ("service_ticket", "service_ticketevent"):
            conn.execute(f"VACUUM ANALYZE {table}")
        # Other work may add triggers to the table (audit): say which ran with the figures.
        triggers = [name for (name,) in conn.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'service_ticket'::regclass"
            " AND NOT tgisinternal ORDER BY tgname"
        )]  # fmt: skip
    seconds = time.perf_counter() - started
    log(f"{count:,} tickets: computed and copied in {copied:.0f} s, with history and "
        f"ANALYZE {seconds:.0f} s; {made['overdue']:,} overdue, {made['assigned']:,} "
        f"assigned")  # fmt: skip
    return {**made, "tickets": count, "seconds": seconds, "copy_seconds": copied,
            "customers": len(customers), "triggers": triggers}  # fmt: skip


def catch_up(url: str) -> dict:
    """Sweep what is due after the load (every warning and escalation the tickets' ages
    have earned), then vacuum as autovacuum would after so many updates."""
    from service.models import SlaMilestone
    from service.sla import sla_sweep_all

    before = SlaMilestone.objects.count()
    started = time.perf_counter()
    taken = sla_sweep_all()
    seconds = time.perf_counter() - started
    milestones = SlaMilestone.objects.count() - before
    log(f"catch-up sweep: {taken:,} tickets, {milestones:,} milestones in {seconds:.0f} s")
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("service_ticket", "service_ticketevent", "service_slamilestone",
                      "service_notification"):  # fmt: skip
            conn.execute(f"VACUUM ANALYZE {table}")
    return {"tickets": taken, "milestones": milestones, "seconds": seconds}


# ---- queue pages --------------------------------------------------------------------------


def queue_pages(args, env: dict) -> dict:
    from service.models import Queue

    codes = list(Queue.objects.order_by("code").values_list("code", flat=True))
    pages = {
        "minimal page": ["/bench/page/"],
        "team queue": [f"/service/queues/{code}/" for code in codes]
        + [f"/service/queues/{code}/?page=2" for code in codes],
        "my tickets": ["/service/", "/service/?page=2"],
    }
    server = serve(env, args.port, args.workers)
    results = {}
    try:
        cookies = sign_in(args.port, "agent")
        session = Session(args.port, cookies)
        for path in pages["team queue"] + pages["my tickets"]:
            # A page without rows would measure nothing: each must show a page of tickets.
            status, body = session.request("GET", path)
            rows = body.count(b'data-testid="ticket-row"')
            if status != 200 or rows == 0:
                raise SystemExit(f"{path}: HTTP {status}, {rows} ticket rows")
        for name, paths in pages.items():
            log(f"driving {name} ({len(paths)} URLs, {args.concurrency} connections, "
                f"{args.seconds:.0f} s)")  # fmt: skip
            results[name] = drive(args.port, cookies, paths, args.seconds, args.concurrency)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return results


# ---- take next ----------------------------------------------------------------------------


def take_next(agents: list, seconds: float) -> dict:
    """Each agent in its own thread (and so its own pooled connection) claims for `seconds`;
    every claim is then checked against the database."""
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from service.models import Ticket, TicketEvent
    from service.services import ticket_claim_next

    claimed: list[tuple[int, int]] = []  # (ticket, agent)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(agents) + 1)
    stop_at = [0.0]

    def work(agent):
        mine, times, errors = [], [], []
        try:
            barrier.wait()
            while time.monotonic() < stop_at[0]:
                start = time.perf_counter()
                try:
                    ticket = ticket_claim_next(agent=agent)
                except Exception as exc:  # counted and shown, the run goes on
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                times.append((time.perf_counter() - start) * 1000)
                if ticket is None:
                    break  # nothing left to take
                mine.append((ticket.pk, agent.pk))
        finally:
            connection.close()
            with lock:
                claimed.extend(mine)
                latencies.extend(times)
                failures.extend(errors)

    threads = [threading.Thread(target=work, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    since = timezone.now()
    stop_at[0] = time.monotonic() + seconds
    started = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started

    ids = [pk for pk, _agent in claimed]
    held = dict(Ticket.objects.filter(pk__in=ids).values_list("pk", "assignee_id"))
    events = TicketEvent.objects.filter(kind=TicketEvent.Kind.ASSIGNED, at__gte=since)
    per_ticket = events.values("ticket_id").annotate(n=Count("pk"))
    result = {
        "claims": len(claimed),
        "per_s": len(claimed) / elapsed,
        "double": len(ids) - len(set(ids)),
        "double_events": per_ticket.filter(n__gt=1).count(),
        "events": events.count(),
        "wrong_owner": sum(held.get(pk) != agent for pk, agent in claimed),
        "errors": len(failures),
        "agents_with_claims": len({agent for _pk, agent in claimed}),
        **percentiles(latencies),
    }
    if failures:
        log(f"{len(failures)} claims failed, first: {failures[0]}")
    log(f"take next: {result['claims']:,} claims in {elapsed:.0f} s ({result['per_s']:.0f}/s), "
        f"claimed twice {result['double']}, held by another {result['wrong_owner']}")  # fmt: skip
    return result


# ---- SLA sweep ----------------------------------------------------------------------------


def sweeps(seed: int = 2026) -> dict:
    from django.db.models import Count
    from django.utils import timezone

    from service.models import Notification, SlaMilestone, Ticket
    from service.sla import sla_sweep, sla_sweep_all

    def milestones_since(pk):
        rows = SlaMilestone.objects.filter(pk__gt=pk).values("kind").annotate(n=Count("pk"))
        return {row["kind"]: row["n"] for row in rows}

    # One moment for every sweep, so that nothing falls due between them by itself.
    at = timezone.now()
    result = {"cleared": sla_sweep_all(now=at)}
    idle = []
    for _ in range(20):
        started = time.perf_counter()
        taken = sla_sweep(now=at)
        idle.append((time.perf_counter() - started) * 1000)
        if taken:
            raise SystemExit(f"a sweep with nothing due took {taken} tickets")
    result["idle_median"], result["idle_max"] = statistics.median(idle), max(idle)

    candidates = list(
        Ticket.objects.open()
        .filter(escalation_level=0, paused_at__isnull=True, sla_check_at__gt=at)
        .values_list("pk", flat=True)
    )
    if len(candidates) < ESCALATIONS:
        raise SystemExit(f"only {len(candidates):,} tickets can be made due; load more")
    due = random.Random(seed).sample(candidates, ESCALATIONS)
    past = at - timedelta(minutes=1)
    Ticket.objects.filter(pk__in=due).update(escalate_at=past, sla_check_at=past)
    last = SlaMilestone.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    last_note = Notification.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    started = time.perf_counter()
    result["escalated"] = sla_sweep_all(now=at)
    result["escalate_s"] = time.perf_counter() - started
    result["written"] = milestones_since(last)
    result["level_1_on_due"] = SlaMilestone.objects.filter(
        ticket_id__in=due, kind=SlaMilestone.Kind.LEVEL_1
    ).count()
    result["notifications"] = Notification.objects.filter(pk__gt=last_note).count()
    result["at_level_1"] = Ticket.objects.filter(pk__in=due, escalation_level=1).count()

    last = SlaMilestone.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    started = time.perf_counter()
    result["again"] = sla_sweep_all(now=at)
    result["again_ms"] = (time.perf_counter() - started) * 1000
    result["again_written"] = sum(milestones_since(last).values())
    log(f"sweeps: nothing due median {result['idle_median']:.1f} ms; {ESCALATIONS:,} due: "
        f"{result['escalated']:,} taken in {result['escalate_s']:.2f} s, milestones "
        f"{result['written']}; again: {result['again']} taken")  # fmt: skip
    return result


# ---- report -------------------------------------------------------------------------------


def report(args, loaded, backlog, pages, claim, sweep) -> None:
    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print()
    print(f"{loaded['tickets']:,} open tickets in 3 queues, {loaded['customers']:,} customers; "
          f"gunicorn {args.workers} workers x 4 threads; {args.concurrency} client connections; "
          "2 cores shared")  # fmt: skip
    print(f"load: {loaded['tickets']:,} tickets computed and COPYed in "
          f"{loaded['copy_seconds']:.0f} s ({loaded['tickets'] / loaded['copy_seconds']:,.0f}/s), "
          f"{loaded['seconds']:.0f} s with history and ANALYZE; {loaded['overdue']:,} overdue, "
          f"{loaded['assigned']:,} assigned, {loaded['responded']:,} responded to, "
          f"{loaded['pending']:,} waiting for the customer")  # fmt: skip
    print(f"triggers on service_ticket: {', '.join(loaded['triggers']) or 'none'}")
    print(f"catch-up sweep after the load: {backlog['tickets']:,} tickets, "
          f"{backlog['milestones']:,} milestones in {backlog['seconds']:.0f} s "
          f"({backlog['tickets'] / max(backlog['seconds'], 1e-9):,.0f} tickets/s)")  # fmt: skip
    if pages:
        print()
        print(f"{'page':<14} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
              f"{'errors':>7}  target p95 < {PAGE_TARGET_MS} ms")  # fmt: skip
        for name, r in pages.items():
            target = "" if name == "minimal page" else verdict(r["p95"] < PAGE_TARGET_MS)
            print(f"{name:<14} {r['rps']:>8.1f} {r['p50']:>8.1f} {r['p95']:>8.1f} "
                  f"{r['p99']:>8.1f} {r['errors']:>7}  {target}")  # fmt: skip
    if claim:
        ok = not (claim["double"] or claim["double_events"] or claim["wrong_owner"])
        ok = ok and claim["events"] == claim["claims"] and not claim["errors"]
        print()
        print(
            f"take next, {args.agents} agents x own connection, direct service calls, "
            f"{args.claim_seconds:.0f} s: {claim['claims']:,} claims ({claim['per_s']:.0f}/s) "
            f"by {claim['agents_with_claims']} agents; latency p50 {claim['p50']:.1f} ms, "
            f"p95 {claim['p95']:.1f} ms, p99 {claim['p99']:.1f} ms; errors {claim['errors']}"
        )
        print(f"  double claims: {claim['double']} (ids), {claim['double_events']} (tickets "
              f"with two assignment events); held by another agent: {claim['wrong_owner']}; "
              f"assignment events {claim['events']:,} for {claim['claims']:,} claims: "
              f"{'OK' if ok else 'FAILED'}")  # fmt: skip
    if sweep:
        idle_ok = sweep["idle_median"] < IDLE_SWEEP_TARGET_MS
        written_ok = sweep["written"] == {"level_1": ESCALATIONS} and (
            sweep["level_1_on_due"] == sweep["at_level_1"] == ESCALATIONS
        )
        again_ok = sweep["again"] == 0 and sweep["again_written"] == 0
        print()
        print(f"sweep at T after the runs: {sweep['cleared']:,} tickets had fallen due")
        print(f"sweep with nothing due: median {sweep['idle_median']:.1f} ms, max "
              f"{sweep['idle_max']:.1f} ms (target < {IDLE_SWEEP_TARGET_MS} ms: "
              f"{verdict(idle_ok)})")  # fmt: skip
        print(
            f"{ESCALATIONS:,} tickets due for escalation: {sweep['escalated']:,} swept in "
            f"{sweep['escalate_s']:.2f} s (target < {ESCALATION_TARGET_S} s: "
            f"{verdict(sweep['escalate_s'] < ESCALATION_TARGET_S)}); milestones written "
            f"{sweep['written']}, level 1 on the chosen tickets {sweep['level_1_on_due']:,}, "
            f"{sweep['notifications']:,} notifications: {'OK' if written_ok else 'FAILED'}"
        )
        print(
            f"the same sweep again: {sweep['again']} tickets, {sweep['again_written']} "
            f"milestones in {sweep['again_ms']:.1f} ms: {'OK' if again_ok else 'FAILED'}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=5000, help="seed_demo customers")
    parser.add_argument("--seconds", type=float, default=20, help="per page")
    parser.add_argument("--concurrency", type=int, default=4, help="page client connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--claim-seconds", type=float, default=60)
    parser.add_argument("--agents", type=int, default=50, help="agents taking next at once")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--skip-claims", action="store_true")
    parser.add_argument("--skip-sweeps", action="store_true")
    parser.add_argument("--keep", action="store_true", help="do not drop the scratch database")
    args = parser.parse_args()

    admin_url, url, env = scratch_database(SCRATCH)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{SCRATCH}"')
    pages = claim = sweep = None
    try:
        log(f"migrate; seed_demo --customers {args.customers:,}")
        for argv in (["migrate", "--noinput", "-v", "0"],
                     ["seed_demo", "--customers", str(args.customers), "-v", "0"]):  # fmt: skip
            subprocess.run([sys.executable, "manage.py", *argv], cwd=ROOT, env=env, check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
        setup_django(url, args.agents)
        agents = add_agents(args.agents)
        loaded = load_tickets(url, args.tickets, agents)
        backlog = catch_up(url)
        if not args.skip_pages:
            pages = queue_pages(args, env)
        if not args.skip_claims:
            log(f"take next: {args.agents} agents for {args.claim_seconds:.0f} s")
            claim = take_next(agents, args.claim_seconds)
        if not args.skip_sweeps:
            sweep = sweeps()
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
    report(args, loaded, backlog, pages, claim, sweep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

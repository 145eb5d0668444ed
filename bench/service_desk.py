"""Benchmark: the service desk at 100,000 open tickets.

    .venv/bin/python scripts/with_services.py .venv/bin/python bench/service_desk.py
    (options: --tickets, --seconds, --claim-seconds, --agents, --keep)

1. A scratch database beside DATABASE_URL's (`bankcrm_bench_service`) gets the demo
   (`seed_demo --customers 5000`: users, calendars, the three queues, SLA policies, rules)
   and --tickets open tickets over those queues: priorities, categories and channels mixed,
   opened in the last two days with their SLA columns computed by service.sla as the
   services do, 30% assigned, 5% waiting for the customer. Loaded with bulk INSERTs of
   5,000 rows.
2. Queue pages under gunicorn (production settings, 2 workers × 4 threads), signed in as
   the demo agent (member of all three queues) and as the supervisor: requests/s and
   p50/p95/p99 for the team queues, "my tickets" and the supervisor view.
3. Take next: --agents agents (each its own thread and database connection) call
   ticket_claim_next() for --claim-seconds; every claim is checked afterwards: no ticket
   claimed twice, each held by the agent that claimed it.
4. The SLA sweep: everything already due is swept first (and timed); then a sweep with
   nothing due (median of 20), then 1,000 tickets made due for escalation at once, swept,
   and swept again (which must find nothing).
"""

import argparse
import functools
import os
import random
import signal
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.customer_pages import DEMO_PASSWORD, drive, log, scratch_database, serve, sign_in

SCRATCH = "bankcrm_bench_service"
CATEGORIES = ["card_lost", "card_fraud", "account", "complaint", "enquiry", "loan", "wealth"]
PRIORITIES = ["P1"] * 5 + ["P2"] * 20 + ["P3"] * 55 + ["P4"] * 20


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def setup_django(url: str, agents: int) -> None:
    # One connection per claiming agent, as fifty web threads would have.
    os.environ["DATABASE_POOL_MAX_SIZE"] = str(agents + 5)
    os.environ.update(DATABASE_URL=url, DJANGO_DEBUG="true", DJANGO_LOG_LEVEL="WARNING",
                      DJANGO_SETTINGS_MODULE="bankcrm.settings")  # fmt: skip
    import django

    django.setup()


def load_tickets(count: int, agents: int) -> None:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.db import connection
    from django.utils import timezone

    from bankcrm.models import User
    from bankcrm.roles import Role
    from customers.models import Customer
    from service import sla
    from service.models import Queue, Ticket

    # One policy lookup per priority and category, not per ticket.
    sla.policy_for = functools.lru_cache(sla.policy_for)
    queues = list(Queue.objects.order_by("code"))
    group = Group.objects.get(name=Role.SERVICE_AGENT)
    password = make_password(DEMO_PASSWORD)
    bench_agents = [
        User.objects.get_or_create(username=f"bench_agent{i:02d}",
                                   defaults={"password": password, "last_name": "坐席",
                                             "first_name": f"{i:02d}"})[0]
        for i in range(agents)
    ]  # fmt: skip
    for user in bench_agents:
        user.groups.add(group)
        user.service_queues.add(*queues)
    customers = list(Customer.objects.values_list("pk", flat=True)[:5000])
    staff = [User.objects.get(username="agent"), User.objects.get(username="agent2")]
    rng = random.Random(2026)
    now = timezone.now()
    started = time.perf_counter()
    batch: list[Ticket] = []
    for n in range(count):
        queue = rng.choice(queues)
        created = now - timedelta(minutes=rng.randrange(1, 48 * 60))
        ticket = Ticket(
            number=f"SR-2025-{n + 1:06d}", customer_id=rng.choice(customers),
            subject=rng.choice(["手机银行无法登录", "信用卡额度调整", "开具存款证明",
                                "账户被冻结", "投诉：排队时间过长"]),
            channel=rng.choice(Ticket.Channel.values), category=rng.choice(CATEGORIES),
            priority=rng.choice(PRIORITIES), queue=queue, created_at=created,
            updated_at=created,
        )  # fmt: skip
        roll = rng.random()
        if roll < 0.30:
            ticket.assignee = rng.choice(staff)
            ticket.status = rng.choice(["assigned", "in_progress"])
        sla.start(ticket)
        if roll < 0.05:
            ticket.status, ticket.paused_at = "pending_customer", now
            sla.refresh(ticket)
        batch.append(ticket)
        if len(batch) == 5000:
            Ticket.objects.bulk_create(batch)
            batch.clear()
            log(f"  {n + 1:,} tickets ({(n + 1) / (time.perf_counter() - started):,.0f}/s)")
    Ticket.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE service_ticket")
    log(f"{count:,} tickets loaded in {time.perf_counter() - started:.0f} s")


def claims(agent_count: int, seconds: float) -> dict:
    from django.db import connection

    from bankcrm.models import User
    from service.models import Ticket, TicketEvent
    from service.services import ticket_claim_next

    agents = list(User.objects.filter(username__startswith="bench_agent").order_by("username"))
    agents = agents[:agent_count]
    claimed: list[tuple[int, int]] = []
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(agents))
    stop_at = [0.0]

    def work(agent):
        mine, times = [], []
        try:
            barrier.wait()
            while time.monotonic() < stop_at[0]:
                start = time.perf_counter()
                ticket = ticket_claim_next(agent=agent)
                times.append((time.perf_counter() - start) * 1000)
                if ticket is None:
                    break
                mine.append((ticket.pk, agent.pk))
        finally:
            connection.close()
            with lock:
                claimed.extend(mine)
                latencies.extend(times)

    stop_at[0] = time.monotonic() + seconds
    threads = [threading.Thread(target=work, args=(a,)) for a in agents]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    ids = [pk for pk, _ in claimed]
    owners = dict(Ticket.objects.filter(pk__in=ids).values_list("pk", "assignee_id"))
    wrong_owner = sum(owners.get(pk) != agent_pk for pk, agent_pk in claimed)
    events = TicketEvent.objects.filter(ticket_id__in=ids, kind="assigned").count()
    return {
        "claims": len(claimed), "per_s": len(claimed) / elapsed,
        "double": len(ids) - len(set(ids)), "wrong_owner": wrong_owner,
        "events": events, "p50": statistics.median(latencies), "p95": pct(latencies, 95),
        "p99": pct(latencies, 99),
    }  # fmt: skip


def sweeps() -> dict:
    from django.utils import timezone

    from service.models import SlaMilestone, Ticket
    from service.sla import sla_sweep, sla_sweep_all

    result = {}
    started = time.perf_counter()
    backlog = sla_sweep_all()
    result["backlog"] = (backlog, time.perf_counter() - started)
    idle = []
    for _ in range(20):
        started = time.perf_counter()
        assert sla_sweep() == 0
        idle.append((time.perf_counter() - started) * 1000)
    result["idle_ms"] = (statistics.median(idle), max(idle))
    now = timezone.now()
    due = list(
        Ticket.objects.open().filter(escalation_level=0, paused_at__isnull=True)
        .values_list("pk", flat=True)[:1000]
    )  # fmt: skip
    past = now - timedelta(minutes=1)
    Ticket.objects.filter(pk__in=due).update(
        escalate_at=past, sla_check_at=past, response_warn_at=None, resolve_warn_at=None
    )
    started = time.perf_counter()
    swept = sla_sweep_all()
    result["escalate"] = (swept, time.perf_counter() - started)
    result["level_1"] = SlaMilestone.objects.filter(ticket_id__in=due, kind="level_1").count()
    result["again"] = sla_sweep_all()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20, help="per page")
    parser.add_argument("--claim-seconds", type=float, default=60)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    args = parser.parse_args()

    admin_url, url, env = scratch_database(SCRATCH)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{SCRATCH}"')
    import subprocess

    root = Path(__file__).resolve().parent.parent
    for argv in (["migrate", "--noinput", "-v", "0"], ["seed_demo", "--customers", "5000"]):
        subprocess.run([sys.executable, "manage.py", *argv], cwd=root, env=env, check=True)
    setup_django(url, args.agents)
    load_tickets(args.tickets, args.agents)

    server = serve(env, args.port, 2)
    try:
        agent, supervisor = sign_in(args.port, "agent"), sign_in(args.port, "supervisor")
        pages = {
            "team queue": (agent, ["/service/queues/general/", "/service/queues/card-fraud/",
                                   "/service/queues/complaints/",
                                   "/service/queues/general/?page=20"]),
            "my tickets": (agent, ["/service/", "/service/?page=3"]),
            "supervisor view": (supervisor, ["/service/supervisor/"]),
        }  # fmt: skip
        results = {}
        for name, (cookies, paths) in pages.items():
            log(f"driving {name} ({args.concurrency} connections, {args.seconds:.0f} s)")
            results[name] = drive(args.port, cookies, paths, args.seconds, args.concurrency)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    log(f"take next: {args.agents} agents for {args.claim_seconds:.0f} s")
    claim = claims(args.agents, args.claim_seconds)
    log("SLA sweeps")
    sweep = sweeps()
    if not args.keep:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')

    print()
    print(f"{args.tickets:,} open tickets over 3 queues; gunicorn 2 workers x 4 threads; "
          f"{args.concurrency} client connections; 2 cores shared")  # fmt: skip
    print(f"{'page':<16} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in results.items():
        print(f"{name:<16} {r['rps']:>8.1f} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['p99']:>8.1f} "
              f"{r['errors']:>7}")  # fmt: skip
    print(f"take next, {args.agents} agents, {args.claim_seconds:.0f} s: {claim['claims']:,} "
          f"claims ({claim['per_s']:.0f}/s), p50 {claim['p50']:.1f} ms, p95 {claim['p95']:.1f} "
          f"ms, p99 {claim['p99']:.1f} ms; claimed twice: {claim['double']}, held by another "
          f"agent: {claim['wrong_owner']}, assignment events: {claim['events']:,}")  # fmt: skip
    taken, seconds = sweep["backlog"]
    print(f"sweep of what was due after loading: {taken:,} tickets in {seconds:.1f} s")
    print(f"sweep with nothing due: median {sweep['idle_ms'][0]:.1f} ms, "
          f"max {sweep['idle_ms'][1]:.1f} ms")  # fmt: skip
    print(f"escalating 1,000 due tickets: {sweep['escalate'][0]:,} swept in "
          f"{sweep['escalate'][1]:.2f} s, {sweep['level_1']:,} level-1 milestones; "
          f"a second sweep took {sweep['again']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

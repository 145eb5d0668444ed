"""Benchmark: the integration API under gunicorn, driven by the core-banking simulator from
this (second) process.

    .venv/bin/python scripts/with_services.py .venv/bin/python bench/ingest.py
    (options: --rate, --seconds, --batch-events, --outage-rate, --customers, --keep)

1. A scratch database beside DATABASE_URL's (`bankcrm_bench_ingest`) is created, migrated and
   seeded with demo customers (their accounts and core-banking identities, and the demo
   integration sources).
2. gunicorn serves the project with production settings; one Celery worker applies events
   while they arrive.
3. Single events at --rate for --seconds (open loop: the simulator produces on schedule
   whatever the answers), then --batch-events (produced and journaled first, untimed) in
   batches of 1,000 flat out over --batch-threads connections. Afterwards
   the inbox must hold exactly the events produced (none missing, none twice) and, once the
   worker has caught up, one transaction per transaction event.
4. An outage run: the simulator keeps producing at --outage-rate for 120 s but delivers
   nothing from 30 s to 90 s; afterwards `manage.py resync_source core` pulls the gap from
   the simulator's feed, and the same exact-count checks run again.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.customer_pages import KEYS, log, scratch_database, serve  # noqa: E402
from customers import simulator  # noqa: E402

SCRATCH = "bankcrm_bench_ingest"
SECRET = "Bankcrm-Demo-Core-Secret-2026"  # noqa: S105 - the demo source's (customers.demo)


def start_worker(env: dict) -> subprocess.Popen:
    worker_env = {**env, **KEYS, "DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
                  "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_LOG_LEVEL": "WARNING"}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bankcrm", "worker", "--pool", "solo",
         "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle",
         "--hostname", f"bench-ingest-{os.getpid()}@%h"],
        cwd=ROOT, env=worker_env, stdout=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def counts(url: str) -> dict:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            """
            SELECT count(*), count(DISTINCT sequence), coalesce(max(sequence), 0),
                   count(*) FILTER (WHERE status = 'pending'),
                   count(*) FILTER (WHERE status = 'applied'),
                   count(*) FILTER (WHERE status IN ('parked', 'failed')),
                   count(*) FILTER (WHERE event_type = 'transaction.posted')
              FROM customers_inboxevent e JOIN customers_integrationsource s ON s.id = e.source_id
             WHERE s.code = 'core'
            """
        ).fetchone()
        booked = conn.execute(
            "SELECT count(*), count(DISTINCT external_id) FROM customers_transaction"
            " WHERE source = 'core' AND external_id LIKE 'T%%'"
        ).fetchone()
    keys = ["inbox", "distinct", "max_sequence", "pending", "applied", "parked", "tx_events"]
    return {**dict(zip(keys, row, strict=True)), "booked": booked[0], "booked_distinct": booked[1]}


def drain(url: str, timeout: float = 600) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if counts(url)["pending"] == 0:
            return time.monotonic() - started
        time.sleep(1)
    raise SystemExit("the worker did not catch up")


def verify(url: str, journal: simulator.Journal, label: str) -> dict:
    found = counts(url)
    produced = journal.count()
    ok = (
        found["inbox"] == found["distinct"] == found["max_sequence"] == produced
        and found["booked"] == found["booked_distinct"] == found["tx_events"]
        and found["parked"] == 0
    )
    log(f"{label}: produced {produced:,}; inbox {found['inbox']:,} rows, {found['distinct']:,} "
        f"sequences (max {found['max_sequence']:,}); {found['tx_events']:,} transaction events, "
        f"{found['booked']:,} transactions booked ({found['booked_distinct']:,} distinct); "
        f"parked/failed {found['parked']}: {'EXACT' if ok else 'MISMATCH'}")  # fmt: skip
    if not ok:
        raise SystemExit(f"{label}: the database does not hold exactly the events produced")
    return found


def report(name: str, stats: simulator.Stats) -> dict:
    rate = stats.accepted / stats.elapsed
    line = {
        "name": name, "produced": stats.produced, "accepted": stats.accepted,
        "rejected": stats.rejected, "not_delivered": stats.failed, "seconds": stats.elapsed,
        "rate": rate, "p50": stats.percentile(50), "p95": stats.percentile(95),
        "p99": stats.percentile(99), "statuses": stats.statuses,
    }  # fmt: skip
    log(f"{name}: {stats.accepted:,} accepted in {stats.elapsed:.0f} s = {rate:,.0f} events/s; "
        f"p50 {line['p50']:.1f} ms, p95 {line['p95']:.1f} ms, p99 {line['p99']:.1f} ms; "
        f"HTTP {stats.statuses}")  # fmt: skip
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=800, help="single events per second")
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--batch-events", type=int, default=300_000)
    parser.add_argument("--batch-threads", type=int, default=4)
    parser.add_argument(
        "--idle-worker-during-batch", action="store_true",
        help="stop the Celery worker while batches arrive (it applies them afterwards)",
    )  # fmt: skip
    parser.add_argument("--outage-rate", type=float, default=300)
    parser.add_argument("--threads", type=int, default=16, help="simulator connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--skip-outage", action="store_true")
    args = parser.parse_args()

    admin_url, url, env = scratch_database(SCRATCH)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{SCRATCH}"')

    def manage(*argv, capture=False):
        return subprocess.run([sys.executable, "manage.py", *argv], cwd=ROOT, env=env,
                              check=True, capture_output=capture, text=True)  # fmt: skip

    manage("migrate", "--noinput", "-v", "0")
    log(f"seed_demo --customers {args.customers:,}")
    manage("seed_demo", "--customers", str(args.customers))

    journal = simulator.Journal(Path(tempfile.mkdtemp()) / "core.sqlite3")
    feed = simulator.Feed(journal, "core", SECRET)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE customers_integrationsource SET feed_url = %s WHERE code = 'core'",
                     [feed.url])  # fmt: skip
    server = serve(env, args.port, args.workers)
    worker = start_worker(env)
    base_url = f"http://127.0.0.1:{args.port}"
    generator = simulator.Generator(args.customers)
    events = iter(generator.next, None)
    results = []
    try:
        log(
            f"single events: {args.rate:.0f}/s for {args.seconds:.0f} s, {args.threads} connections"
        )
        stats = simulator.run(
            simulator.Plan(rate=args.rate, seconds=args.seconds, threads=args.threads),
            journal=journal, events=events, base_url=base_url, source="core", secret=SECRET,
            progress=log,
        )  # fmt: skip
        results.append(report("single", stats))
        log(f"producing {args.batch_events:,} events for the batch run (not timed)")
        after = journal.count()
        for _ in range(0, args.batch_events, 10_000):
            journal.append("core", [generator.next() for _ in range(10_000)])
        if args.idle_worker_during_batch:  # measure what the endpoint alone can take
            stop(worker)
            log("the Celery worker is stopped during the batch run")
        log(f"batches of 1,000 flat out, {args.batch_threads} connections")
        stats = simulator.deliver_journal(
            journal, after=after, batch=1000, threads=args.batch_threads, base_url=base_url,
            source="core", secret=SECRET,
        )  # fmt: skip
        if args.idle_worker_during_batch:
            worker = start_worker(env)
        results.append(report("batch", stats))
        log(f"worker caught up {drain(url):.0f} s after the last push")
        verify(url, journal, "after single and batch")

        if not args.skip_outage:
            log(f"outage run: {args.outage_rate:.0f}/s for 120 s, nothing delivered 30-90 s")
            stats = simulator.run(
                simulator.Plan(rate=args.outage_rate, seconds=120, threads=8, outage_at=30,
                               outage_for=60),
                journal=journal, events=events, base_url=base_url, source="core",
                secret=SECRET,
            )  # fmt: skip
            results.append(report("outage", stats))
            before = counts(url)
            log(f"after the outage: {journal.count() - before['inbox']:,} events missing")
            started = time.monotonic()
            out = manage("resync_source", "core", capture=True).stdout.strip()
            log(f"resync_source: {out} ({time.monotonic() - started:.1f} s)")
            log(f"worker caught up {drain(url):.0f} s after the resync")
            verify(url, journal, "after the outage and resync")
    finally:
        stop(worker)
        stop(server)
        feed.close()
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')

    print()
    print(
        f"{args.customers:,} demo customers; gunicorn {args.workers} workers x 4 threads; "
        "one Celery worker applying meanwhile; simulator in this process; 2 cores shared"
    )
    print(f"{'run':<8} {'events/s':>9} {'accepted':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'undelivered':>11}")  # fmt: skip
    for r in results:
        print(f"{r['name']:<8} {r['rate']:>9,.0f} {r['accepted']:>9,} {r['p50']:>8.1f} "
              f"{r['p95']:>8.1f} {r['p99']:>8.1f} {r['not_delivered']:>11,}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: the customer list, search and 360 pages at 1,000,000 customers and
20,000,000 transactions, next to a minimal Django view, under gunicorn.

    .venv/bin/python scripts/with_services.py .venv/bin/python bench/customer_pages.py
    (options: --customers, --transactions, --seconds, --concurrency, --keep, --reuse)

1. A scratch database beside DATABASE_URL's (`bankcrm_bench_pages`) is migrated and loaded:
   `seed_demo` for the customers, accounts and a first set of transactions (COPY), then more
   transactions by COPY up to --transactions, with the demo RM's book given long histories
   (2,000 per customer) so the 360 page is measured on the customers that have the most.
   Indexes on the transaction table are dropped for the load and built afterwards.
   --reuse skips loading when the database already holds the wanted volumes.
2. gunicorn serves the project with production settings (DEBUG off) and a URLconf that adds
   one minimal view behind the same middleware and login (bench/urls.py).
3. A load generator in this process (threads over keep-alive connections, signed in as the
   demo RM) drives each page for --seconds and prints requests/s and p50/p95/p99, and each
   page's throughput as a share of the minimal view's (plain text) and the minimal page's
   (the base layout, rendered).
"""

import argparse
import http.client
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SCRATCH = "bankcrm_bench_pages"
# The development keys settings.py uses with DEBUG on: the seeder encrypts with them, so the
# production-mode server must read with the same.
KEYS = {
    "FIELD_ENCRYPTION_KEYS": "1:ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMDE=",
    "BLIND_INDEX_KEY": "ZGV2LW9ubHktYmxpbmQtaW5kZXgtaG1hYy1rZXktMDE=",
}
DEMO_PASSWORD = "Bankcrm-Demo-2026"  # noqa: S105 - the demo RM's printed password
LONG_HISTORY = 2000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---- loading ------------------------------------------------------------------------------


def load(url: str, env: dict, customers: int, transactions: int) -> None:
    def manage(*argv):
        subprocess.run([sys.executable, "manage.py", *argv], cwd=ROOT, env=env, check=True)

    started = time.perf_counter()
    manage("migrate", "--noinput", "-v", "0")
    log(f"seed_demo --customers {customers:,}")
    manage("seed_demo", "--customers", str(customers))
    seeded = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM customers_transaction").fetchone()[0]
        missing = transactions - have
        log(f"seed_demo took {seeded - started:.0f} s; {have:,} transactions, adding {missing:,}")
        if missing > 0:
            _top_up(conn, missing)
        for table in ("customers_customer", "customers_account", "customers_transaction"):
            conn.execute(f"VACUUM ANALYZE {table}")
    log(f"loaded in {time.perf_counter() - started:.0f} s")


def _top_up(conn, missing: int) -> None:
    """COPY `missing` transactions: 2,000 for each of the demo RM's customers, the rest
    spread over every current and card account. Secondary indexes are rebuilt after."""
    accounts = conn.execute(
        "SELECT a.id, a.customer_id, u.username = 'rm' FROM customers_account a"
        " JOIN customers_customer c ON c.id = a.customer_id"
        " LEFT JOIN bankcrm_user u ON u.id = c.primary_rm_id"
        " WHERE a.kind IN ('current', 'card') ORDER BY a.id"
    ).fetchall()
    demo = [(a, c) for a, c, is_demo in accounts if is_demo]
    rest = [(a, c) for a, c, is_demo in accounts if not is_demo]
    plan = [(a, c, LONG_HISTORY) for a, c in demo]
    left = missing - sum(n for *_x, n in plan)
    per, extra = divmod(max(0, left), len(rest))
    plan += [(a, c, per + (1 if i < extra else 0)) for i, (a, c) in enumerate(rest)]

    # Bulk-load practice: drop the secondary indexes and the foreign keys (whose checks
    # would queue one trigger event per row), COPY, then rebuild them in one pass each.
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'customers_transaction'::regclass AND contype IN ('f', 'u')"
    ).fetchall()
    for name, _definition in constraints:
        conn.execute(f"ALTER TABLE customers_transaction DROP CONSTRAINT {name}")
    indexes = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'customers_transaction'"
        " AND indexname NOT LIKE '%pkey'"
    ).fetchall()
    for name, _definition in indexes:
        conn.execute(f"DROP INDEX {name}")
    kinds = [
        ("工资", "credit", "transfer"), ("转账", "debit", "mobile"), ("消费", "debit", "pos"),
        ("取现", "debit", "atm"), ("还款", "debit", "online"), ("理财赎回", "credit", "mobile"),
    ]  # fmt: skip
    rng = random.Random(2026)
    shapes = [
        (*rng.choice(kinds), f"{rng.randrange(1, 500_000) / 100:.2f}",
         f"62**********{rng.randrange(10000):04d}")
        for _ in range(4096)
    ]  # fmt: skip
    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0)
    stamps = [(now - timedelta(minutes=37 * i)).isoformat() for i in range(LONG_HISTORY * 8)]
    started, written, n = time.perf_counter(), 0, 0
    columns = ("account_id, customer_id, booked_at, amount, currency, direction, channel, kind,"
               " counterparty_masked, source, external_id")  # fmt: skip
    with (
        conn.cursor() as cursor,
        cursor.copy(f"COPY customers_transaction ({columns}) FROM STDIN") as copy,
    ):
        buffer = []
        for account, customer, count in plan:
            for t in range(count):
                kind, direction, channel, amount, party = shapes[n & 4095]
                buffer.append(
                    f"{account}\t{customer}\t{stamps[(n * 7 + t) % len(stamps)]}\t{amount}\tCNY"
                    f"\t{direction}\t{channel}\t{kind}\t{party}\tbench\tB{n}\n"
                )
                n += 1
            if len(buffer) >= 50_000:
                copy.write("".join(buffer))
                written += len(buffer)
                buffer.clear()
                if written % 1_000_000 < 50_000:
                    rate = written / (time.perf_counter() - started)
                    log(f"  {written:,} transactions ({rate:,.0f}/s)")
        copy.write("".join(buffer))
    log(f"COPY of {n:,} transactions: {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    conn.execute("SET maintenance_work_mem = '1GB'")
    for _name, definition in indexes:
        conn.execute(definition)
    for name, definition in constraints:
        conn.execute(f"ALTER TABLE customers_transaction ADD CONSTRAINT {name} {definition}")
    log(f"indexes and constraints rebuilt in {time.perf_counter() - started:.0f} s")


# ---- serving ------------------------------------------------------------------------------


def scratch_database(name: str) -> tuple[str, str, dict]:
    """URLs of the server's maintenance database and of a scratch database `name` beside
    DATABASE_URL's, and an environment for manage commands on the scratch one."""
    base = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    admin_url = urlunsplit(base._replace(path="/postgres"))
    url = urlunsplit(base._replace(path=f"/{name}"))
    return admin_url, url, {**os.environ, "DATABASE_URL": url, "DJANGO_DEBUG": "true"}


def serve(
    env: dict, port: int, workers: int, app: str = "bankcrm.wsgi:application"
) -> subprocess.Popen:
    """gunicorn on `port` serving the WSGI application `app` (module:name) with production
    settings and bench.urls."""
    server_env = {
        **env, **KEYS,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "GUNICORN_WORKERS": str(workers),
    }  # fmt: skip
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT, env=server_env, check=True,
    )  # fmt: skip
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), app, "--config",
         "bankcrm/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
         "--access-logfile", "/dev/null"],
        cwd=ROOT, env=server_env, stdout=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health/live/")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("gunicorn did not start")


class Session:
    """A signed-in keep-alive connection (cookies handled by hand: no Secure-flag games)."""

    def __init__(self, port: int, cookies: dict):
        self.port, self.cookies = port, dict(cookies)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method, path, body=None, headers=None):
        headers = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "Host": "127.0.0.1",
            **(headers or {}),
        }
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, data


def sign_in(port: int, username: str) -> dict:
    session = Session(port, {})
    _status, page = session.request("GET", "/accounts/login/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
    body = urlencode({"username": username, "password": DEMO_PASSWORD,
                      "csrfmiddlewaretoken": token})  # fmt: skip
    status, _ = session.request(
        "POST", "/accounts/login/", body,
        {"Content-Type": "application/x-www-form-urlencoded", "Referer": "http://127.0.0.1/"},
    )  # fmt: skip
    if status != 302 or "sessionid" not in session.cookies:
        raise SystemExit(f"could not sign in as {username}: HTTP {status}")
    return session.cookies


def drive(
    port: int,
    cookies: dict,
    paths: list[str],
    seconds: float,
    concurrency: int,
    expect: bytes | None = None,
):
    """Requests/s and latency percentiles (ms) over `seconds`, after a 2 s warm-up. An error
    is a status other than 200, or a body without `expect` when given."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + 2 + seconds
    measure_from = time.monotonic() + 2

    def worker(seed: int):
        session = Session(port, cookies)
        rng = random.Random(seed)
        mine, bad = [], 0
        while (now := time.monotonic()) < stop_at:
            start = time.perf_counter()
            status, body = session.request("GET", rng.choice(paths))
            elapsed = (time.perf_counter() - start) * 1000
            if now >= measure_from:
                mine.append(elapsed)
                bad += status != 200 or (expect is not None and expect not in body)
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))]

    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50": statistics.median(latencies),
        "p95": pct(95),
        "p99": pct(99),
        "errors": errors[0],
        "latencies": latencies,
    }


def pages(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        book = conn.execute(
            "SELECT c.id, c.cif, c.name FROM customers_customer c JOIN bankcrm_user u"
            " ON u.id = c.primary_rm_id WHERE u.username = 'rm' ORDER BY c.id"
        ).fetchall()
        history = conn.execute(
            "SELECT count(*) FROM customers_transaction WHERE customer_id = %s", [book[0][0]]
        ).fetchone()[0]
    log(f"demo RM's book: {len(book)} customers; first has {history:,} transactions")
    names = sorted({name[:2] for _pk, _cif, name in book})
    return {
        "minimal view": ["/bench/minimal/"],
        "minimal page": ["/bench/page/"],
        "customer list": ["/customers/", "/customers/?tier=affluent", "/customers/?sort=name",
                          "/customers/?page=2", "/customers/?kyc_expiring=on"],
        "search": [f"/customers/search/?{urlencode({'q': q})}" for q in names[:20]]
                  + [f"/customers/search/?q={cif}" for _pk, cif, _n in book[:20]],
        "360 page": [f"/customers/{pk}/" for pk, _cif, _n in book],
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=20_000_000)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--reuse", action="store_true", help="keep a loaded scratch database")
    parser.add_argument("--keep", action="store_true", help="do not drop it at the end")
    args = parser.parse_args()

    admin_url, url, env = scratch_database(SCRATCH)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [SCRATCH]).fetchone()
        if exists and not args.reuse:
            conn.execute(f'DROP DATABASE "{SCRATCH}"')
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
        load(url, env, args.customers, args.transactions)
    with psycopg.connect(url) as conn:
        customers, transactions = conn.execute(
            "SELECT (SELECT count(*) FROM customers_customer),"
            " (SELECT count(*) FROM customers_transaction)"
        ).fetchone()
    log(f"database: {customers:,} customers, {transactions:,} transactions")

    server = serve(env, args.port, args.workers)
    try:
        cookies = sign_in(args.port, "rm")
        results = {}
        for name, paths in pages(url).items():
            log(f"driving {name} ({len(paths)} URLs, {args.concurrency} connections, "
                f"{args.seconds:.0f} s)")  # fmt: skip
            results[name] = drive(args.port, cookies, paths, args.seconds, args.concurrency)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)')

    minimal = results["minimal view"]["rps"]
    print()
    print(f"{customers:,} customers, {transactions:,} transactions; gunicorn {args.workers} "
          f"workers x 4 threads; {args.concurrency} client connections; "
          "2 cores shared")  # fmt: skip
    page = results["minimal page"]["rps"]
    print(f"{'page':<14} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'vs view':>8} {'vs page':>8} {'errors':>7}")  # fmt: skip
    for name, r in results.items():
        print(f"{name:<14} {r['rps']:>8.1f} {r['p50']:>8.1f} {r['p95']:>8.1f} {r['p99']:>8.1f} "
              f"{r['rps'] / minimal:>8.0%} {r['rps'] / page:>8.0%} {r['errors']:>7}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

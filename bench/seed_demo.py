"""Benchmark: load the demo data set into a scratch database and report throughput.

    make bench
    .venv/bin/python scripts/with_services.py .venv/bin/python bench/seed_demo.py --customers N

Creates a fresh database next to DATABASE_URL's (named after it, so two checkouts sharing a
server do not collide), migrates it, runs `seed_demo` for --customers (default 100,000),
runs it a second time to show it adds nothing, checks the audit chains with `verify_audit`,
and drops the database. Prints each step's wall time and the CPU time of its process (the
seed's Python; PostgreSQL's own work is the rest of the wall time), customers/s, and the
machine's load average, since on a shared machine the wall time follows the load.
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(base)
    scratch = f"{parts.path.lstrip('/') or 'bankcrm'}_bench_seed"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    scratch_url = urlunsplit(parts._replace(path=f"/{scratch}"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{scratch}"')
    env = {**os.environ, "DATABASE_URL": scratch_url, "DJANGO_DEBUG": "true"}
    load_before = os.getloadavg()[0]

    def manage(*argv: str) -> tuple[float, float]:
        """Wall and CPU seconds of one manage.py command."""
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", *argv],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = after.ru_utime - cpu.ru_utime + after.ru_stime - cpu.ru_stime
        return time.perf_counter() - start, used

    try:
        migrate = manage("migrate", "--noinput")
        first = manage("seed_demo", "--customers", str(args.customers))
        second = manage("seed_demo", "--customers", str(args.customers))
        verify = manage("verify_audit")  # fails (exit 1) on a broken chain
        with psycopg.connect(scratch_url) as conn:
            counts = {
                table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
                for table in (
                    "customers_customer",
                    "customers_account",
                    "customers_transaction",
                    "customers_interaction",
                    "service_ticket",
                    "compliance_datachange",
                )
            }
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')

    def line(label: str, step: tuple[float, float], extra: str = "") -> str:
        return f"{label:20}{step[0]:7.1f} s wall {step[1]:7.1f} s CPU  {extra}"

    print(line("migrate:", migrate))
    rate = f"{counts['customers_customer'] / first[0]:,.0f} customers/s"
    print(line("seed_demo (first):", first, rate))
    print(line("seed_demo (again):", second, "(adds nothing)"))
    print(line("verify_audit:", verify, "(chains intact)"))
    print(f"load average (1 min) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    for table, count in counts.items():
        print(f"  {table:24} {count:>12,}")
    if counts["customers_customer"] != args.customers:
        print("!! customer count differs from --customers", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

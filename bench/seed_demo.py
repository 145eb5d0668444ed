"""Benchmark: load the demo data set into a scratch database and report throughput.

    make bench
    .venv/bin/python scripts/with_services.py .venv/bin/python bench/seed_demo.py --customers N

Creates a fresh database next to DATABASE_URL's, migrates it, runs `seed_demo` for
--customers (default 100,000), runs it a second time to show it adds nothing, and drops
the database. Prints customers/s and the wall time of each step.
"""

import argparse
import os
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
    scratch = "bankcrm_bench_seed"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    scratch_url = urlunsplit(parts._replace(path=f"/{scratch}"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{scratch}"')
        conn.execute(f'CREATE DATABASE "{scratch}"')
    env = {**os.environ, "DATABASE_URL": scratch_url, "DJANGO_DEBUG": "true"}

    def manage(*argv: str) -> float:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", *argv],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - start

    try:
        migrate = manage("migrate", "--noinput")
        first = manage("seed_demo", "--customers", str(args.customers))
        second = manage("seed_demo", "--customers", str(args.customers))
        with psycopg.connect(scratch_url) as conn:
            counts = {
                table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
                for table in (
                    "customers_customer",
                    "customers_account",
                    "customers_transaction",
                    "customers_interaction",
                    "service_ticket",
                )
            }
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')

    print(f"migrate:            {migrate:7.1f} s")
    print(
        f"seed_demo (first):  {first:7.1f} s  "
        f"{counts['customers_customer'] / first:,.0f} customers/s"
    )
    print(f"seed_demo (again):  {second:7.1f} s  (adds nothing)")
    for table, count in counts.items():
        print(f"  {table:24} {count:>12,}")
    if counts["customers_customer"] != args.customers:
        print("!! customer count differs from --customers", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

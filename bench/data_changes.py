"""Benchmark: what the data-change trigger (compliance/sql/compliance_record_change.sql)
costs a bulk change, per row.

    DATABASE_URL=… REDIS_URL=… .venv/bin/python bench/data_changes.py [--rows 5000] [--rounds 5]

Everything happens in one transaction that is rolled back: the database (a migrated one,
`make run`'s will do) is left as it was. --rows copies of one customer are inserted with
one INSERT … SELECT, then all of them updated with one UPDATE (a column no other trigger
watches), each --rounds times under EXPLAIN ANALYZE, which times the audit trigger alone
("Trigger customers_customer_audit: time=…"): the median per row is printed, with the
statement's own time beside it. The DataChange rows' chain links (written at commit in
production) are timed apart with SET CONSTRAINTS ALL IMMEDIATE.
"""

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bankcrm.settings")
os.environ.setdefault("DJANGO_DEBUG", "true")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402

from bankcrm.audit import audit_context  # noqa: E402
from bankcrm.models import Branch  # noqa: E402
from customers.models import Customer  # noqa: E402

TRIGGER = re.compile(r"Trigger customers_customer_audit: time=([\d.]+) calls=(\d+)")
TOTAL = re.compile(r"Execution Time: ([\d.]+) ms")


class Rollback(Exception):  # noqa: N818 - not an error: the way out of the transaction
    pass


def explained(sql: str, params=()) -> tuple[float, float, int]:
    """(trigger ms, statement ms, trigger calls) of one statement."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ANALYZE {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    trigger_ms, calls = TRIGGER.search(plan).groups()
    return float(trigger_ms), float(TOTAL.search(plan).group(1)), int(calls)


def timed(sql: str) -> float:
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(sql)
        return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n = args.rows
    runs = {"insert": [], "update": [], "links": []}
    try:
        with transaction.atomic(), audit_context(label="task:bench"):
            branch = Branch.objects.create(code="BENCH-T", name="bench", region="bench")
            template = Customer.objects.create(cif="BT-TEMPLATE", name="客户", branch=branch)
            columns = [f.column for f in Customer._meta.concrete_fields
                       if f.column not in ("id", "cif")]  # fmt: skip
            listed = ", ".join(columns)
            for r in range(args.rounds):
                insert = (
                    f"INSERT INTO customers_customer (cif, {listed})"  # noqa: S608 - fixed names
                    f" SELECT 'BT{r}-' || n, {listed} FROM customers_customer,"
                    " generate_series(1, %s) n WHERE id = %s"
                )
                runs["insert"].append(explained(insert, [n, template.pk]))
                update = "UPDATE customers_customer SET occupation = %s WHERE cif LIKE %s"
                runs["update"].append(explained(update, [f"round {r}", f"BT{r}-%"]))
                runs["links"].append(timed("SET CONSTRAINTS ALL IMMEDIATE"))
                timed("SET CONSTRAINTS ALL DEFERRED")
            raise Rollback
    except Rollback:
        pass
    print(f"{n} rows a statement, median of {args.rounds} rounds, ms per row")
    for what in ("insert", "update"):
        assert all(calls == n for _, _, calls in runs[what])
        trigger = statistics.median(t for t, _, _ in runs[what]) / n
        statement = statistics.median(s for _, s, _ in runs[what]) / n
        print(f"  {what}: the trigger {trigger:.4f} of the statement's {statement:.4f}")
    print(f"  chain links of both (at commit): {statistics.median(runs['links']) / (2 * n):.4f}")


if __name__ == "__main__":
    main()

"""Checking the audit tables' hash chains (built by triggers, migration 0001)."""

from dataclasses import dataclass

from django.db import connection, transaction

TABLES = ("auditlog_logentry", "bankcrm_accesslog", "compliance_datachange")
BATCH = 20_000


@dataclass
class ChainReport:
    table: str
    rows: int
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def verify_table(table: str) -> ChainReport:
    """Walks the chain in order and reports the first link that does not hold: a row whose
    content no longer gives its hash (edited), a row whose previous hash is not the hash of
    the row before (removed or inserted around the trigger), or a gap in the sequence."""
    if table not in TABLES:
        raise ValueError(table)
    rows, last_seq, last_hash = 0, 0, b""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL TimeZone = 'UTC'")
        while True:
            cursor.execute(
                f"SELECT chain_seq, id, prev_hash, row_hash,"  # noqa: S608 (fixed names)
                f" sha256(prev_hash || compliance_canonical(to_jsonb(t)))"
                f" FROM {table} t WHERE chain_seq > %s ORDER BY chain_seq LIMIT %s",
                [last_seq, BATCH],
            )
            batch = cursor.fetchall()
            if not batch:
                return ChainReport(table, rows)
            for seq, pk, prev_hash, row_hash, recomputed in batch:
                rows += 1
                if seq != last_seq + 1:
                    return ChainReport(
                        table, rows, seq, pk, f"rows {last_seq + 1}–{seq - 1} are missing"
                    )
                if bytes(prev_hash) != last_hash:
                    return ChainReport(
                        table, rows, seq, pk, "its previous hash is not the previous row's hash"
                    )
                if bytes(recomputed) != bytes(row_hash):
                    return ChainReport(
                        table, rows, seq, pk, "its content does not give its hash (edited)"
                    )
                last_seq, last_hash = seq, bytes(row_hash)


def verify_all() -> list[ChainReport]:
    return [verify_table(table) for table in TABLES]

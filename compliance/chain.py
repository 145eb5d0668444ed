"""Checking the audit tables' hash chains (links written at commit, migration 0004)."""

from dataclasses import dataclass

from django.db import connection, transaction

TABLES = (
    "auditlog_logentry",
    "bankcrm_accesslog",
    "bankcrm_securityevent",
    "compliance_datachange",
)
BATCH = 20_000


@dataclass
class ChainReport:
    table: str
    rows: int
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str = ""
    head_hash: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None and self.broken_id is None


def verify_table(table: str) -> ChainReport:
    """Walks the chain in order and reports the first link that does not hold: a row whose
    content no longer gives its hash (edited), a link whose row is gone (removed), a link
    whose previous hash is not the hash of the link before, or a gap in the sequence
    (links removed); then a row that has no link at all (written around the triggers)."""
    if table not in TABLES:
        raise ValueError(table)
    rows, last_seq, last_hash = 0, 0, b""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL TimeZone = 'UTC'")
        while True:
            cursor.execute(
                f"SELECT l.seq, l.row_id, l.prev_hash, l.row_hash, t.id IS NOT NULL,"  # noqa: S608
                f" sha256(l.prev_hash || compliance_canonical(to_jsonb(t)))"
                f" FROM compliance_chainlink l LEFT JOIN {table} t ON t.id = l.row_id"
                f" WHERE l.table_name = %s AND l.seq > %s ORDER BY l.seq LIMIT %s",
                [table, last_seq, BATCH],
            )
            batch = cursor.fetchall()
            if not batch:
                break
            for seq, pk, prev_hash, row_hash, present, recomputed in batch:
                rows += 1
                if seq != last_seq + 1:
                    return ChainReport(
                        table, rows, seq, pk, f"links {last_seq + 1}–{seq - 1} are missing"
                    )
                if not present:
                    return ChainReport(table, rows, seq, pk, "its row has been removed")
                if bytes(prev_hash) != last_hash:
                    return ChainReport(
                        table, rows, seq, pk, "its previous hash is not the previous row's hash"
                    )
                if bytes(recomputed) != bytes(row_hash):
                    return ChainReport(
                        table, rows, seq, pk, "its content does not give its hash (edited)"
                    )
                last_seq, last_hash = seq, bytes(row_hash)
        cursor.execute(
            f"SELECT min(t.id) FROM {table} t WHERE NOT EXISTS (SELECT FROM"  # noqa: S608
            f" compliance_chainlink l WHERE l.table_name = %s AND l.row_id = t.id)",
            [table],
        )
        (unlinked,) = cursor.fetchone()
    if unlinked is not None:
        return ChainReport(
            table, rows, None, unlinked, "a row has no link (written around the triggers)"
        )
    return ChainReport(table, rows, head_hash=last_hash.hex())


def verify_all() -> list[ChainReport]:
    return [verify_table(table) for table in TABLES]

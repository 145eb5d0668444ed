"""The audit chains are linked when the writing transaction commits, not when it inserts.

Migration 0001 chained each row in a BEFORE INSERT trigger that held the table's advisory
lock until the writer committed: every audited transaction waited for the one before it
to end, however long that took (an import chunk of 500 customers, a ticket claim). With
fifty agents taking tickets, nine in ten connections were waiting on that lock.

Now an audit row is inserted as it is, and a constraint trigger deferred to commit links
it: it takes one lock for all chains (a lock per table could deadlock two transactions
that commit rows of two tables in opposite orders), reads the chain's last link and
appends the row's link to `compliance_chainlink`: (table, seq, row id, prev_hash,
row_hash = sha256(prev_hash || the row's canonical JSON)). The lock is held from the
commit's start to its end only. The chain's order is commit order.

Audit rows themselves are never updated (the links live beside them), and the link table
is append-only like them. The existing links move over unchanged: the canonical JSON
always left the three chain columns out, so every hash still holds.
"""

from django.db import migrations, models

TABLES = ("auditlog_logentry", "bankcrm_accesslog", "compliance_datachange")

FUNCTIONS = r"""
-- TimeZone is fixed for the function's run: times in the JSON are written in UTC whatever
-- the writer's session says (the verifier reads them the same way).
CREATE OR REPLACE FUNCTION compliance_chain_link() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    last_seq bigint;
    last_hash bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('compliance_chain'));
    SELECT seq, row_hash INTO last_seq, last_hash FROM compliance_chainlink
        WHERE table_name = TG_TABLE_NAME ORDER BY seq DESC LIMIT 1;
    last_hash := COALESCE(last_hash, '\x'::bytea);
    INSERT INTO compliance_chainlink (table_name, seq, row_id, prev_hash, row_hash)
    VALUES (TG_TABLE_NAME, COALESCE(last_seq, 0) + 1, NEW.id, last_hash,
            sha256(last_hash || compliance_canonical(to_jsonb(NEW))));
    RETURN NULL;
END
$$;

CREATE TRIGGER compliance_chainlink_append_only BEFORE UPDATE OR DELETE ON compliance_chainlink
    FOR EACH ROW EXECUTE FUNCTION compliance_refuse_change();
CREATE TRIGGER compliance_chainlink_no_truncate BEFORE TRUNCATE ON compliance_chainlink
    FOR EACH STATEMENT EXECUTE FUNCTION compliance_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON compliance_chainlink FROM CURRENT_USER;
"""


def link_sql(table: str) -> str:
    """Chain `table`'s rows at commit (its append-only triggers stay as they are)."""
    return (
        f"CREATE CONSTRAINT TRIGGER {table}_chain AFTER INSERT ON {table}"
        " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION compliance_chain_link();"
    )


def audit_table_sql(table: str) -> str:
    """A new audit table (later migrations): append-only, and chained at commit."""
    return f"""
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION compliance_refuse_change();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION compliance_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM CURRENT_USER;
{link_sql(table)}
"""


def move_sql(table: str) -> str:
    # Fixed table names above, never input.
    return f"""
INSERT INTO compliance_chainlink (table_name, seq, row_id, prev_hash, row_hash)
    SELECT '{table}', chain_seq, id, prev_hash, row_hash FROM {table};
DROP TRIGGER {table}_chain ON {table};
ALTER TABLE {table} DROP COLUMN chain_seq, DROP COLUMN prev_hash, DROP COLUMN row_hash;
{link_sql(table)}
"""  # noqa: S608


class Migration(migrations.Migration):
    dependencies = [("compliance", "0003_recent_index")]

    operations = [
        migrations.CreateModel(
            name="ChainLink",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "table_name",
                        "seq",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("table_name", models.CharField(max_length=63)),
                ("seq", models.BigIntegerField()),
                ("row_id", models.BigIntegerField()),
                ("prev_hash", models.BinaryField()),
                ("row_hash", models.BinaryField()),
            ],
            options={
                "verbose_name": "audit chain link",
                "verbose_name_plural": "audit chain links",
                "constraints": [
                    models.UniqueConstraint(fields=("table_name", "row_id"), name="chainlink_row"),
                    models.CheckConstraint(
                        condition=models.Q(("seq__gt", 0)), name="chainlink_seq"
                    ),
                ],
            },
        ),
        migrations.RunSQL(FUNCTIONS),
        *[migrations.RunSQL(move_sql(t)) for t in TABLES],
        migrations.RunSQL("DROP FUNCTION compliance_chain_append();"),
    ]

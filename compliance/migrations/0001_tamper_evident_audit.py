"""Audit rows (django-auditlog's LogEntry for writes, AccessLog for sensitive reads) become
append-only and hash-chained, in the database itself:

- a trigger refuses UPDATE and DELETE on them for every role, and TRUNCATE unless a
  superuser asks for it explicitly (`SET bankcrm.audit_maintenance = 'on'`, what test
  databases do to be emptied between tests); the privileges are revoked from the role that
  runs the migrations (the application's), which stops it even without the trigger;
- each new row gets `chain_seq` (1, 2, 3 … per table, unique), `prev_hash` (the previous
  row's hash) and `row_hash` = sha256(prev_hash || the row's canonical JSON without these
  three columns). An advisory lock per table serialises appends until the writer commits,
  so concurrent writers cannot fork the chain. Existing rows are chained in id order.

compliance.chain.verify() recomputes the chain and reports the first broken link.
"""

from django.db import migrations

TABLES = ("auditlog_logentry", "bankcrm_accesslog")

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION compliance_canonical(row_json jsonb) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_to((row_json - 'chain_seq' - 'prev_hash' - 'row_hash')::text, 'UTF8')
$$;

CREATE OR REPLACE FUNCTION compliance_chain_append() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash bytea;
BEGIN
    -- Times in the JSON are written in UTC whatever the session's zone.
    PERFORM set_config('TimeZone', 'UTC', true);
    PERFORM pg_advisory_xact_lock(hashtext('compliance_chain:' || TG_TABLE_NAME));
    EXECUTE format('SELECT chain_seq, row_hash FROM %I ORDER BY chain_seq DESC LIMIT 1',
                   TG_TABLE_NAME) INTO last_seq, last_hash;
    NEW.chain_seq := COALESCE(last_seq, 0) + 1;
    NEW.prev_hash := COALESCE(last_hash, '\x'::bytea);
    NEW.row_hash := sha256(NEW.prev_hash || compliance_canonical(to_jsonb(NEW)));
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION compliance_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_setting('bankcrm.audit_maintenance', true) = 'on'
       AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit rows in % cannot be changed or removed (%)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""


def table_sql(table: str) -> str:
    # The two fixed table names above, never input.
    return f"""
ALTER TABLE {table} ADD COLUMN chain_seq bigint, ADD COLUMN prev_hash bytea,
    ADD COLUMN row_hash bytea;
DO $$
DECLARE
    r record;
    seq bigint := 0;
    last bytea := '\\x'::bytea;
    h bytea;
BEGIN
    PERFORM set_config('TimeZone', 'UTC', true);
    FOR r IN SELECT id, to_jsonb(t) AS j FROM {table} t ORDER BY id LOOP
        seq := seq + 1;
        h := sha256(last || compliance_canonical(r.j));
        UPDATE {table} SET chain_seq = seq, prev_hash = last, row_hash = h WHERE id = r.id;
        last := h;
    END LOOP;
END $$;
ALTER TABLE {table} ALTER COLUMN chain_seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN row_hash SET NOT NULL;
CREATE UNIQUE INDEX {table}_chain_seq ON {table} (chain_seq);
CREATE TRIGGER {table}_chain BEFORE INSERT ON {table}
    FOR EACH ROW EXECUTE FUNCTION compliance_chain_append();
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION compliance_refuse_change();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION compliance_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM CURRENT_USER;
"""  # noqa: S608


def reverse_table_sql(table: str) -> str:
    return f"""
GRANT UPDATE, DELETE, TRUNCATE ON {table} TO CURRENT_USER;
DROP TRIGGER {table}_no_truncate ON {table};
DROP TRIGGER {table}_append_only ON {table};
DROP TRIGGER {table}_chain ON {table};
ALTER TABLE {table} DROP COLUMN chain_seq, DROP COLUMN prev_hash, DROP COLUMN row_hash;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("auditlog", "0017_add_actor_email"),
        ("bankcrm", "0003_access_log"),
    ]

    operations = [
        migrations.RunSQL(
            FUNCTIONS,
            "DROP FUNCTION compliance_refuse_change(); DROP FUNCTION compliance_chain_append();"
            " DROP FUNCTION compliance_canonical(jsonb);",
        ),
        *[migrations.RunSQL(table_sql(t), reverse_table_sql(t)) for t in TABLES],
    ]

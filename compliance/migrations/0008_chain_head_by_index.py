"""The chain trigger reads the chain's last link off the primary key again.

Migration 0004 compared the link table's `table_name` with TG_TABLE_NAME, which is of type
`name`, and so of collation "C" even cast to text: the primary key (in the database's
collation) cannot serve that comparison, and every link scanned the whole link table. One
transaction writing 20,000 audit rows took 47 s to commit, 40,000 took five minutes (seen
loading the demo data). A text variable has the default collation: the lookup is one step
down the primary key, whatever the table holds.
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION compliance_chain_link() RETURNS trigger
LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
    tbl text := TG_TABLE_NAME;  -- the default collation, as the primary key's
    last_seq bigint;
    last_hash bytea;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('compliance_chain'));
    SELECT seq, row_hash INTO last_seq, last_hash FROM compliance_chainlink
        WHERE table_name = tbl ORDER BY seq DESC LIMIT 1;
    last_hash := COALESCE(last_hash, '\x'::bytea);
    INSERT INTO compliance_chainlink (table_name, seq, row_id, prev_hash, row_hash)
    VALUES (tbl, COALESCE(last_seq, 0) + 1, NEW.id, last_hash,
            sha256(last_hash || compliance_canonical(to_jsonb(NEW))));
    RETURN NULL;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("compliance", "0007_audit_filter_indexes")]

    # Going back leaves this function: it fits 0004's tables as well.
    operations = [migrations.RunSQL(FUNCTION, migrations.RunSQL.noop)]

-- Links an audit row into its table's hash chain when the writing transaction commits (a
-- deferred constraint trigger, compliance migration 0004): one lock for every chain, the
-- chain's last link read off the primary key (a text variable: TG_TABLE_NAME's collation
-- "C" could not use it, migration 0008), then link = sha256(prev_hash || canonical JSON).
-- TimeZone is fixed for the run: times in the JSON are UTC whatever the writer's session.
CREATE OR REPLACE FUNCTION public.compliance_chain_link()
 RETURNS trigger
 LANGUAGE plpgsql
 SET "TimeZone" TO 'UTC'
AS $function$
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
$function$;

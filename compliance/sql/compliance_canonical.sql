-- The bytes an audit row is hashed as in its chain: its JSON without the columns the first
-- chain kept on the row (compliance migration 0001), so old links still hold.
CREATE OR REPLACE FUNCTION public.compliance_canonical(row_json jsonb)
 RETURNS bytea
 LANGUAGE sql
 IMMUTABLE
AS $function$
    SELECT convert_to((row_json - 'chain_seq' - 'prev_hash' - 'row_hash')::text, 'UTF8')
$function$;

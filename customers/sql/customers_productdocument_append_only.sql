-- Product documents are evidence of what a customer was shown: a new file is a new version;
-- rows are never changed or removed (TRUNCATE stays possible for test-database flushes).
CREATE OR REPLACE FUNCTION public.customers_productdocument_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION 'product documents are append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$function$;

-- Consent history is evidence under PIPL: rows are added, never changed or removed
-- (TRUNCATE stays possible for test-database flushes; privileges deny it to the app).
CREATE OR REPLACE FUNCTION public.customers_consent_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION 'consent history is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$function$;

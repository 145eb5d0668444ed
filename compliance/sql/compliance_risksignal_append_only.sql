-- Risk signals are the evidence a warning rests on: written once, never changed or removed
-- (TRUNCATE stays possible for test-database flushes).
CREATE OR REPLACE FUNCTION public.compliance_risksignal_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION 'risk signals are append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$function$;

-- Suitability rule versions and checks are evidence of what was decided and why: rows are
-- added, never changed or removed (a new rule version is a new row; TRUNCATE stays possible
-- for test-database flushes, privileges deny it to the app).
CREATE OR REPLACE FUNCTION public.compliance_suitability_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$function$;

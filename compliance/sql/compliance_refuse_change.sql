-- Audit rows are append-only: UPDATE and DELETE are refused for every role, TRUNCATE too
-- unless a superuser asks for maintenance (what test databases do to be emptied).
CREATE OR REPLACE FUNCTION public.compliance_refuse_change()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'TRUNCATE'
       AND current_setting('bankcrm.audit_maintenance', true) = 'on'
       AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit rows in % cannot be changed or removed (%)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$function$;

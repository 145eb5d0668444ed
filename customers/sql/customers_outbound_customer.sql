-- How an outbound event names a customer: CIF and external ids, never identifiers.
CREATE OR REPLACE FUNCTION public.customers_outbound_customer(p_customer bigint)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
AS $function$
    SELECT jsonb_build_object(
        'cif', c.cif,
        'external_ids', coalesce((SELECT jsonb_object_agg(i.source, i.external_id)
                                    FROM customers_externalidentity i
                                   WHERE i.customer_id = c.id), '{}'::jsonb))
      FROM customers_customer c WHERE c.id = p_customer
$function$;

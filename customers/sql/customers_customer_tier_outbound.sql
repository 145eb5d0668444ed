-- A customer's changed tier is published to subscribers in the transaction that changes
-- it, whatever the path (views, admin, imports, queryset.update(), raw SQL).
CREATE OR REPLACE FUNCTION public.customers_customer_tier_outbound()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM customers_outbound_publish(
        'customer.tier_changed', NEW.id,
        jsonb_build_object('customer', customers_outbound_customer(NEW.id),
                           'previous_tier', OLD.tier, 'tier', NEW.tier));
    RETURN NULL;
END
$function$;

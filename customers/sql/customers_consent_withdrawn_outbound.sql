-- A withdrawn consent is published to subscribers (an outbound event) in the transaction
-- that records it, whatever the path.
CREATE OR REPLACE FUNCTION public.customers_consent_withdrawn_outbound()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM customers_outbound_publish(
        'consent.withdrawn', NEW.customer_id,
        jsonb_build_object('customer', customers_outbound_customer(NEW.customer_id),
                           'purpose', NEW.purpose, 'channel', NEW.channel,
                           'recorded_at', NEW.recorded_at, 'source', NEW.source));
    RETURN NULL;
END
$function$;

-- Records an outbound event and a delivery for each enabled subscriber of its type; false
-- when an event with the same dedupe key exists already.
CREATE OR REPLACE FUNCTION public.customers_outbound_publish(p_type text, p_customer bigint, p_payload jsonb, p_dedupe text DEFAULT ''::text)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
DECLARE
    new_id bigint;
BEGIN
    INSERT INTO customers_outboundevent
        (event_id, event_type, customer_id, payload, dedupe_key, created_at)
    VALUES (gen_random_uuid(), p_type, p_customer, p_payload, coalesce(p_dedupe, ''), now())
    ON CONFLICT DO NOTHING
    RETURNING id INTO new_id;
    IF new_id IS NULL THEN
        RETURN false;
    END IF;
    INSERT INTO customers_outbounddelivery
        (event_id, subscriber_id, status, attempts, next_attempt_at, last_error)
    SELECT new_id, s.id, 'pending', 0, now(), ''
      FROM customers_subscriber s
     WHERE s.enabled AND p_type = ANY (s.event_types);
    RETURN true;
END
$function$;

-- Today's KPI snapshot is brought up to date from the changes since its last run
-- (analytics/kpi.py, analytics.KpiChange). A statement-level trigger: one queue row per
-- statement for a part redone whole (TG_ARGV[0]: queues, campaigns, values), or, for
-- 'book', the customers whose accounts or transactions the statement wrote. An update
-- counts only when one of the columns named after the part changed (any, if none is
-- named): workers update tickets and deliveries all day without changing a figure.
CREATE OR REPLACE FUNCTION public.analytics_kpi_changed()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_ARGV[0] <> 'book' THEN
        IF TG_OP = 'UPDATE' AND TG_NARGS > 1 THEN
            IF NOT EXISTS (
                SELECT FROM old_rows o JOIN new_rows n ON n.id = o.id
                 CROSS JOIN LATERAL (SELECT to_jsonb(o) AS was, to_jsonb(n) AS now) r
                 WHERE EXISTS (SELECT FROM unnest(TG_ARGV[1:]) c
                                WHERE r.was -> c IS DISTINCT FROM r.now -> c)
            ) THEN
                RETURN NULL;
            END IF;
        END IF;
        -- One waiting row a part is enough: a campaign's sending settles a row a statement
        -- (half a million of them) and each would queue its own. A row a run is taking is
        -- locked by its DELETE and skipped here, so a change made meanwhile queues anew.
        PERFORM FROM analytics_kpichange
          WHERE part = TG_ARGV[0] AND customer_id IS NULL
          LIMIT 1 FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            INSERT INTO analytics_kpichange (part) VALUES (TG_ARGV[0]);
        END IF;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO analytics_kpichange (part, customer_id)
        SELECT DISTINCT 'book', customer_id FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO analytics_kpichange (part, customer_id)
        SELECT DISTINCT 'book', customer_id FROM old_rows;
    ELSE
        INSERT INTO analytics_kpichange (part, customer_id)
        SELECT DISTINCT 'book', x.customer_id
          FROM old_rows o JOIN new_rows n ON n.id = o.id
         CROSS JOIN LATERAL (SELECT to_jsonb(o) AS was, to_jsonb(n) AS now) r
         CROSS JOIN LATERAL (VALUES (o.customer_id), (n.customer_id)) x (customer_id)
         WHERE EXISTS (SELECT FROM unnest(TG_ARGV[1:]) c WHERE r.was -> c IS DISTINCT FROM r.now -> c);
    END IF;
    RETURN NULL;
END
$function$;

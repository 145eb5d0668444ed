-- Today's KPI snapshot is brought up to date from the changes since its last run
-- (analytics/kpi.py, analytics.KpiChange). A customer's balance and customer rows are its
-- branch, RM and tier's: a change records the customer (the rows it is in now) and its
-- branch, RM and tier before (the rows it leaves). The day's other figures are filed by
-- branch (service), branch and RM (campaigns, tier moves) or branch and tier (the watch
-- lists, with the tier moves: 'values'): a move or a new tier redoes those it files.
CREATE OR REPLACE FUNCTION public.analytics_kpi_customer_changed()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO analytics_kpichange (part, customer_id)
        SELECT 'book', id FROM new_rows;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO analytics_kpichange (part, customer_id, branch_id, rm_id, tier)
        SELECT 'book', id, branch_id, primary_rm_id, tier FROM old_rows
        UNION ALL
        SELECT part, NULL, NULL, NULL, '' FROM unnest(ARRAY['queues', 'campaigns', 'values']) part
         WHERE EXISTS (SELECT FROM old_rows);
    ELSE
        INSERT INTO analytics_kpichange (part, customer_id, branch_id, rm_id, tier)
        WITH changed AS (
            SELECT o.id, o.branch_id, o.primary_rm_id, o.tier,
                   o.branch_id IS DISTINCT FROM n.branch_id AS branch,
                   o.primary_rm_id IS DISTINCT FROM n.primary_rm_id AS rm,
                   o.tier IS DISTINCT FROM n.tier AS retiered
              FROM old_rows o JOIN new_rows n ON n.id = o.id
             WHERE (o.branch_id, o.primary_rm_id, o.tier, o.lifecycle, o.created_at)
                   IS DISTINCT FROM (n.branch_id, n.primary_rm_id, n.tier, n.lifecycle, n.created_at)
        )
        SELECT 'book', id, branch_id, primary_rm_id, tier FROM changed
        UNION ALL
        SELECT p.part, NULL, NULL, NULL, ''
          FROM (VALUES ('queues'), ('campaigns'), ('moves'), ('values')) p (part)
         WHERE EXISTS (SELECT FROM changed c
                        WHERE CASE p.part WHEN 'queues' THEN c.branch
                                          WHEN 'values' THEN c.branch OR c.retiered
                                          ELSE c.branch OR c.rm END);
    END IF;
    RETURN NULL;
END
$function$;

-- The access-anomaly check after a logged read (compliance.anomalies): notes the read in
-- compliance_recentread and returns the active rules the user has now passed. One round
-- trip, its plans kept for the connection's life (migrations 0011, 0012).
CREATE OR REPLACE FUNCTION public.compliance_read_check(p_user bigint, p_customer bigint, p_action text, p_at timestamp with time zone, p_now timestamp with time zone, p_roles text[], p_tiers jsonb)
 RETURNS TABLE(passed_rule_id bigint, passed_count bigint)
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF p_customer IS NOT NULL THEN
        INSERT INTO compliance_recentread AS noted (user_id, customer_id, action, last_at, tier)
        VALUES (p_user, p_customer, p_action, p_at, COALESCE(
            (SELECT c.tier FROM customers_customer c WHERE c.id = p_customer), ''))
        ON CONFLICT (user_id, customer_id, action)
        DO UPDATE SET last_at = GREATEST(noted.last_at, EXCLUDED.last_at), tier = EXCLUDED.tier;
    END IF;
    -- Active rules for the reader's roles, less those with an open alert for them (not
    -- counted again); each rule's count; those above its threshold.
    RETURN QUERY
    SELECT counted.id, counted.n FROM (
        SELECT r.id, r.threshold, CASE
            WHEN r.measure = 'exported_rows' THEN (
                SELECT COALESCE(sum((log.detail ->> 'rows')::bigint), 0)::bigint
                FROM bankcrm_accesslog log
                WHERE log.actor_id = p_user AND log.action = 'export'
                  AND log.at >= p_now - make_interval(mins => r.window_minutes))
            WHEN r.measure = 'lookups' THEN (
                SELECT count(*)
                FROM bankcrm_accesslog log
                WHERE log.actor_id = p_user AND log.action = 'search'
                  AND log.at >= p_now - make_interval(mins => r.window_minutes))
            WHEN r.measure = 'refusals' THEN (
                SELECT count(*)
                FROM bankcrm_securityevent e
                WHERE e.user_id = p_user AND e.kind = 'access_refused'
                  AND e.at >= p_now - make_interval(mins => r.window_minutes))
            ELSE (
                SELECT count(DISTINCT rr.customer_id)
                FROM compliance_recentread rr
                WHERE rr.user_id = p_user
                  AND rr.last_at >= p_now - make_interval(mins => r.window_minutes)
                  AND (cardinality(r.actions) = 0 OR rr.action = ANY (r.actions::text[]))
                  AND (r.min_tier = '' OR rr.tier IN (
                      SELECT jsonb_array_elements_text(p_tiers -> r.min_tier))))
            END AS n
        FROM compliance_accessrule r
        WHERE r.is_active
          AND (cardinality(r.roles) = 0 OR r.roles::text[] && p_roles)
          AND NOT EXISTS (
              SELECT FROM compliance_accessalert a
              WHERE a.rule_id = r.id AND a.user_id = p_user AND a.status = 'open')
    ) counted
    WHERE counted.n > counted.threshold
    ORDER BY counted.id;
END
$function$;

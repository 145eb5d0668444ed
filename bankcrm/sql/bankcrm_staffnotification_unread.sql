-- Keeps bankcrm_user.unread_notifications equal to the user's unread StaffNotifications,
-- whatever writes them (bankcrm.services, admin, SQL), so the navigation bar's badge reads
-- the user row and needs no query. Statement triggers with transition tables: marking 500
-- messages read updates the user row once, not 500 times.
CREATE OR REPLACE FUNCTION public.bankcrm_staffnotification_unread()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE bankcrm_user u SET unread_notifications = u.unread_notifications + d.n
          FROM (SELECT recipient_id, count(*) AS n FROM new_rows
                 WHERE read_at IS NULL GROUP BY recipient_id) d
         WHERE u.id = d.recipient_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE bankcrm_user u SET unread_notifications = greatest(u.unread_notifications - d.n, 0)
          FROM (SELECT recipient_id, count(*) AS n FROM old_rows
                 WHERE read_at IS NULL GROUP BY recipient_id) d
         WHERE u.id = d.recipient_id;
    ELSE
        UPDATE bankcrm_user u SET unread_notifications = greatest(u.unread_notifications + d.n, 0)
          FROM (SELECT recipient_id, sum(delta) AS n FROM (
                    SELECT recipient_id, (read_at IS NULL)::int AS delta FROM new_rows
                    UNION ALL
                    SELECT recipient_id, -(read_at IS NULL)::int FROM old_rows) changed
                 GROUP BY recipient_id HAVING sum(delta) <> 0) d
         WHERE u.id = d.recipient_id;
    END IF;
    RETURN NULL;
END
$function$;

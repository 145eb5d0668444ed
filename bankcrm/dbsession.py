"""The database session's audit context, as settings the data-change triggers read
(compliance/audited.py). Kept free of models, so settings can name reset_pooled_session
for the connection pool."""

CONTEXT_SQL = (
    "SELECT set_config('bankcrm.actor_id', %s, false), set_config('bankcrm.actor_label', %s,"
    " false), set_config('bankcrm.ip', %s, false), set_config('bankcrm.request_id', %s, false)"
)


def reset_pooled_session(conn) -> None:
    """psycopg_pool's `reset`: a session going back to the pool forgets whose it was, so a
    context nobody cleared (a crashed request) cannot label the next user's writes."""
    conn.execute(CONTEXT_SQL, ["", "", "", ""])

"""Marketing joins the data-change trail (compliance/audited.py lists the tables): who
built which segment, wrote which message, approved and launched which campaign, changed
the prohibited phrases or the frequency cap. Deliveries, a million a campaign, are
recorded only when put back in the queue (an admin's "send again"), like the other
outboxes."""

import importlib

from django.db import migrations

_changes = importlib.import_module("compliance.migrations.0002_data_changes")
_trail = importlib.import_module("compliance.migrations.0013_one_trail")

# table, secret columns, ignored columns, the customer column
AUDITED = [
    ("marketing_segment", "", "last_count,counted_at,count_ms", ""),
    ("marketing_campaign", "", "", ""),
    ("marketing_campaignstep", "", "", ""),
    ("marketing_campaignmessage", "", "", ""),
    ("marketing_variant", "", "", ""),
    ("marketing_prohibitedphrase", "", "", ""),
    ("marketing_frequencycap", "", "", ""),
    ("marketing_journey", "", "", ""),
]
REQUEUE_AUDITED = [("marketing_delivery", "", "", "customer_id")]


class Migration(migrations.Migration):
    dependencies = [
        ("marketing", "0002_role_and_defaults"),
        ("compliance", "0013_one_trail"),
    ]

    operations = [
        *[
            migrations.RunSQL(
                _changes.audited_sql(table, *columns), f"DROP TRIGGER {table}_audit ON {table};"
            )
            for table, *columns in AUDITED
        ],
        *[
            migrations.RunSQL(
                _trail.requeue_sql(table, *columns), f"DROP TRIGGER {table}_audit ON {table};"
            )
            for table, *columns in REQUEUE_AUDITED
        ],
    ]

"""The sign-in events' table (bankcrm.SecurityEvent) made append-only and chained, and
more of what the data-change triggers record: users' own permissions and roles (groups).
A user's last_login is no longer recorded as a data change: the sign-in event says it."""

import importlib

from django.db import migrations

_links = importlib.import_module("compliance.migrations.0004_chain_at_commit")
_changes = importlib.import_module("compliance.migrations.0002_data_changes")

NEWLY_AUDITED = [
    ("bankcrm_user_user_permissions", "", "", ""),
    ("auth_group", "", "", ""),
]
USER_TRIGGER = "DROP TRIGGER bankcrm_user_audit ON bankcrm_user; " + _changes.audited_sql(
    "bankcrm_user", "password", "{ignored}", ""
)


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0004_chain_at_commit"),
        ("bankcrm", "0004_security_events"),
    ]

    operations = [
        migrations.RunSQL(
            _links.audit_table_sql("bankcrm_securityevent"),
            "DROP TRIGGER bankcrm_securityevent_chain ON bankcrm_securityevent;"
            " DROP TRIGGER bankcrm_securityevent_append_only ON bankcrm_securityevent;"
            " DROP TRIGGER bankcrm_securityevent_no_truncate ON bankcrm_securityevent;",
        ),
        *[
            migrations.RunSQL(
                _changes.audited_sql(table, *columns), f"DROP TRIGGER {table}_audit ON {table};"
            )
            for table, *columns in NEWLY_AUDITED
        ],
        migrations.RunSQL(
            USER_TRIGGER.format(ignored="last_login"), USER_TRIGGER.format(ignored="")
        ),
    ]

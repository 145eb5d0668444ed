"""The user's count of unread staff notifications (kept by a trigger, bankcrm 0009) is not a
data change of the user: the audit trigger of bankcrm_user ignores it, as it ignores
last_login."""

import importlib

from django.db import migrations

_changes = importlib.import_module("compliance.migrations.0002_data_changes")

USER_TRIGGER = "DROP TRIGGER bankcrm_user_audit ON bankcrm_user; " + _changes.audited_sql(
    "bankcrm_user", "password", "{ignored}", ""
)


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0015_marketing_manager_role"),
        ("bankcrm", "0009_staff_notifications"),
    ]

    operations = [
        migrations.RunSQL(
            USER_TRIGGER.format(ignored="last_login,unread_notifications"),
            USER_TRIGGER.format(ignored="last_login"),
        ),
    ]

"""Report definitions join the data-change trail (compliance/audited.py lists them): who
set up which report for which roles is a question an auditor asks."""

import importlib

from django.db import migrations

_changes = importlib.import_module("compliance.migrations.0002_data_changes")
TABLE = "analytics_reportdefinition"


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_kpi_snapshots_reports"),
        ("compliance", "0013_one_trail"),
    ]

    operations = [
        migrations.RunSQL(
            _changes.audited_sql(TABLE, "", "", ""), f"DROP TRIGGER {TABLE}_audit ON {TABLE};"
        )
    ]

"""Model governance and the value formulas' settings join the data-change trail
(compliance/audited.py lists them): who trained, who activated, who changed a threshold."""

import importlib

from django.db import migrations

_changes = importlib.import_module("compliance.migrations.0002_data_changes")

# table, secret columns, ignored columns, the customer column
AUDITED = [
    (
        "analytics_modelversion",
        "",
        "model_text,baseline,features,dropped,metrics,baseline_metrics,params,holdout,source_detail,label",
        "",
    ),
    ("analytics_tierthreshold", "", "", ""),
    ("analytics_productmargin", "", "", ""),
    ("analytics_valuepolicy", "", "", ""),
]


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0002_defaults"),
        ("compliance", "0013_one_trail"),
    ]

    operations = [
        migrations.RunSQL(
            _changes.audited_sql(table, *columns), f"DROP TRIGGER {table}_audit ON {table};"
        )
        for table, *columns in AUDITED
    ]

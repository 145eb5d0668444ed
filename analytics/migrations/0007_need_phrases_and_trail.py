"""The need phrases a bank starts from (editable in the admin), then the data-change trail
for them and for the follow-ups of negative satisfaction comments (compliance/audited.py
lists both). Seeded before the triggers exist: the seed is the migration's, not a person's."""

import importlib

from django.db import migrations

_changes = importlib.import_module("compliance.migrations.0002_data_changes")

PHRASES = [
    ("留学贷款", "loan"), ("助学贷款", "loan"), ("房贷", "loan"), ("房屋贷款", "loan"),
    ("按揭", "loan"), ("消费贷", "loan"), ("经营贷", "loan"), ("车贷", "loan"),
    ("养老理财", "wealth"), ("理财产品", "wealth"), ("个人养老金", "fund"), ("养老金", "fund"),
    ("基金定投", "fund"), ("教育金", "insurance"), ("年金险", "insurance"),
    ("重疾险", "insurance"), ("大额存单", "time_deposit"), ("定期存款", "time_deposit"),
    ("结构性存款", "structured_deposit"), ("外汇", "current_deposit"),
    ("购汇", "current_deposit"), ("结汇", "current_deposit"), ("信用卡分期", "credit_card"),
    ("账单分期", "credit_card"), ("信用卡", "credit_card"), ("国债", "bond"),
    ("黄金", "precious_metal"), ("贵金属", "precious_metal"),
    ("student loan", "loan"), ("mortgage", "loan"), ("pension", "fund"),
    ("retirement", "wealth"), ("education savings", "insurance"),
    ("certificate of deposit", "time_deposit"), ("time deposit", "time_deposit"),
    ("foreign exchange", "current_deposit"), ("credit card instalment", "credit_card"),
    ("instalment plan", "credit_card"), ("gold", "precious_metal"),
]  # fmt: skip
AUDITED = [
    ("analytics_needphrase", "", "", ""),
    ("analytics_feedbackfollowup", "", "", "customer_id"),
]


def seed(apps, schema_editor):
    NeedPhrase = apps.get_model("analytics", "NeedPhrase")
    for phrase, kind in PHRASES:
        NeedPhrase.objects.get_or_create(phrase=phrase, defaults={"product_kind": kind})


class Migration(migrations.Migration):
    dependencies = [("analytics", "0006_text")]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        *[
            migrations.RunSQL(
                _changes.audited_sql(table, *columns), f"DROP TRIGGER {table}_audit ON {table};"
            )
            for table, *columns in AUDITED
        ],
    ]

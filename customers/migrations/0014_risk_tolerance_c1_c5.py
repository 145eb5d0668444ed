"""Risk tolerance moves from four levels to the regulator's five, C1 保守型 … C5 激进型.

Mapping (docs/customers.md, "Risk tolerance"): each former level becomes the C-level that
allows no more than it did, so no customer may buy more after the migration than before:

    conservative -> C1    balanced -> C3    growth -> C4    aggressive -> C5

C2 (谨慎型) is new: nobody lands on it until they answer the questionnaire again. The former
value stays on each assessment (`legacy_level`), the latest assessment of each customer is
marked current, and questionnaire version 2 (the same questions, five bands, one answer that
puts the customer in the lowest category) replaces version 1 as the active one. Version 1 is
kept as it was: its bands still name the former levels, read through LEGACY_RISK_LEVELS.

The columns change type in SQL (CASE over the whole table in one UPDATE each), which is a
table rewrite: minutes at a million customers, inside the deployment's migration window.
"""

from django.db import migrations, models

LEGACY = {"conservative": 1, "balanced": 3, "growth": 4, "aggressive": 5}
_CASE = "CASE {col} " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in LEGACY.items()) + " END"

FORWARD_SQL = f"""
SELECT set_config('bankcrm.actor_label', 'migration:customers.0014', true);
UPDATE customers_customer SET risk_level_c = {_CASE.format(col="risk_level")}
 WHERE risk_level <> '';
UPDATE customers_riskprofile SET level_c = {_CASE.format(col="level")}, legacy_level = level;
UPDATE customers_riskprofile SET is_current = true
 WHERE id IN (SELECT DISTINCT ON (customer_id) id FROM customers_riskprofile
               ORDER BY customer_id, assessed_at DESC, id DESC);
"""  # noqa: S608 (constants only)
# Back: the four levels again (C2 becomes conservative: the safe side).
_BACK_CASE = (
    "CASE {col} WHEN 1 THEN 'conservative' WHEN 2 THEN 'conservative' WHEN 3 THEN 'balanced'"
    " WHEN 4 THEN 'growth' WHEN 5 THEN 'aggressive' ELSE '' END"
)
BACKWARD_SQL = f"""
UPDATE customers_customer SET risk_level = {_BACK_CASE.format(col="risk_level_c")};
UPDATE customers_riskprofile SET level = {_BACK_CASE.format(col="level_c")};
"""  # noqa: S608 (constants only)

QUESTIONS_V2_LOWEST = {"loss": 0}  # "不能亏损": cannot bear any loss of principal
# Minimum total score (5 questions scored 1-4: 5-20) for each tolerance, highest first.
BANDS_V2 = [[18, 5], [15, 4], [12, 3], [9, 2], [0, 1]]


def questionnaire_v2(apps, schema_editor):
    questionnaires = apps.get_model("customers", "RiskQuestionnaire")
    v1 = questionnaires.objects.filter(version=1).first()
    if v1 is None or questionnaires.objects.filter(version=2).exists():
        return
    questions = []
    for question in v1.questions:
        question = {**question, "options": [dict(o) for o in question["options"]]}
        lowest = QUESTIONS_V2_LOWEST.get(question["key"])
        if lowest is not None:
            question["options"][lowest]["lowest_category"] = True
        questions.append(question)
    active = v1.is_active
    questionnaires.objects.filter(pk=v1.pk).update(is_active=False)
    questionnaires.objects.create(
        version=2, questions=questions, bands=BANDS_V2, is_active=active, validity_days=None
    )


def questionnaire_v2_back(apps, schema_editor):
    questionnaires = apps.get_model("customers", "RiskQuestionnaire")
    v2 = questionnaires.objects.filter(version=2).first()
    if v2 is not None and not v2.riskprofile_set.exists():
        v2.delete()
        questionnaires.objects.filter(version=1).update(is_active=True)


TOLERANCE = [
    (1, "C1 conservative"),
    (2, "C2 cautious"),
    (3, "C3 steady"),
    (4, "C4 active"),
    (5, "C5 aggressive"),
]


class Migration(migrations.Migration):
    dependencies = [("customers", "0013_product_catalogue")]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="risk_level_c",
            field=models.PositiveSmallIntegerField(null=True, blank=True),
        ),
        migrations.AddField(
            model_name="riskprofile",
            name="level_c",
            field=models.PositiveSmallIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="riskprofile",
            name="legacy_level",
            field=models.CharField(blank=True, max_length=12, verbose_name="former risk level"),
        ),
        migrations.AddField(
            model_name="riskprofile",
            name="is_current",
            field=models.BooleanField(default=False, verbose_name="current"),
        ),
        migrations.AddField(
            model_name="riskprofile",
            name="lowest_category",
            field=models.BooleanField(default=False, verbose_name="lowest risk category"),
        ),
        migrations.RunSQL(FORWARD_SQL, BACKWARD_SQL),
        migrations.RemoveField(model_name="customer", name="risk_level"),
        migrations.RenameField(
            model_name="customer", old_name="risk_level_c", new_name="risk_level"
        ),
        migrations.AlterField(
            model_name="customer",
            name="risk_level",
            field=models.PositiveSmallIntegerField(
                blank=True, choices=TOLERANCE, null=True, verbose_name="risk tolerance"
            ),
        ),
        migrations.RemoveField(model_name="riskprofile", name="level"),
        migrations.RenameField(model_name="riskprofile", old_name="level_c", new_name="level"),
        migrations.AlterField(
            model_name="riskprofile",
            name="level",
            field=models.PositiveSmallIntegerField(
                choices=TOLERANCE, verbose_name="risk tolerance"
            ),
        ),
        migrations.AlterField(
            model_name="riskquestionnaire",
            name="validity_days",
            field=models.PositiveIntegerField(
                blank=True, null=True, verbose_name="valid for (days)"
            ),
        ),
        migrations.AddConstraint(
            model_name="riskprofile",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_current", True)),
                fields=("customer",),
                include=("level", "expires_on", "lowest_category"),
                name="risk_profile_one_current",
            ),
        ),
        migrations.AddConstraint(
            model_name="riskprofile",
            constraint=models.CheckConstraint(
                condition=models.Q(("level__gte", 1), ("level__lte", 5)),
                name="risk_profile_level_range",
            ),
        ),
        migrations.RunPython(questionnaire_v2, questionnaire_v2_back),
    ]

import importlib

import django.contrib.postgres.fields
import django.db.models.deletion
import django.db.models.functions.datetime
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from bankcrm.sqlfiles import RunSQLFile

_changes = importlib.import_module("compliance.migrations.0002_data_changes")

# Rule versions and checks are evidence: rows are added, never changed or removed
# (compliance/sql/compliance_suitability_append_only.sql).
APPEND_ONLY = ["compliance_suitabilityruleset", "compliance_suitabilitycheck"]

# Rule versions (who made which, when) and sales join the data-change trail
# (compliance/audited.py).
NEWLY_AUDITED = [
    ("compliance_suitabilityruleset", "", "", ""),
    ("compliance_sale", "", "", "customer_id"),
]


def append_only_sql(table: str) -> str:
    return (
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION compliance_suitability_append_only();"
    )


def seed_version_1(apps, schema_editor):
    """Version 1: the regulator's defaults (C1 → R1 … C5 → R5, 24 hours of cooling-off for
    private placements, special care from 65, wealth products a hard block, dual recording
    for wealth, fund and insurance products from R4), in force since before any sale."""
    from datetime import UTC, datetime

    from compliance.suitability_models import RULE_DEFAULTS

    ruleset = apps.get_model("compliance", "SuitabilityRuleSet")
    ruleset.objects.get_or_create(
        version=1,
        defaults={
            **RULE_DEFAULTS,
            "effective_from": datetime(2000, 1, 1, tzinfo=UTC),
            "note": "Regulatory defaults",
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("bankcrm", "0008_refusals_and_lookups"),
        ("compliance", "0017_risk_warnings"),
        ("customers", "0017_import_kind_products"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SuitabilityRuleSet",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("version", models.PositiveIntegerField(unique=True, verbose_name="version")),
                (
                    "matrix",
                    models.JSONField(
                        help_text='C-level to highest R-level, e.g. {"1": 1, "2": 2, "3": 3, "4": 4, "5": 5}.',
                        verbose_name="tolerance → highest product risk",
                    ),
                ),
                (
                    "cooling_off_hours",
                    models.PositiveIntegerField(
                        default=24, verbose_name="cooling-off for private placements (hours)"
                    ),
                ),
                (
                    "special_care_age",
                    models.PositiveSmallIntegerField(
                        default=65, verbose_name="special care from age"
                    ),
                ),
                (
                    "wealth_hard_block",
                    models.BooleanField(
                        default=True,
                        help_text="If set, a wealth product above the customer's tolerance cannot be sold even if the customer insists.",
                        verbose_name="wealth products above tolerance are a hard block",
                    ),
                ),
                (
                    "recording_min_risk",
                    models.PositiveSmallIntegerField(
                        default=4,
                        help_text="Products of the kinds below at or above this risk level (1–5; 6: never) need dual audio-video recording.",
                        verbose_name="dual recording from product risk",
                    ),
                ),
                (
                    "recording_kinds",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(
                            choices=[
                                ("current_deposit", "Current deposit"),
                                ("time_deposit", "Time deposit"),
                                ("structured_deposit", "Structured deposit"),
                                ("wealth", "Wealth management product"),
                                ("fund", "Fund"),
                                ("insurance", "Insurance"),
                                ("bond", "Bond"),
                                ("precious_metal", "Precious metal"),
                                ("loan", "Loan"),
                                ("credit_card", "Credit card"),
                            ],
                            max_length=20,
                        ),
                        blank=True,
                        default=list,
                        size=None,
                        verbose_name="dual recording for product types",
                    ),
                ),
                (
                    "effective_from",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="in force from"
                    ),
                ),
                (
                    "note",
                    models.CharField(blank=True, max_length=200, verbose_name="why this version"),
                ),
                (
                    "created_at",
                    models.DateTimeField(
                        db_default=django.db.models.functions.datetime.Now(), verbose_name="created"
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="created by",
                    ),
                ),
            ],
            options={
                "verbose_name": "suitability rule set",
                "verbose_name_plural": "suitability rule sets",
                "ordering": ["-version"],
            },
        ),
        migrations.CreateModel(
            name="SuitabilityCheck",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="when"),
                ),
                (
                    "purpose",
                    models.CharField(
                        choices=[
                            ("sale", "Sale"),
                            ("marketing", "Marketing"),
                            ("service", "Service"),
                        ],
                        max_length=10,
                        verbose_name="purpose",
                    ),
                ),
                ("allowed", models.BooleanField(verbose_name="allowed")),
                ("code", models.CharField(max_length=40, verbose_name="code")),
                ("reasons", models.JSONField(blank=True, default=list, verbose_name="reasons")),
                (
                    "requirements",
                    models.JSONField(blank=True, default=dict, verbose_name="requirements"),
                ),
                ("customers_checked", models.PositiveIntegerField(blank=True, null=True)),
                ("customers_allowed", models.PositiveIntegerField(blank=True, null=True)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="by",
                    ),
                ),
                (
                    "branch",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="bankcrm.branch",
                        verbose_name="branch",
                    ),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="customers.customer",
                        verbose_name="customer",
                    ),
                ),
                (
                    "product",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="customers.product",
                        verbose_name="product",
                    ),
                ),
                (
                    "ruleset",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="compliance.suitabilityruleset",
                        verbose_name="rules version",
                    ),
                ),
            ],
            options={
                "verbose_name": "suitability check",
                "verbose_name_plural": "suitability checks",
            },
        ),
        migrations.CreateModel(
            name="Sale",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "reference",
                    models.CharField(max_length=32, unique=True, verbose_name="sale reference"),
                ),
                (
                    "recorded_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, verbose_name="recorded at"
                    ),
                ),
                (
                    "amount",
                    models.DecimalField(decimal_places=2, max_digits=18, verbose_name="amount"),
                ),
                ("currency", models.CharField(max_length=3, verbose_name="currency")),
                (
                    "channel",
                    models.CharField(
                        choices=[
                            ("branch", "At the branch"),
                            ("visit", "Visit to the customer"),
                            ("video", "Remote video"),
                        ],
                        max_length=10,
                        verbose_name="channel",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("recorded", "Recorded"),
                            ("confirmed", "Confirmed by core banking"),
                        ],
                        default="recorded",
                        max_length=10,
                        verbose_name="status",
                    ),
                ),
                (
                    "questionnaire_version",
                    models.PositiveIntegerField(
                        blank=True, null=True, verbose_name="questionnaire version"
                    ),
                ),
                (
                    "customer_risk_level",
                    models.PositiveSmallIntegerField(
                        blank=True, null=True, verbose_name="risk tolerance"
                    ),
                ),
                (
                    "risk_score",
                    models.PositiveIntegerField(blank=True, null=True, verbose_name="score"),
                ),
                (
                    "lowest_category",
                    models.BooleanField(default=False, verbose_name="lowest risk category"),
                ),
                ("special_care", models.BooleanField(default=False, verbose_name="special care")),
                (
                    "product_risk_level",
                    models.PositiveSmallIntegerField(verbose_name="product risk"),
                ),
                ("warning_text", models.TextField(verbose_name="warning shown")),
                (
                    "confirmation_method",
                    models.CharField(
                        choices=[
                            ("signature", "Signature on paper"),
                            ("otp", "One-time password (SMS)"),
                        ],
                        max_length=10,
                        verbose_name="customer confirmed by",
                    ),
                ),
                (
                    "confirmation_ref",
                    models.CharField(max_length=64, verbose_name="confirmation reference"),
                ),
                (
                    "mismatch_confirmed",
                    models.BooleanField(
                        default=False, verbose_name="customer insisted on a product above tolerance"
                    ),
                ),
                (
                    "recording_required",
                    models.BooleanField(default=False, verbose_name="dual recording required"),
                ),
                (
                    "recording_ref",
                    models.CharField(blank=True, max_length=64, verbose_name="recording reference"),
                ),
                (
                    "recording_sha256",
                    models.CharField(blank=True, max_length=64, verbose_name="recording SHA-256"),
                ),
                (
                    "cooling_off_ends",
                    models.DateTimeField(blank=True, null=True, verbose_name="cooling-off ends"),
                ),
                (
                    "confirmed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="confirmed at"),
                ),
                (
                    "confirmation_event",
                    models.CharField(blank=True, max_length=100, verbose_name="confirmed by event"),
                ),
                (
                    "branch",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="bankcrm.branch",
                        verbose_name="branch",
                    ),
                ),
                (
                    "customer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="customers.customer",
                        verbose_name="customer",
                    ),
                ),
                (
                    "holding",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="customers.account",
                        verbose_name="holding",
                    ),
                ),
                (
                    "product",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="customers.product",
                        verbose_name="product",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="recorded by",
                    ),
                ),
                (
                    "risk_profile",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="customers.riskprofile",
                        verbose_name="risk assessment",
                    ),
                ),
                (
                    "suitability_check",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="sale",
                        to="compliance.suitabilitycheck",
                        verbose_name="suitability check",
                    ),
                ),
            ],
            options={
                "verbose_name": "sale",
                "verbose_name_plural": "sales",
                "indexes": [
                    models.Index(fields=["customer", "-recorded_at"], name="sale_customer_idx")
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("amount__gt", 0)), name="sale_amount_positive"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("recording_sha256", ""),
                            ("recording_sha256__regex", "^[0-9a-f]{64}$"),
                            _connector="OR",
                        ),
                        name="sale_recording_sha256",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("recording_required", False),
                            models.Q(
                                models.Q(("recording_ref", ""), _negated=True),
                                models.Q(("recording_sha256", ""), _negated=True),
                            ),
                            _connector="OR",
                        ),
                        name="sale_recording_when_required",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("confirmation_ref", ""), _negated=True),
                        name="sale_confirmation",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("confirmed_at__isnull", True),
                                ("holding__isnull", True),
                                ("status", "recorded"),
                            ),
                            models.Q(
                                ("confirmed_at__isnull", False),
                                ("holding__isnull", False),
                                ("status", "confirmed"),
                            ),
                            _connector="OR",
                        ),
                        name="sale_confirmed_has_holding",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("holding__isnull", False)),
                        fields=("holding",),
                        name="sale_one_per_holding",
                    ),
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="suitabilityruleset",
            constraint=models.CheckConstraint(
                condition=models.Q(("version__gte", 1)), name="ruleset_version"
            ),
        ),
        migrations.AddConstraint(
            model_name="suitabilityruleset",
            constraint=models.CheckConstraint(
                condition=models.Q(("matrix__has_keys", ["1", "2", "3", "4", "5"])),
                name="ruleset_matrix_levels",
            ),
        ),
        migrations.AddConstraint(
            model_name="suitabilityruleset",
            constraint=models.CheckConstraint(
                condition=models.Q(("special_care_age__gte", 50), ("special_care_age__lte", 100)),
                name="ruleset_special_care_age",
            ),
        ),
        migrations.AddConstraint(
            model_name="suitabilityruleset",
            constraint=models.CheckConstraint(
                condition=models.Q(("recording_min_risk__gte", 1), ("recording_min_risk__lte", 6)),
                name="ruleset_recording_min_risk",
            ),
        ),
        migrations.AddIndex(
            model_name="suitabilitycheck",
            index=models.Index(fields=["-at", "-id"], name="suitcheck_recent_idx"),
        ),
        migrations.AddIndex(
            model_name="suitabilitycheck",
            index=models.Index(fields=["product", "-at"], name="suitcheck_product_idx"),
        ),
        migrations.AddIndex(
            model_name="suitabilitycheck",
            index=models.Index(fields=["branch", "-at"], name="suitcheck_branch_idx"),
        ),
        migrations.AddIndex(
            model_name="suitabilitycheck",
            index=models.Index(fields=["actor", "-at"], name="suitcheck_actor_idx"),
        ),
        migrations.AddIndex(
            model_name="suitabilitycheck",
            index=models.Index(fields=["customer", "-at"], name="suitcheck_customer_idx"),
        ),
        migrations.AddConstraint(
            model_name="suitabilitycheck",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("customer__isnull", False),
                    ("customers_checked__isnull", False),
                    _connector="OR",
                ),
                name="suitabilitycheck_customer_or_run",
            ),
        ),
        RunSQLFile("compliance", "compliance_suitability_append_only", sha256="11a8ab806da5ad42"),
        *[
            migrations.RunSQL(
                append_only_sql(table), f"DROP TRIGGER {table}_append_only ON {table};"
            )
            for table in APPEND_ONLY
        ],
        # Seeded before its table joins the trail: a new database's trail starts empty.
        migrations.RunPython(seed_version_1, migrations.RunPython.noop),
        *[
            migrations.RunSQL(
                _changes.audited_sql(table, *columns), f"DROP TRIGGER {table}_audit ON {table};"
            )
            for table, *columns in NEWLY_AUDITED
        ],
    ]

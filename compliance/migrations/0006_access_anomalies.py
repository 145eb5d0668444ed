"""Access-anomaly rules (kept in admin) and the alerts they raise; changes to both, reviews
included, are recorded by the data-change triggers."""

import importlib

import django.contrib.postgres.fields
import django.db.models.deletion
import django.db.models.functions.datetime
from django.conf import settings
from django.db import migrations, models

_changes = importlib.import_module("compliance.migrations.0002_data_changes")

NEWLY_AUDITED = [
    ("compliance_accessrule", "", "", ""),
    ("compliance_accessalert", "", "", ""),
]


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0005_security_events"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AccessRule",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, unique=True, verbose_name="name")),
                ("is_active", models.BooleanField(default=True, verbose_name="active")),
                (
                    "measure",
                    models.CharField(
                        choices=[
                            ("customers", "Distinct customers read"),
                            ("exported_rows", "Rows exported"),
                        ],
                        default="customers",
                        max_length=20,
                        verbose_name="what is counted",
                    ),
                ),
                (
                    "actions",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(
                            choices=[
                                ("view", "Viewed customer"),
                                ("reveal", "Revealed identifier"),
                                ("export", "Exported"),
                                ("search", "Searched by identifier"),
                            ],
                            max_length=10,
                        ),
                        blank=True,
                        default=list,
                        help_text="Views, reveals, searches… (distinct customers only; empty: all kinds).",
                        size=None,
                        verbose_name="reads counted",
                    ),
                ),
                (
                    "min_tier",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("", "any tier"),
                            ("affluent", "affluent or private banking"),
                            ("private", "private banking"),
                        ],
                        help_text="High-value customers only (distinct customers only).",
                        max_length=12,
                        verbose_name="only customers of tier",
                    ),
                ),
                (
                    "threshold",
                    models.PositiveIntegerField(
                        help_text="An alert is raised when the count goes above this.",
                        verbose_name="allowed",
                    ),
                ),
                ("window_minutes", models.PositiveIntegerField(verbose_name="within (minutes)")),
                (
                    "roles",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(
                            choices=[
                                ("relationship_manager", "Relationship manager"),
                                ("branch_manager", "Branch manager"),
                                ("service_agent", "Service agent"),
                                ("service_supervisor", "Service supervisor"),
                                ("compliance_officer", "Compliance officer"),
                                ("admin", "Administrator"),
                            ],
                            max_length=30,
                        ),
                        blank=True,
                        default=list,
                        help_text="Empty: every role.",
                        size=None,
                        verbose_name="applies to roles",
                    ),
                ),
                (
                    "freeze_account",
                    models.BooleanField(
                        default=False,
                        help_text="Freeze the account and end its sessions when the alert is raised.",
                        verbose_name="freeze the account",
                    ),
                ),
            ],
            options={
                "verbose_name": "access anomaly rule",
                "verbose_name_plural": "access anomaly rules",
                "ordering": ["name"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("threshold__gt", 0)), name="accessrule_threshold"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("window_minutes__gte", 1), ("window_minutes__lte", 10080)
                        ),
                        name="accessrule_window",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("measure", "customers"),
                            models.Q(("actions", []), ("min_tier", "")),
                            _connector="OR",
                        ),
                        name="accessrule_customer_filters",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="AccessAlert",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("open", "Open"),
                            ("dismissed", "Legitimate"),
                            ("confirmed", "Misuse confirmed"),
                        ],
                        default="open",
                        max_length=10,
                        verbose_name="status",
                    ),
                ),
                (
                    "raised_at",
                    models.DateTimeField(
                        db_default=django.db.models.functions.datetime.Now(),
                        verbose_name="raised at",
                    ),
                ),
                ("window_start", models.DateTimeField(verbose_name="window from")),
                ("count", models.PositiveIntegerField(verbose_name="count")),
                ("threshold", models.PositiveIntegerField(verbose_name="allowed")),
                (
                    "froze_account",
                    models.BooleanField(default=False, verbose_name="froze the account"),
                ),
                (
                    "reviewed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="reviewed at"),
                ),
                ("review_note", models.TextField(blank=True, verbose_name="review")),
                (
                    "reviewed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="reviewed by",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
                (
                    "rule",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="alerts",
                        to="compliance.accessrule",
                        verbose_name="rule",
                    ),
                ),
            ],
            options={
                "verbose_name": "access alert",
                "verbose_name_plural": "access alerts",
                "indexes": [
                    models.Index(
                        condition=models.Q(("status", "open")),
                        fields=["-raised_at"],
                        name="accessalert_open_idx",
                    ),
                    models.Index(fields=["user", "-raised_at"], name="accessalert_user_idx"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("status", "open")),
                        fields=("rule", "user"),
                        name="accessalert_one_open",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("reviewed_at__isnull", True), ("status", "open")),
                            models.Q(
                                models.Q(("status", "open"), _negated=True),
                                ("reviewed_at__isnull", False),
                                ("reviewed_by__isnull", False),
                            ),
                            _connector="OR",
                        ),
                        name="accessalert_reviewed",
                    ),
                ],
            },
        ),
        *[
            migrations.RunSQL(
                _changes.audited_sql(table, *columns), f"DROP TRIGGER {table}_audit ON {table};"
            )
            for table, *columns in NEWLY_AUDITED
        ],
    ]

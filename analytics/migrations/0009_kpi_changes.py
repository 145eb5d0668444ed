"""Today's KPI snapshot follows the changes (issue 21): a queue of changes (KpiChange)
written by statement-level triggers on what the snapshot is made of, which the hourly run
takes and recomputes only what they touch (analytics/kpi.py)."""

from django.db import migrations, models

from bankcrm.sqlfiles import RunSQLFile

# Customers: their branch, RM, tier, lifecycle and creation (analytics_kpi_customer_changed).
CUSTOMER = "customers_customer"

# Accounts and transactions: the customers whose rows they are, when these columns change.
BOOK = [
    (
        "customers_account",
        ["customer_id", "kind", "currency", "balance", "status", "overdue_days", "opened_on"],
    ),
    ("customers_transaction", ["customer_id", "account_id", "booked_at", "amount", "direction"]),
]

# Parts redone whole: the table, the part, the columns whose update counts (any if none).
WHOLE = [
    ("service_ticket", "queues",
     ["queue_id", "customer_id", "created_at", "resolved_at", "closed_at", "resolve_due_at"]),
    ("service_survey", "queues", ["ticket_id", "score", "answered_at"]),
    ("service_queue", "queues", ["name"]),
    ("marketing_delivery", "campaigns",
     ["campaign_id", "step_id", "customer_id", "channel", "status", "sent_at", "converted_at"]),
    ("marketing_campaign", "campaigns", ["name", "revenue_per_conversion"]),
    ("marketing_campaignstep", "campaigns", ["cost_per_message"]),
    ("analytics_customervalue", "values", []),
    ("analytics_valuepolicy", "values", []),
    ("analytics_tierthreshold", "values", []),
]  # fmt: skip


def _args(*words: str) -> str:
    return ", ".join(f"'{word}'" for word in words)


def _with_rows(table: str, function: str, args: str) -> list[str]:
    """One trigger per event: transition tables allow no more."""
    return [
        f"CREATE TRIGGER {table}_kpi_insert AFTER INSERT ON {table}"
        f" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
        f" EXECUTE FUNCTION {function}({args})",
        f"CREATE TRIGGER {table}_kpi_update AFTER UPDATE ON {table}"
        f" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
        f" EXECUTE FUNCTION {function}({args})",
        f"CREATE TRIGGER {table}_kpi_delete AFTER DELETE ON {table}"
        f" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
        f" EXECUTE FUNCTION {function}({args})",
    ]


def _whole(table: str, part: str, columns: list[str]) -> list[str]:
    if not columns:
        return [
            f"CREATE TRIGGER {table}_kpi AFTER INSERT OR UPDATE OR DELETE ON {table}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION analytics_kpi_changed({_args(part)})"
        ]
    return [
        # A row added or removed counts without looking (no transition table to fill on a
        # campaign's half-million deliveries); an update only if a listed column moved.
        f"CREATE TRIGGER {table}_kpi AFTER INSERT OR DELETE ON {table}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION analytics_kpi_changed({_args(part)})",
        f"CREATE TRIGGER {table}_kpi_update AFTER UPDATE ON {table}"
        f" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
        f" EXECUTE FUNCTION analytics_kpi_changed({_args(part, *columns)})",
    ]


TRIGGERS = [
    *_with_rows(CUSTOMER, "analytics_kpi_customer_changed", ""),
    *(sql for table, columns in BOOK for sql in _with_rows(
        table, "analytics_kpi_changed", _args("book", *columns))),
    *(sql for table, part, columns in WHOLE for sql in _whole(table, part, columns)),
]  # fmt: skip


def _drop(sql: str) -> str:
    name, table = sql.split()[2], sql.split(" ON ")[1].split()[0]
    return f"DROP TRIGGER {name} ON {table}"


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0008_kpi_watch_list"),
        ("customers", "0017_import_kind_products"),
        ("service", "0006_urgency_by_priority"),
        ("marketing", "0006_journey_renewal_product_interest"),
    ]

    operations = [
        migrations.CreateModel(
            name="KpiChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "part",
                    models.CharField(
                        choices=[
                            ("book", "Balances and customers"),
                            ("queues", "Service"),
                            ("campaigns", "Campaigns"),
                            ("moves", "Tier moves"),
                            ("values", "Tier moves and watch lists"),
                        ],
                        max_length=10,
                        verbose_name="part",
                    ),
                ),
                (
                    "customer_id",
                    models.BigIntegerField(blank=True, null=True, verbose_name="customer"),
                ),
                (
                    "branch_id",
                    models.BigIntegerField(blank=True, null=True, verbose_name="branch before"),
                ),
                (
                    "rm_id",
                    models.BigIntegerField(
                        blank=True, null=True, verbose_name="relationship manager before"
                    ),
                ),
                (
                    "tier",
                    models.CharField(
                        blank=True, db_default="", max_length=12, verbose_name="tier before"
                    ),
                ),
            ],
            options={
                "verbose_name": "KPI change",
                "verbose_name_plural": "KPI changes",
            },
        ),
        migrations.AddField(
            model_name="kpirun",
            name="changes",
            field=models.PositiveIntegerField(
                db_default=0, default=0, verbose_name="changes applied"
            ),
        ),
        migrations.AddField(
            model_name="kpirun",
            name="mode",
            field=models.CharField(
                choices=[("full", "Rebuilt"), ("changes", "Changes applied")],
                db_default="full",
                default="full",
                max_length=8,
                verbose_name="last run",
            ),
        ),
        migrations.AddField(
            model_name="kpirun",
            name="tracked",
            field=models.BooleanField(
                db_default=False, default=False, verbose_name="follows the changes"
            ),
        ),
        RunSQLFile(
            "analytics",
            "analytics_kpi_changed",
            sha256="5d47a03ce8696625",
            reverse_sql="DROP FUNCTION analytics_kpi_changed()",
        ),
        RunSQLFile(
            "analytics",
            "analytics_kpi_customer_changed",
            sha256="215fdec6c648a88d",
            reverse_sql="DROP FUNCTION analytics_kpi_customer_changed()",
        ),
        *(migrations.RunSQL(sql, _drop(sql)) for sql in TRIGGERS),
    ]

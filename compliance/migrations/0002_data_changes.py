"""Data changes recorded by the database itself, so that no path escapes: forms, admin,
imports, queryset.update(), bulk loads and raw SQL alike. An AFTER trigger on each audited
table writes one DataChange row per changed row with the changed columns (old, new),
identifier columns only as their masked copies, and who wrote it from the connection's
audit context (bankcrm.audit.set_audit_context: the user, IP and request id of a web
request, or `task:…` / `import:…`). DataChange rows are chained and append-only like the
other audit tables (migration 0001)."""

import importlib

import django.db.models.functions.datetime
from django.db import migrations, models

_chain = importlib.import_module("compliance.migrations.0001_tamper_evident_audit")

# table, secret columns (ciphertexts, blind indexes, the password hash: "***" when they
# change; their masked copies are recorded), ignored columns (derived or mirrored figures),
# the column naming the customer.
AUDITED = [
    ("customers_customer",
     "national_id,national_id_index,mobile,mobile_index,email,address", "", "id"),
    ("customers_account", "number,number_index", "balance,balance_as_of,balance_sequence",
     "customer_id"),
    ("customers_consent", "", "", "customer_id"),
    ("customers_customerdelegation", "", "", "content_object_id"),
    ("service_ticket", "", "due_at,sla_check_at,response_warn_at,resolve_warn_at",
     "customer_id"),
    ("bankcrm_user", "password", "", ""),
    ("bankcrm_user_groups", "", "", ""),
    ("auth_group_permissions", "", "", ""),
]  # fmt: skip

RECORD_FUNCTION = r"""
CREATE OR REPLACE FUNCTION compliance_record_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_j jsonb := CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END;
    new_j jsonb := CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END;
    row_j jsonb := COALESCE(new_j, old_j);
    secret text[] := string_to_array(TG_ARGV[0], ',');
    ignored text[] := string_to_array(TG_ARGV[1], ',');
    diff jsonb := '{}';
    k text;
BEGIN
    FOR k IN SELECT jsonb_object_keys(row_j) LOOP
        CONTINUE WHEN k = ANY (ignored) OR (old_j -> k) IS NOT DISTINCT FROM (new_j -> k);
        IF k = ANY (secret) THEN
            diff := diff || jsonb_build_object(k, jsonb_build_array('***', '***'));
        ELSE
            diff := diff || jsonb_build_object(k, jsonb_build_array(old_j -> k, new_j -> k));
        END IF;
    END LOOP;
    IF TG_OP = 'UPDATE' AND diff = '{}'::jsonb THEN
        RETURN NULL;  -- nothing audited changed (e.g. only a mirrored balance)
    END IF;
    INSERT INTO compliance_datachange (at, table_name, row_pk, op, changes, customer_id,
        actor_id, actor_label, ip_address, request_id)
    VALUES (now(), TG_TABLE_NAME, row_j ->> 'id', left(TG_OP, 1), diff,
        CASE WHEN TG_ARGV[2] <> '' THEN (row_j ->> TG_ARGV[2])::bigint END,
        NULLIF(current_setting('bankcrm.actor_id', true), '')::bigint,
        COALESCE(current_setting('bankcrm.actor_label', true), ''),
        NULLIF(current_setting('bankcrm.ip', true), '')::inet,
        COALESCE(current_setting('bankcrm.request_id', true), ''));
    RETURN NULL;
END
$$;
"""


def chain_sql(table: str) -> str:
    return _chain.table_sql(table)


def reverse_chain_sql(table: str) -> str:
    return _chain.reverse_table_sql(table)


def audited_sql(table: str, secret: str, ignored: str, customer_column: str) -> str:
    return (
        f"CREATE TRIGGER {table}_audit AFTER INSERT OR UPDATE OR DELETE ON {table}"
        " FOR EACH ROW EXECUTE FUNCTION"
        f" compliance_record_change('{secret}', '{ignored}', '{customer_column}');"
    )


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("compliance", "0001_tamper_evident_audit"),
        ("customers", "0010_outbound"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("service", "0004_urgency_indexes"),
        ("bankcrm", "0003_access_log"),
    ]

    operations = [
        migrations.CreateModel(
            name="DataChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "at",
                    models.DateTimeField(
                        db_default=django.db.models.functions.datetime.Now(), verbose_name="when"
                    ),
                ),
                ("table_name", models.CharField(max_length=63, verbose_name="table")),
                ("row_pk", models.CharField(max_length=40, verbose_name="row")),
                (
                    "op",
                    models.CharField(
                        choices=[("I", "Created"), ("U", "Changed"), ("D", "Deleted")],
                        max_length=1,
                        verbose_name="operation",
                    ),
                ),
                ("changes", models.JSONField(verbose_name="changes")),
                (
                    "customer_id",
                    models.BigIntegerField(blank=True, null=True, verbose_name="customer id"),
                ),
                ("actor_id", models.BigIntegerField(blank=True, null=True, verbose_name="user id")),
                ("actor_label", models.CharField(blank=True, max_length=100, verbose_name="by")),
                (
                    "ip_address",
                    models.GenericIPAddressField(blank=True, null=True, verbose_name="IP address"),
                ),
                (
                    "request_id",
                    models.CharField(blank=True, max_length=64, verbose_name="request id"),
                ),
            ],
            options={
                "verbose_name": "data change",
                "verbose_name_plural": "data changes",
                "indexes": [
                    models.Index(fields=["customer_id", "-at"], name="datachange_customer_idx"),
                    models.Index(fields=["actor_id", "-at"], name="datachange_actor_idx"),
                    models.Index(fields=["table_name", "-at"], name="datachange_table_idx"),
                ],
            },
        ),
        migrations.RunSQL(RECORD_FUNCTION, "DROP FUNCTION compliance_record_change();"),
        migrations.RunSQL(
            chain_sql("compliance_datachange"), reverse_chain_sql("compliance_datachange")
        ),
        *[
            migrations.RunSQL(
                audited_sql(table, *columns), f"DROP TRIGGER {table}_audit ON {table};"
            )
            for table, *columns in AUDITED
        ],
    ]

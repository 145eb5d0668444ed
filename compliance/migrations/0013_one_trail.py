"""One audit trail for data changes (issue 17).

- The PL/pgSQL functions move to files, compliance/sql/<function>.sql, installed from
  there (bankcrm/sqlfiles.py); their bodies are those of the migrations that last replaced
  them, except compliance_record_change's: an update's difference is now one statement,
  not a loop of jsonb concatenations (bench/data_changes.py).
- The data-change trigger covers what django-auditlog alone recorded until now: branches,
  the rest of a customer's data (interactions, households, relationships, external ids,
  risk assessments and the questionnaire), imports, integration sources and subscribers
  (secrets never copied), the service desk's configuration, and the queues' requeues
  (inbox replays, outbound and notification "send again": only the row put back in the
  queue, the workers' own changes are not). compliance/audited.py lists every audited
  table; this migration is the history of the ones it adds.
"""

import importlib

from django.db import migrations

from bankcrm.sqlfiles import RunSQLFile

_changes = importlib.import_module("compliance.migrations.0002_data_changes")

# table, secret columns, ignored columns, the customer column (as of this migration).
NEWLY_AUDITED = [
    ("bankcrm_branch", "", "", ""),
    ("customers_interaction", "", "", "customer_id"),
    ("customers_household", "", "", ""),
    ("customers_relationship", "", "", "customer_id"),
    ("customers_externalidentity", "", "last_sequence", "customer_id"),
    ("customers_riskquestionnaire", "", "", ""),
    ("customers_riskprofile", "", "", "customer_id"),
    ("customers_importbatch", "content",
     "heartbeat_at,attempts,processed_rows,valid_rows,error_rows,created_count,updated_count,"
     "unchanged_count,skipped_count,errors,preview", ""),
    ("customers_integrationsource", "secret,previous_secret", "contiguous_sequence", ""),
    ("customers_subscriber", "secret", "", ""),
    ("service_queue", "", "", ""),
    ("service_queue_members", "", "", ""),
    ("service_slapolicy", "", "", ""),
    ("service_routingrule", "", "", ""),
    ("service_businesscalendar", "", "", ""),
    ("service_calendarhours", "", "", ""),
    ("service_calendarexception", "", "", ""),
    ("service_macro", "", "", ""),
    ("service_knowledgearticle", "", "", ""),
]  # fmt: skip

# Queues written by workers all the time: only a row put back in the queue is recorded.
REQUEUE_AUDITED = [
    ("customers_inboxevent", "", "payload,body_digest", ""),
    ("customers_outbounddelivery", "", "", ""),
    ("service_notification", "", "subject,body", "customer_id"),
]


def requeue_sql(table: str, secret: str, ignored: str, customer_column: str) -> str:
    return (
        f"CREATE TRIGGER {table}_audit AFTER UPDATE ON {table} FOR EACH ROW"
        " WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status = 'pending')"
        " EXECUTE FUNCTION"
        f" compliance_record_change('{secret}', '{ignored}', '{customer_column}');"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0012_lookup_and_refusal_rules"),
        ("bankcrm", "0008_refusals_and_lookups"),
        ("customers", "0011_import_language_attempts"),
        ("service", "0006_urgency_by_priority"),
    ]

    operations = [
        # Going back restores 0002's body; the others are unchanged by the move.
        RunSQLFile(
            "compliance", "compliance_record_change", sha256="4fcc4629944de81d",
            reverse_sql=_changes.RECORD_FUNCTION,
        ),
        RunSQLFile("compliance", "compliance_canonical", sha256="0d1039857bcc11bf"),
        RunSQLFile("compliance", "compliance_refuse_change", sha256="b9945df84040a1d0"),
        RunSQLFile("compliance", "compliance_chain_link", sha256="fe0a54e1439477d4"),
        RunSQLFile("compliance", "compliance_read_check", sha256="0751b814b4f707a2"),
        *[
            migrations.RunSQL(
                _changes.audited_sql(table, *columns), f"DROP TRIGGER {table}_audit ON {table};"
            )
            for table, *columns in NEWLY_AUDITED
        ],
        *[
            migrations.RunSQL(
                requeue_sql(table, *columns), f"DROP TRIGGER {table}_audit ON {table};"
            )
            for table, *columns in REQUEUE_AUDITED
        ],
    ]  # fmt: skip

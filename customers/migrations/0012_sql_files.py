"""The app's PL/pgSQL functions move to files, customers/sql/<function>.sql, installed
from there (bankcrm/sqlfiles.py). Their bodies are unchanged: those of migrations 0003
(the consent history's append-only trigger) and 0010 (outbound events)."""

from django.db import migrations

from bankcrm.sqlfiles import RunSQLFile


class Migration(migrations.Migration):
    dependencies = [("customers", "0011_import_language_attempts")]

    operations = [
        RunSQLFile("customers", "customers_consent_append_only", sha256="143a0d47e9c3f453"),
        RunSQLFile("customers", "customers_outbound_customer", sha256="38b6a185b530945d"),
        RunSQLFile("customers", "customers_outbound_publish", sha256="e0053b6ef7dfd6a5"),
        RunSQLFile("customers", "customers_customer_tier_outbound", sha256="fb92afb128f48938"),
        RunSQLFile("customers", "customers_consent_withdrawn_outbound", sha256="b7ebfaf8a77975e6"),
    ]

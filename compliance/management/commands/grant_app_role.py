"""Give the role the application runs as what it needs, and no way to rewrite the audit
trail: migrations run as the tables' owner; the web, worker and beat processes connect as
this role, which may read and write the project's tables but only read and append to the
audit tables. Unlike the owner, it cannot grant itself those rights back, switch the
triggers off or drop them. Run it again after every migrate (new tables need grants)."""

import re

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from compliance.chain import TABLES

# Append-only by trigger and by privilege: the audit tables, their chain links, and the
# consent history (customers migration 0003).
APPEND_ONLY = (*TABLES, "compliance_chainlink", "customers_consent")


class Command(BaseCommand):
    help = "Grant the application's database role its rights, audit tables append-only."

    def add_arguments(self, parser):
        parser.add_argument("role", help="an existing PostgreSQL role, e.g. bankcrm_app")

    def handle(self, *args, role: str, **options):
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
            raise CommandError("give a plain role name (lower case letters, digits, _)")
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
            found = cursor.fetchone()
            if found is None:
                raise CommandError(f"no role {role}: CREATE ROLE {role} LOGIN PASSWORD '…' first")
            if found[0]:
                raise CommandError(f"{role} is a superuser: it could rewrite anything")
            cursor.execute("SELECT current_schema()")
            (schema,) = cursor.fetchone()
            # Names checked above and the schema's own: not input to quote.
            statements = [
                f'GRANT USAGE ON SCHEMA "{schema}" TO {role}',
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES"
                f' IN SCHEMA "{schema}" TO {role}',
                f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role}',
                *(f"REVOKE UPDATE, DELETE, TRUNCATE ON {t} FROM {role}" for t in APPEND_ONLY),
            ]
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(
            f"{role}: may read and write the tables of schema {schema}; "
            f"{', '.join(APPEND_ONLY)} only read and appended to."
        )

"""Functions written in PL/pgSQL (or SQL) live in files, one per function:
`<app>/sql/<function name>.sql`, a few comment lines saying why, then the definition as
PostgreSQL prints it (`pg_get_functiondef`). The file is where a reader finds a function's
current body; no migration has to be searched for the last one that replaced it.

A migration installs a file with `RunSQLFile(app, name, sha256=…)`. The digest names the
version the migration was written for: a test (tests/bankcrm/test_sql_files.py) holds, for
every file, that the newest migration running it pins its current digest, and that the
function in the test database is the file's, word for word. Changing a file therefore
takes a new migration that runs it again; without one, the test fails.

An older migration runs the file as it is now, not as it was: PL/pgSQL bodies are checked
when they run, not when they are created, so that is harmless as long as a file keeps its
function's name and signature. A new signature, or an SQL-language function that needs
a newer table, is a new file (and the old function dropped by the migration)."""

import hashlib
import importlib
from pathlib import Path

from django.db import migrations

COMMENT = "--"


def path(app: str, name: str) -> Path:
    return Path(importlib.import_module(app).__file__).parent / "sql" / f"{name}.sql"


def read(app: str, name: str) -> str:
    return path(app, name).read_text(encoding="utf-8")


def definition(text: str) -> str:
    """The CREATE statement of a file, without its leading comments and final semicolon:
    what pg_get_functiondef gives back for the installed function."""
    lines = text.splitlines()
    while lines and (not lines[0].strip() or lines[0].startswith(COMMENT)):
        lines.pop(0)
    return "\n".join(lines).strip().removesuffix(";").rstrip()


def digest(app: str, name: str) -> str:
    return hashlib.sha256(definition(read(app, name)).encode()).hexdigest()[:16]


class RunSQLFile(migrations.RunSQL):
    """Runs `<app>/sql/<name>.sql` (a CREATE OR REPLACE FUNCTION). `sha256` is the first 16
    hex digits of the definition's digest when the migration was written (`digest()`);
    `reverse_sql` restores what was there before, if anything was."""

    def __init__(self, app: str, name: str, *, sha256: str, reverse_sql=migrations.RunSQL.noop):
        self.app, self.name, self.sha256 = app, name, sha256
        super().__init__(definition(read(app, name)), reverse_sql)

    def describe(self) -> str:
        return f"Install {self.app}/sql/{self.name}.sql"

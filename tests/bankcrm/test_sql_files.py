"""The database's functions are the files' (`<app>/sql/*.sql`, bankcrm/sqlfiles.py): the
test database, built by the migrations, holds each file's function word for word, holds
no function without a file, and the newest migration running each file pins its current
digest, so a file changed without a migration that installs it again fails here."""

from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from bankcrm import sqlfiles

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("bankcrm", "customers", "service", "compliance", "analytics")


def sql_files() -> list[tuple[str, str]]:
    found = []
    for app in PROJECT_APPS:
        folder = Path(apps.get_app_config(app).path) / "sql"
        found += [(app, path.stem) for path in sorted(folder.glob("*.sql"))]
    return found


def installed() -> dict[str, str]:
    """Every function of the public schema that no extension brought, by name."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
            " AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
        )
        return {name: definition.strip() for name, definition in cursor.fetchall()}


def test_each_function_in_the_database_is_its_file_word_for_word():
    functions = installed()
    assert sql_files(), "no SQL files found"
    for app, name in sql_files():
        assert name.startswith(f"{app}_"), f"{app}/sql/{name}.sql: name it after its app"
        assert name in functions, f"{app}/sql/{name}.sql is installed by no migration"
        assert functions[name] == sqlfiles.definition(sqlfiles.read(app, name)), (
            f"{app}/sql/{name}.sql differs from the function in the database, which is:\n"
            f"{functions[name]}"
        )


def test_no_function_lives_outside_a_file():
    files = {name for _, name in sql_files()}
    assert set(installed()) - files == set()


def test_the_newest_migration_running_each_file_pins_its_current_digest():
    """Editing a file takes a new migration with RunSQLFile(…, sha256=<new digest>):
    databases already migrated get the new body only from a migration they have not run."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    plan = []  # every migration, each after those it depends on
    for leaf in loader.graph.leaf_nodes():
        plan += [node for node in loader.graph.forwards_plan(leaf) if node not in plan]
    newest: dict[tuple[str, str], tuple[str, str]] = {}
    for node in plan:
        for operation in loader.graph.nodes[node].operations:
            if isinstance(operation, sqlfiles.RunSQLFile):
                newest[operation.app, operation.name] = (operation.sha256, ".".join(node))
    for app, name in sql_files():
        assert (app, name) in newest, f"no migration runs {app}/sql/{name}.sql"
        pinned, migration = newest[app, name]
        assert pinned == sqlfiles.digest(app, name), (
            f"{app}/sql/{name}.sql changed since {migration}: add a migration running it"
            f" with sha256={sqlfiles.digest(app, name)!r}"
        )

"""compliance/audited.py is the one list of audited tables: the database's triggers are
exactly those it lists, with its columns, and every model of the project's apps is either
audited or listed as not audited, with the reason."""

import pytest
from django.apps import apps
from django.db import connection

from compliance.audited import AUDITED, BY_TABLE, NOT_AUDITED

pytestmark = pytest.mark.django_db

PROJECT_APPS = {"bankcrm", "customers", "service", "compliance", "marketing", "analytics"}


def audit_triggers() -> dict[str, tuple[str, tuple[str, ...], str]]:
    """table -> (trigger name, its arguments, its definition) for every trigger that runs
    compliance_record_change."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname, encode(t.tgargs, 'escape'), pg_get_triggerdef(t.oid)"
            " FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname = 'compliance_record_change'"
            " AND NOT t.tgisinternal"
        )
        found = {}
        for table, name, args, definition in cursor.fetchall():
            assert table not in found, f"{table} has two audit triggers"
            # tgargs: each argument followed by a NUL byte.
            found[table] = (name, tuple(args.split("\\000")[:-1]), definition)
        return found


def test_every_listed_table_has_the_trigger_with_its_columns_and_no_other_table_has_it():
    triggers = audit_triggers()
    assert set(triggers) - set(BY_TABLE) == set(), "audited, but not in compliance/audited.py"
    assert set(BY_TABLE) - set(triggers) == set(), "listed, but no migration installed it"
    for entry in AUDITED:
        name, args, definition = triggers[entry.table]
        assert name == f"{entry.table}_audit"
        assert args == entry.trigger_args, entry.table
        assert definition.startswith(f"CREATE TRIGGER {name} AFTER ")
        if entry.requeue_only:
            assert f"AFTER UPDATE ON public.{entry.table}" in definition
            assert (
                "WHEN ((((old.status)::text IS DISTINCT FROM (new.status)::text)"
                " AND ((new.status)::text = 'pending'::text)))"
            ) in definition
        else:
            assert f"AFTER INSERT OR DELETE OR UPDATE ON public.{entry.table}" in definition
            assert "WHEN" not in definition


def test_listed_columns_exist():
    """A renamed column left in the list would silently be recorded again (or not)."""
    for entry in AUDITED:
        with connection.cursor() as cursor:
            columns = {c.name for c in connection.introspection.get_table_description(
                cursor, entry.table)}  # fmt: skip
        listed = {*entry.secret, *entry.ignored, *([entry.customer] if entry.customer else [])}
        assert listed <= columns, (entry.table, listed - columns)


def test_every_model_of_the_project_is_audited_or_says_why_not():
    tables = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label in PROJECT_APPS
    }
    assert set(BY_TABLE) & set(NOT_AUDITED) == set()
    unaccounted = tables - set(BY_TABLE) - set(NOT_AUDITED)
    assert unaccounted == set(), "add them to AUDITED (and a migration) or NOT_AUDITED"
    assert set(NOT_AUDITED) - tables == set(), "no such table any more"
    assert all(reason.strip() for reason in NOT_AUDITED.values())

"""Settings refuse nonsense at start-up and production passes `check --deploy`."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from bankcrm import env

ROOT = Path(__file__).resolve().parents[2]


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def production_env(**overrides) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    values = {
        "DJANGO_SETTINGS_MODULE": "bankcrm.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
        "DJANGO_ALLOWED_HOSTS": "crm.example-bank.cn",
        "FIELD_ENCRYPTION_KEYS": f"2:{_key()},1:{_key()}",
        "BLIND_INDEX_KEY": _key(),
        "DATABASE_URL": "postgres://bankcrm@127.0.0.1:5432/bankcrm",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    values.update(overrides)
    return {**keep, **{k: v for k, v in values.items() if v is not None}}


def run_manage(*args, env_vars) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env_vars,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_passes_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_vars=production_env())
    assert result.returncode == 0, result.stdout + result.stderr


def test_debug_maybe_fails_naming_the_variable():
    result = run_manage("check", env_vars=production_env(DJANGO_DEBUG="maybe"))
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


@pytest.mark.parametrize(
    "missing",
    ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY"],
)
def test_production_refuses_to_start_without(missing):
    result = run_manage("check", env_vars=production_env(**{missing: None}))
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_malformed_encryption_key_is_refused_at_start():
    result = run_manage("check", env_vars=production_env(FIELD_ENCRYPTION_KEYS="1:c2hvcnQ="))
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS v1: key must decode to 32 bytes" in result.stderr


def test_non_postgres_database_is_refused():
    with pytest.raises(ImproperlyConfigured, match="PostgreSQL only"):
        env.parse_database_url("DATABASE_URL", "sqlite:///db.sqlite3")


def test_database_url_is_parsed():
    parsed = env.parse_database_url("DATABASE_URL", "postgres://u:p%40ss@db.local:6543/crm")
    assert parsed["NAME"] == "crm"
    assert parsed["HOST"] == "db.local"
    assert parsed["PORT"] == "6543"
    assert parsed["USER"] == "u"


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("0", False), ("Yes", True), ("off", False)]
)
def test_env_bool_accepts_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env.env_bool("SOME_FLAG", not expected) is expected


def test_env_int_rejects_text_and_small_values(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER='ten' is not an integer"):
        env.env_int("SOME_NUMBER", 1)
    monkeypatch.setenv("SOME_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match="must be at least 1"):
        env.env_int("SOME_NUMBER", 1, minimum=1)


def test_a_field_key_that_is_the_secret_key_is_refused_at_start():
    """Issue 16, item 25: each key has one job; the message names the variables."""
    shared = _key()
    result = run_manage(
        "check",
        env_vars=production_env(
            DJANGO_SECRET_KEY=shared, FIELD_ENCRYPTION_KEYS=f"2:{_key()},1:{shared}"
        ),
    )
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS v1 is DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize(
    ("secret", "fields", "blind", "message"),
    [
        ("S", "1:{a}", "{a}", "BLIND_INDEX_KEY is FIELD_ENCRYPTION_KEYS v1"),
        ("S", "3:{b},2:{a}", "{a}", "BLIND_INDEX_KEY is FIELD_ENCRYPTION_KEYS v2"),
        ("{a}", "1:{b}", "{a}", "BLIND_INDEX_KEY is DJANGO_SECRET_KEY"),
        # The same 32 bytes, written with and without base64 padding.
        ("{a}", "1:{a_unpadded}", "{b}", "FIELD_ENCRYPTION_KEYS v1 is DJANGO_SECRET_KEY"),
    ],
)
def test_keys_that_do_two_jobs_are_refused(secret, fields, blind, message):
    from bankcrm.crypto import refuse_shared_keys

    a, b = _key(), _key()
    values = {"a": a, "b": b, "a_unpadded": a.rstrip("=")}
    with pytest.raises(ImproperlyConfigured, match=message):
        refuse_shared_keys(
            secret_key=secret.format(**values),
            field_keys=fields.format(**values),
            blind_index_key=blind.format(**values),
        )
    refuse_shared_keys(secret_key="a long secret key", field_keys=f"1:{a}", blind_index_key=b)


def test_database_waits_are_bounded():
    """A connection attempt, the wait for a pooled connection and the pool's reconnection
    back-off are all seconds long, and connections are checked before they are handed out
    (see the 503 test in test_pages)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    assert database["CONN_HEALTH_CHECKS"] is True  # the pool checks with check_connection
    assert database["OPTIONS"]["connect_timeout"] == 3
    pool = database["OPTIONS"]["pool"]
    assert pool["timeout"] == 3
    assert pool["reconnect_timeout"] == 5
    assert pool["max_lifetime"] == 1800 and pool["max_idle"] == 300

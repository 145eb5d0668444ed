"""The embedded PostgreSQL and Redis that `make run` / `make test` start on a bare machine, and
the environment `make run` serves with."""

import base64
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import devservices  # noqa: E402
import run  # noqa: E402


@pytest.fixture
def data_dir():
    # Inside the project (not /tmp/pytest-of-root, which is private to root): as root the
    # cluster runs as `nobody`, who must reach it.
    path = ROOT / ".data" / f"devservices-test-{uuid.uuid4().hex[:8]}"
    yield path
    devservices.stop_services(path)
    shutil.rmtree(path, ignore_errors=True)


def test_services_start_reuse_and_stop(data_dir):
    env = devservices.ensure_services(data_dir=data_dir)
    layout = devservices.Layout.from_env(data_dir)
    assert env == {"DATABASE_URL": layout.database_url, "REDIS_URL": layout.redis_url}

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        conn.execute("CREATE TABLE kept (value text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    client = redis.Redis.from_url(env["REDIS_URL"])
    assert client.ping()

    # A second call reuses the running servers; ports are remembered for the folder.
    assert devservices.ensure_services(data_dir=data_dir) == env

    devservices.stop_services(data_dir)
    assert not devservices.postgres_running(layout)
    assert not devservices.redis_running(layout)

    # Started again, the data is still there.
    devservices.ensure_services(data_dir=data_dir)
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT value FROM kept").fetchone() == ("still here",)


def test_two_data_folders_never_share_a_server(data_dir):
    other = data_dir.parent / f"{data_dir.name}-other"
    try:
        first = devservices.ensure_services(need_redis=False, data_dir=data_dir)
        second = devservices.ensure_services(need_redis=False, data_dir=other)
        assert first["DATABASE_URL"] != second["DATABASE_URL"]
    finally:
        devservices.stop_services(other)
        shutil.rmtree(other, ignore_errors=True)


def test_a_port_is_free_only_when_a_server_could_bind_it():
    listening = socket.create_server(("127.0.0.1", 0))
    client = socket.socket()
    try:
        client.connect(listening.getsockname())
        # The client's own end: nothing listens there, yet a server could not bind it
        # (this made a test cluster fail to start when a connection happened to hold it).
        assert not devservices._port_free(client.getsockname()[1])
        assert not devservices._port_free(listening.getsockname()[1])
    finally:
        client.close()
        listening.close()
    spare = socket.create_server(("127.0.0.1", 0))
    port = spare.getsockname()[1]
    spare.close()
    assert devservices._port_free(port)


# ---- make run: production settings on plain http, with keys of its own (scripts/run.py)

NO_SERVERS = {
    "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
    "REDIS_URL": "redis://127.0.0.1:1/0",
}


def test_make_run_has_debug_off_and_keys_kept_in_the_data_folder(tmp_path):
    env = run.demo_environment(NO_SERVERS, debug=False, data_dir=tmp_path)
    assert env["DJANGO_DEBUG"] == "false"
    assert env["DJANGO_ALLOWED_HOSTS"] == "localhost,127.0.0.1,[::1]"
    # Plain http on this machine: no redirect to https, no Secure cookies.
    assert env["DJANGO_SECURE_SSL_REDIRECT"] == env["DJANGO_SECURE_COOKIES"] == "false"
    assert len(base64.urlsafe_b64decode(env["BLIND_INDEX_KEY"])) == 32
    assert len(base64.urlsafe_b64decode(env["FIELD_ENCRYPTION_KEYS"].split(":")[1])) == 32
    assert env["FIELD_ENCRYPTION_KEYS"] not in run.LEGACY_KEYS.values()  # made for this folder
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600

    # The next run, and `make dev`, use the same keys: the demo data stays readable.
    again = run.demo_environment(NO_SERVERS, debug=False, data_dir=tmp_path)
    dev = run.demo_environment(NO_SERVERS, debug=True, data_dir=tmp_path)
    assert dev["DJANGO_DEBUG"] == "true"
    for name in run.SECRET_NAMES:
        assert env[name] == again[name] == dev[name]
    # An exported DJANGO_DEBUG does not turn `make run` into `make dev`.
    exported = run.demo_environment({**NO_SERVERS, "DJANGO_DEBUG": "true"}, debug=False,
                                    data_dir=tmp_path)  # fmt: skip
    assert exported["DJANGO_DEBUG"] == "false"


def test_a_404_under_make_runs_settings_is_the_projects_page_not_the_url_list(tmp_path):
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    env = run.demo_environment({**keep, **NO_SERVERS}, debug=False, data_dir=tmp_path)
    script = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.test import Client\n"
        # The hashed-name manifest comes from collectstatic, which make run runs first.
        "settings.STORAGES['staticfiles'] = "
        "{'BACKEND': 'django.contrib.staticfiles.storage.StaticFilesStorage'}\n"
        "response = Client().get('/no-such-page/', HTTP_HOST='localhost')\n"
        "print(settings.DEBUG, response.status_code)\n"
        "print(response.content.decode())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    first, page = result.stdout.split("\n", 1)
    assert first == "False 404"
    assert 'data-testid="error-page"' in page
    assert "Using the URLconf" not in page
    assert "accounts/login/" not in page

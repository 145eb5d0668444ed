"""The embedded PostgreSQL and Redis that `make run` / `make test` start on a bare machine."""

import shutil
import socket
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import devservices  # noqa: E402


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

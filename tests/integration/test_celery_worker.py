"""A real Celery worker process on the real Redis broker runs tasks against the test DB."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from bankcrm.models import Heartbeat
from bankcrm.tasks import record_heartbeat

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def celery_worker():
    """Start `celery worker` as its own process, pointed at the test database."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bankcrm.settings_test",
        "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    # A private queue so a `make run` worker on the same Redis cannot take our tasks.
    queue = f"test-{os.getpid()}-{time.monotonic_ns()}"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "bankcrm", "worker",
            "--pool", "solo", "--queues", queue, "--loglevel", "WARNING",
            "--without-heartbeat", "--without-gossip", "--without-mingle",
            "--hostname", f"{queue}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield queue
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        if process.returncode not in (0, -15):
            print(output.decode(errors="replace"))


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_worker_runs_the_heartbeat_task(celery_worker):
    assert not Heartbeat.objects.exists()
    record_heartbeat.apply_async(queue=celery_worker)
    assert wait_for(lambda: Heartbeat.objects.filter(name="worker").exists()), (
        "the worker did not run the task within 30 s"
    )


def test_health_sees_the_running_worker(client, celery_worker):
    assert wait_for(lambda: client.get("/health/").json()["checks"]["worker"] == "ok")

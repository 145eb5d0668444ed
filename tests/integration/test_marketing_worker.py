"""Campaign sends with a real Celery worker on the real Redis broker: a worker killed with
SIGKILL in the middle of a campaign loses nothing and repeats nothing (the message it was
sending when it died goes out again with the same key, which the provider keeps once); a
Redis outage at launch delays the sends until beat's sweep; a duplicated beat sends
nothing twice."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from bankcrm.audit import SYSTEM
from bankcrm.celery import app
from marketing import services
from marketing.models import Delivery
from tests import factories
from tests.integration.test_celery_worker import wait_for
from tests.marketing.conftest import consent, segment, tree

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
N = 30


def start_worker(outbox: Path, queue: str, *, concurrency: int = 1):
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.integration.marketing_worker_settings",
        "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "MARKETING_FILE_DIR": str(outbox),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bankcrm", "worker", "--pool", "prefork",
         "--concurrency", str(concurrency), "--queues", queue, "--loglevel", "WARNING",
         "--without-heartbeat", "--without-gossip", "--without-mingle",
         "--hostname", f"{queue}-{time.monotonic_ns()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def stop(process, sig=signal.SIGTERM):
    try:
        os.killpg(process.pid, sig)  # the pool's children too
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def queue():
    name = f"test-mkt-{os.getpid()}-{time.monotonic_ns()}"
    app.conf.task_default_queue = name
    yield name
    app.conf.task_default_queue = "celery"


@pytest.fixture
def campaign(settings):
    """An approved SMS campaign to N consenting customers (no quiet hours, as in the
    worker's settings: the tests run at any time of day)."""
    settings.MARKETING_QUIET_START = settings.MARKETING_QUIET_END = 0
    branch = factories.branch("SH001")
    author = factories.user("marketing_manager", branch=branch)
    approver = factories.user("marketing_manager", branch=branch)
    for n in range(N):
        consent(factories.customer(branch=branch, cif=f"W{n:04d}"))
    draft = services.CampaignDraft(name="w", segment=segment(author, tree()), channels=["sms"],
                                   texts={("sms", "A", "zh-hans"): "{name}您好"})  # fmt: skip
    c = services.campaign_save(actor=author, context=SYSTEM, draft=draft)
    services.campaign_submit(actor=author, context=SYSTEM, campaign=c)
    services.campaign_approve(actor=approver, context=SYSTEM, campaign=c)
    c.launcher = author
    return c


def sends(outbox: Path) -> list[str]:
    log = outbox / "sends.log"
    return log.read_text().split() if log.exists() else []


def test_a_worker_killed_mid_campaign_loses_and_repeats_nothing(campaign, queue, tmp_path):
    outbox = tmp_path / "out"
    worker = start_worker(outbox, queue)
    try:
        services.campaign_launch(actor=campaign.launcher, context=SYSTEM, campaign=campaign)
        assert wait_for(lambda: len(sends(outbox)) >= 5, timeout=60)
    finally:
        stop(worker, signal.SIGKILL)  # mid-campaign, holding the lease of the whole batch
    before = len(sends(outbox))
    assert before < N, "the worker finished before it was killed"
    pending = Delivery.objects.filter(campaign=campaign, status="pending")
    assert pending.exists()
    # The dead worker's lease runs out (two minutes, moved here instead of waited for).
    pending.update(next_attempt_at=timezone.now())
    worker = start_worker(outbox, queue)
    try:
        from marketing.tasks import send_campaigns

        send_campaigns.apply_async(queue=queue)  # beat's sweep
        assert wait_for(lambda: not pending.exists(), timeout=60)
    finally:
        stop(worker)
    keys = sends(outbox)
    assert Delivery.objects.filter(campaign=campaign, status="sent").count() == N
    assert len(set(keys)) == N  # nobody lost
    assert len(keys) - N <= 1  # at most the message in flight at the kill, same key
    assert len(list(outbox.glob("*.json"))) == N  # which the provider kept once


def test_a_redis_outage_at_launch_delays_the_sends_until_the_sweep(campaign, queue, tmp_path,
                                                                    monkeypatch):  # fmt: skip
    from marketing import tasks

    def unreachable(*args, **kwargs):
        raise ConnectionError("redis down")

    outbox = tmp_path / "out"
    with monkeypatch.context() as patch:
        patch.setattr(tasks.send_campaigns, "delay", unreachable)
        services.campaign_launch(actor=campaign.launcher, context=SYSTEM, campaign=campaign)
    assert Delivery.objects.filter(campaign=campaign, status="pending").count() == N
    worker = start_worker(outbox, queue)
    try:
        tasks.send_campaigns.apply_async(queue=queue)  # beat, after recovery
        assert wait_for(lambda: Delivery.objects.filter(status="sent").count() == N, timeout=60)
    finally:
        stop(worker)
    assert sorted(sends(outbox)) == sorted(set(sends(outbox))) and len(sends(outbox)) == N


def test_a_duplicated_beat_sends_nothing_twice(campaign, queue, tmp_path, monkeypatch):
    from marketing import tasks

    monkeypatch.setattr(tasks.send_campaigns, "delay", lambda *a, **k: None)  # only the beats
    outbox = tmp_path / "out"
    services.campaign_launch(actor=campaign.launcher, context=SYSTEM, campaign=campaign)
    worker = start_worker(outbox, queue, concurrency=2)
    try:
        for _ in range(4):  # two beats, each delivered twice, run side by side
            tasks.send_campaigns.apply_async(queue=queue)
        assert wait_for(lambda: Delivery.objects.filter(status="sent").count() == N, timeout=60)
        time.sleep(1)
    finally:
        stop(worker)
    keys = sends(outbox)
    assert len(keys) == N and len(set(keys)) == N
    assert Delivery.objects.filter(campaign=campaign, status="sent", attempts=1).count() == N

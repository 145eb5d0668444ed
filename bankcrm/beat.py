"""Celery beat scheduler that also records a heartbeat, so /health/ can tell beat is alive
even when no worker is running."""

import logging
import time

from celery.beat import PersistentScheduler

HEARTBEAT_EVERY = 15.0
logger = logging.getLogger(__name__)


class HeartbeatScheduler(PersistentScheduler):
    _last_heartbeat = 0.0

    def setup_schedule(self):
        import django

        django.setup()
        super().setup_schedule()

    def tick(self, *args, **kwargs):
        now = time.monotonic()
        if now - self._last_heartbeat >= HEARTBEAT_EVERY:
            self._last_heartbeat = now
            from django.db import close_old_connections

            close_old_connections()  # beat lives for weeks; drop a connection gone bad
            self._beat()
        # Wake at least as often as the heartbeat is due.
        return min(super().tick(*args, **kwargs), HEARTBEAT_EVERY)

    @staticmethod
    def _beat() -> None:
        from bankcrm.models import Heartbeat

        try:
            Heartbeat.record("beat")
        except Exception:  # the database may be down: beat keeps scheduling regardless
            logger.warning("could not record the beat heartbeat", exc_info=True)

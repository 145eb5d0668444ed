"""Settings of the Celery worker the marketing worker tests start: every channel through a
file provider that takes 100 ms a message and logs each send, so a test can kill the worker
in the middle of a campaign and count what was sent."""

import os

from bankcrm.settings_test import *  # noqa: F403

MARKETING_PROVIDERS = dict.fromkeys(
    ["sms", "email", "app", "call"], "tests.integration.marketing_worker_settings.SlowProvider"
)
MARKETING_FILE_DIR = os.environ["MARKETING_FILE_DIR"]
# No quiet hours: the tests run at any time of day (tests/marketing tests the hours).
MARKETING_QUIET_START = MARKETING_QUIET_END = 0


class SlowProvider:
    name = "slow-file"

    def send(self, message, address):
        import time
        from pathlib import Path

        from service.notify import FileProvider

        time.sleep(0.1)
        FileProvider(MARKETING_FILE_DIR).send(message, address)
        with (Path(MARKETING_FILE_DIR) / "sends.log").open("a") as log:
            log.write(message.key + "\n")

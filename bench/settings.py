"""Settings for benchmark servers: the real settings, plus a URLconf with a minimal view."""

from bankcrm.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

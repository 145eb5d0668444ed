"""Test settings: only what tests need to differ from the real module."""

import os

os.environ.setdefault("BANKCRM_TESTING", "true")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")

from bankcrm.settings import *  # noqa: F403
from bankcrm.settings import AUTH_PASSWORD_VALIDATORS  # noqa: F401

# Argon2 is deliberately slow; tests hash thousands of passwords.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests post over plain http in the test client.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
LANGUAGE_COOKIE_SECURE = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files from the source folders (no collectstatic before tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Concurrency tests run up to fifty threads that each hold a connection for their whole run
# (tests/service/test_claim.py): the pool must have room for them, on a machine that may be
# busy, rather than make them wait out DATABASE_POOL_TIMEOUT.
if "pool" in DATABASES["default"]["OPTIONS"]:  # noqa: F405
    DATABASES["default"]["OPTIONS"]["pool"]["max_size"] = 60  # noqa: F405

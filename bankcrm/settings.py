"""bankcrm settings: one module, driven by environment variables (see .env.example).

Production (DJANGO_DEBUG unset or false) refuses to start without its secrets; development
and tests get clearly-labelled throwaway values so `make run` works on a fresh machine.
"""

import tempfile
from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from bankcrm.crypto import refuse_shared_keys
from bankcrm.dbsession import reset_pooled_session
from bankcrm.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    parse_database_url,
    validate_redis_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)
# Development conveniences (throwaway keys, local hosts) only when explicitly in debug mode or
# under the test settings; production must bring its own.
DEV_DEFAULTS = DEBUG or env_bool("BANKCRM_TESTING", False)


def _secret(name: str, dev_value: str) -> str:
    value = env_str(name)
    if value:
        return value
    if DEV_DEFAULTS:
        return dev_value
    raise ImproperlyConfigured(f"{name} must be set when DJANGO_DEBUG is false (production).")


SECRET_KEY = _secret(
    "DJANGO_SECRET_KEY", "dev-only-insecure-secret-key-never-use-in-production-0123456789"
)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1"] if DEV_DEFAULTS else [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is false.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# Field encryption: versioned keys "VERSION:KEY,..." newest first, never SECRET_KEY.
FIELD_ENCRYPTION_KEYS = _secret(
    "FIELD_ENCRYPTION_KEYS", "1:ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMDE="
)
BLIND_INDEX_KEY = _secret("BLIND_INDEX_KEY", "ZGV2LW9ubHktYmxpbmQtaW5kZXgtaG1hYy1rZXktMDE=")
# Fail at start, not at the first customer page, on a malformed key or one doing two jobs.
refuse_shared_keys(
    secret_key=SECRET_KEY, field_keys=FIELD_ENCRYPTION_KEYS, blind_index_key=BLIND_INDEX_KEY
)

INSTALLED_APPS = [
    "bankcrm.apps.BankAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django_htmx",
    "csp",
    "bankcrm.apps.AxesConfig",  # django-axes, named for the admin (bankcrm/apps.py)
    "django_otp",
    "bankcrm.apps.TotpConfig",  # django_otp.plugins.otp_totp
    "guardian",
    # django-auditlog: its LogEntry rows from before the data-change trail, kept (the
    # compliance migrations depend on its tables); nothing is registered with it.
    "bankcrm.apps.AuditlogConfig",
    "ninja",  # serves the API docs page's Swagger UI from the package (no CDN)
    "bankcrm",
    "customers",
    "service",
    "compliance",
    "analytics",
    "marketing",
]

MIDDLEWARE = [
    "bankcrm.middleware.LivenessMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "bankcrm.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "bankcrm.middleware.LocaleMiddleware",
    "bankcrm.middleware.UnstorableInputMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "bankcrm.middleware.SessionTimeoutMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "bankcrm.middleware.MfaRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "bankcrm.middleware.AuditContextMiddleware",
    "bankcrm.middleware.NoStoreMiddleware",
    "bankcrm.middleware.RefusedAccessMiddleware",
    # Last, so a lockout answers before any view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "bankcrm.urls"
WSGI_APPLICATION = "bankcrm.wsgi.application"

_CONTEXT_PROCESSORS = [
    "django.template.context_processors.request",
    "django.template.context_processors.i18n",
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
    "bankcrm.context_processors.navigation",
]
# The project's pages are Jinja2 (templates/, see bankcrm/jinja2.py); Django's engine stays
# for the admin and the apps' own templates.
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "bankcrm.jinja2.environment",
            "context_processors": _CONTEXT_PROCESSORS,
        },
    },
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": _CONTEXT_PROCESSORS},
    },
]

# Database: PostgreSQL only, pooled with psycopg 3 (CONN_MAX_AGE must stay 0 with a pool).
if DEV_DEFAULTS:
    _database_url = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bankcrm")
else:
    _database_url = env_str("DATABASE_URL", required=True)
DATABASES = {"default": parse_database_url("DATABASE_URL", _database_url)}
DATABASES["default"]["CONN_MAX_AGE"] = 0
# While PostgreSQL is down or restarting, a request fails within seconds (a 503 page, see
# bankcrm.views.server_error) instead of hanging, and the first request after it is back
# is served: libpq gives up connecting after DATABASE_CONNECT_TIMEOUT (libpq's least is 2 s);
# a request waits at most DATABASE_POOL_TIMEOUT for a pooled connection; a connection is
# checked before it is handed out (one empty query), so those the restart broke are
# dropped, not given to a request; and the pool's background reconnection, whose back-off
# doubles (1, 2, 4 … 64 s: the first good page came 60 s after a 71 s outage), gives up
# after DATABASE_POOL_RECONNECT_TIMEOUT, so the next request starts a fresh attempt.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["OPTIONS"] = {
    "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 3, minimum=2)
}
if env_bool("DATABASE_POOL", True):
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN_SIZE", 1, minimum=0),
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", 10, minimum=1),
        "timeout": env_int("DATABASE_POOL_TIMEOUT", 3, minimum=1),
        "reconnect_timeout": env_int("DATABASE_POOL_RECONNECT_TIMEOUT", 5, minimum=1),
        # Connections are renewed now and then, and idle ones beyond min_size closed.
        "max_lifetime": 30 * 60,
        "max_idle": 5 * 60,
        # A session back in the pool forgets its audit context (bankcrm/audit.py).
        "reset": reset_pooled_session,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if DEV_DEFAULTS:
    _redis_url = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
else:
    _redis_url = env_str("REDIS_URL", required=True)
REDIS_URL = validate_redis_url("REDIS_URL", _redis_url)

# Celery: Redis is only a doorbell; durable state lives in PostgreSQL (outbox, due columns).
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = env_str(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(Path(tempfile.gettempdir()) / "bankcrm-celerybeat")
)
CELERY_BEAT_SCHEDULER = "bankcrm.beat:HeartbeatScheduler"
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "bankcrm.tasks.record_heartbeat", "schedule": 30.0},
    "resume-imports": {"task": "customers.tasks.resume_imports", "schedule": 60.0},
    # Applies what waits in the inbox, moves sequence cursors and resyncs gaps from feeds.
    "sweep-inbox": {"task": "customers.tasks.sweep_inbox", "schedule": 30.0},
    # Outbound events to subscribed systems: due deliveries and retries, KYC expiries.
    "dispatch-outbound": {"task": "customers.tasks.dispatch_outbound", "schedule": 10.0},
    "publish-kyc-expiries": {"task": "customers.tasks.publish_kyc_expiries", "schedule": 3600.0},
    # SLA warnings and escalations that fell due (each once, however late), then messages.
    "sla-sweep": {"task": "service.tasks.sweep_sla", "schedule": 60.0},
    "send-notifications": {"task": "service.tasks.send_notifications", "schedule": 30.0},
    # Campaign and journey messages: due deliveries, retries and those held for quiet hours.
    "send-campaigns": {"task": "marketing.tasks.send_campaigns", "schedule": 30.0},
    # Lifecycle journeys (birthdays, maturities, expiries...): each customer once per occurrence.
    "fire-journeys": {"task": "marketing.tasks.fire_journeys", "schedule": 3600.0},
    # Delegations that ran out, into the audit trail (each once).
    "record-expired-delegations": {
        "task": "customers.tasks.record_expired_delegations",
        "schedule": 300.0,
    },
    # Forget the access-anomaly rules' notes of reads older than any rule's window.
    "prune-recent-reads": {"task": "compliance.tasks.prune_recent_reads", "schedule": 3600.0},
    # Risk warnings from overdue loans and expired KYC (once a day, whichever run is first),
    # and warnings past their expiry.
    "sweep-risk-warnings": {"task": "compliance.tasks.sweep_risk_warnings", "schedule": 3600.0},
    # Recompute the audit trail's hash chains every night at 02:30.
    "verify-audit-chain": {
        "task": "compliance.tasks.verify_audit_chain",
        "schedule": crontab(hour=2, minute=30),
    },
    # Value tiers, lifetime values and the active models' scores for every customer, once a
    # day (a second run on the same day finds the day done).
    "analytics-nightly": {
        "task": "analytics.tasks.nightly",
        "schedule": crontab(hour=1, minute=30),
    },
    # Daily KPI snapshots (analytics.kpi): yesterday rebuilt whole after the value run;
    # today every hour, the day's first run whole, the others from the changes since the
    # last (KpiChange): same rows as a rebuild, and nothing written when nothing changed.
    "kpi-snapshot-close": {
        "task": "analytics.tasks.kpi_snapshot_yesterday",
        "schedule": crontab(hour=2, minute=15),
    },
    "kpi-snapshot-today": {"task": "analytics.tasks.kpi_snapshot_today", "schedule": 3600.0},
    # Scheduled reports due today, then any waiting (analytics.reports).
    "reports-due": {"task": "analytics.tasks.reports_due", "schedule": crontab(hour=6, minute=0)},
    # The sentiment of stored texts whose on-commit task was lost (pending rows only).
    "sweep-text-sentiment": {"task": "analytics.tasks.sweep_text_sentiment", "schedule": 60.0},
}

# Service desk: message providers per channel ("console", "file", "smtp" for e-mail, or a
# dotted path to a service.notify.Provider), the folder of the file provider, and the
# address surveys link to.
SERVICE_NOTIFY_PROVIDERS = {
    "sms": env_choice("SERVICE_SMS_PROVIDER", "console", ["console", "file"]),
    "email": env_choice("SERVICE_EMAIL_PROVIDER", "console", ["console", "file", "smtp"]),
}
SERVICE_NOTIFY_FILE_DIR = env_str(
    "SERVICE_NOTIFY_FILE_DIR", str(Path(tempfile.gettempdir()) / "bankcrm-outbox")
)
SERVICE_EMAIL_DOMAIN = env_str("SERVICE_EMAIL_DOMAIN", "bankcrm.local")
# Marketing: providers per channel like the service desk's (app pushes and call tasks are
# written by the file or console provider until a gateway exists), the hours no SMS or call
# goes out (Asia/Shanghai), and the opt-out links' base address (SITE_URL).
MARKETING_PROVIDERS = {
    "sms": env_choice("MARKETING_SMS_PROVIDER", "console", ["console", "file"]),
    "email": env_choice("MARKETING_EMAIL_PROVIDER", "console", ["console", "file"]),
    "app": env_choice("MARKETING_APP_PROVIDER", "console", ["console", "file"]),
    "call": env_choice("MARKETING_CALL_PROVIDER", "console", ["console", "file"]),
}
MARKETING_FILE_DIR = env_str(
    "MARKETING_FILE_DIR", str(Path(tempfile.gettempdir()) / "bankcrm-marketing")
)
MARKETING_QUIET_START = env_int("MARKETING_QUIET_START", 21, minimum=0)
MARKETING_QUIET_END = env_int("MARKETING_QUIET_END", 8, minimum=0)
if not (MARKETING_QUIET_START < 24 and MARKETING_QUIET_END < 24):
    raise ImproperlyConfigured("MARKETING_QUIET_START and _END are hours, 0 to 23")

# Analytics: how many days of daily scores are kept (analytics.nightly.scores_expire); older
# days keep only their month-end scores, so a score's history stays readable by month.
ANALYTICS_SCORE_DAYS = env_int("ANALYTICS_SCORE_DAYS", 90, minimum=1)

# How long after a ticket is resolved or closed its agent may still open the customer.
SERVICE_AGENT_REACH_DAYS = env_int("SERVICE_AGENT_REACH_DAYS", 7, minimum=0)
# Links in messages to customers (the survey): the public address of the site.
SITE_URL = env_str(
    "SITE_URL", "http://localhost:8000" if DEV_DEFAULTS else f"https://{ALLOWED_HOSTS[0]}"
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "service@bankcrm.local")

# Auth
AUTH_USER_MODEL = "bankcrm.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out username+IP before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "bankcrm.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
OTP_TOTP_ISSUER = "bankcrm"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lockout: keyed on username + IP, lifted after a cool-off (never permanent).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

# Sessions: database-backed (so they can be ended server-side), idle and absolute limits.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_IDLE_SECONDS = env_int("SESSION_IDLE_SECONDS", 15 * 60, minimum=60)
SESSION_ABSOLUTE_SECONDS = env_int("SESSION_ABSOLUTE_SECONDS", 8 * 3600, minimum=300)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "bankcrm.views.csrf_failure"
# Secure cookies in production; `make run` serves plain http on localhost with DEBUG off.
SECURE_COOKIES = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
LANGUAGE_COOKIE_SECURE = SECURE_COOKIES
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"

# Transport and browser hardening
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^health/"]
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
if env_bool("DJANGO_TRUST_X_FORWARDED_PROTO", not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# Internationalisation: zh-Hans first, English second; Shanghai time, aware datetimes.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
DEFAULT_CURRENCY = "CNY"
# Currencies the integration API accepts (ISO 4217); CZK for the Berka data.
SUPPORTED_CURRENCIES = ("CNY", "USD", "EUR", "HKD", "JPY", "GBP", "CZK")
# How long a risk questionnaire's result holds, unless the questionnaire says otherwise.
RISK_ASSESSMENT_VALIDITY_DAYS = env_int("BANKCRM_RISK_ASSESSMENT_DAYS", 365, minimum=1)

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

ANONYMOUS_USER_NAME = None  # guardian: no anonymous object permissions
GUARDIAN_RAISE_403 = False

# Logging: one line per event, JSON in production, with the request id; never PII.
LOG_LEVEL = env_choice("DJANGO_LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "bankcrm.logging.RequestContextFilter"},
        "mask_pii": {"()": "bankcrm.logging.PiiMaskingFilter"},
    },
    "formatters": {
        "json": {"()": "bankcrm.logging.JsonFormatter"},
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_context", "mask_pii"],
            "formatter": "json" if env_bool("DJANGO_LOG_JSON", not DEBUG) else "text",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

"""gunicorn settings; each can be overridden with GUNICORN_* environment variables."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Workers are recycled now and then (a leak cannot grow without bound), but rarely: at
# hundreds of API requests a second, every 2,000 meant a restart each few seconds.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "50000"))
max_requests_jitter = 5000
# The application is imported once in the master; a recycled worker forks ready to serve.
# (Connections are opened lazily in each worker, never in the master.)
preload_app = True
accesslog = "-"
# No query strings in access logs: search terms may be identifiers.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss rid=%({x-request-id}o)s'
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")

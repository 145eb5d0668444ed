# One image for web (gunicorn), worker and beat; see docker-compose.yml.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=bankcrm.settings

RUN groupadd --system bankcrm && useradd --system --gid bankcrm --home-dir /app bankcrm
WORKDIR /app

# LightGBM's wheel links the system's OpenMP runtime (libgomp), which slim images lack.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

COPY requirements/base.txt requirements/base.txt
RUN pip install -r requirements/base.txt

COPY --chown=bankcrm:bankcrm . .

# Static files are collected at build time with throwaway settings (never used at run time).
RUN DJANGO_DEBUG=false \
    DJANGO_SECRET_KEY=build-only-not-a-secret-0123456789-0123456789-0123456789 \
    DJANGO_ALLOWED_HOSTS=localhost \
    FIELD_ENCRYPTION_KEYS=1:YnVpbGQtb25seS1maWVsZC1rZXktMzItYnl0ZXMtMDE= \
    BLIND_INDEX_KEY=YnVpbGQtb25seS1ibGluZC1rZXktMzItYnl0ZXMtMDE= \
    DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput

USER bankcrm
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live/', timeout=4).status == 200 else 1)"]
CMD ["gunicorn", "bankcrm.wsgi:application", "--config", "bankcrm/gunicorn.conf.py"]

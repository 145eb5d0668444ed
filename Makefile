# bankcrm: `make run` and `make test` are all a fresh machine with Python 3.11 needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run dev manage test lint format migrations-check messages bench clean-data install

install: $(INSTALLED)

# --no-compile: modules are byte-compiled when first imported, not all of them up front
# (a third of the install's time; the venv is writable).
$(INSTALLED): requirements/lock.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "bankcrm needs Python 3.11, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile \
		-r requirements/lock.txt
	touch $@

# Web (gunicorn), one Celery worker and beat, with demo data; embedded PostgreSQL and Redis
# under .data/ unless DATABASE_URL / REDIS_URL are set. Production settings (DEBUG off) on
# plain http, with keys made once and kept in .data/secrets.json. Ctrl-C stops everything.
run: install
	$(BIN)/python scripts/run.py

# The same with DJANGO_DEBUG=true (Django's debug pages), for developers on this machine.
dev: install
	$(BIN)/python scripts/run.py --debug

# A manage command on the same database, Redis and keys as `make run` (started if need be),
# e.g. make manage ARGS="simulate_core_banking --rate 100 --seconds 60"
manage: install
	@$(BIN)/python scripts/run.py manage $(ARGS)

# The whole suite: lint, then unit, integration (real Celery worker on Redis) and browser
# tests. KEEP_SERVICES=1 keeps the embedded servers running for quick re-runs.
test: install
	$(BIN)/ruff check --quiet .
	$(BIN)/ruff format --check --quiet .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python scripts/with_services.py $(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff, and import-linter: the layers of ARCHITECTURE.md (pyproject.toml [tool.importlinter]).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrations-check: install
	DJANGO_DEBUG=true $(BIN)/python scripts/with_services.py $(BIN)/python manage.py makemigrations --check --dry-run

messages: install
	DJANGO_DEBUG=true $(BIN)/python scripts/with_services.py $(BIN)/python manage.py makemessages -l zh_Hans --no-location \
		--ignore=.venv --ignore=.data --ignore=tests --ignore=static --ignore=staticfiles \
		--ignore=bench --ignore=scripts
	msgfmt --check -o locale/zh_Hans/LC_MESSAGES/django.mo locale/zh_Hans/LC_MESSAGES/django.po

bench: install
	$(BIN)/python scripts/with_services.py $(BIN)/python bench/seed_demo.py

clean-data:
	$(BIN)/python scripts/devservices.py stop || true
	rm -rf .data

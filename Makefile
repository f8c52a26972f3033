# The two commands a user needs: `make run` and `make test`. CI uses the same targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_AWARDS ?= 20000

# Real services for the integration half of `make test` (override to point elsewhere).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/philgeps
TEST_BROKER_URL ?= amqp://guest:guest@127.0.0.1:5672//
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
LOCAL_ENV := env -u DATABASE_URL -u CELERY_BROKER_URL -u REDIS_URL
SERVICE_ENV := env DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) REDIS_URL=$(TEST_REDIS_URL)

.PHONY: install run reset-demo-accounts test test-local test-services lint format worker beat bench lock clean

install: $(VENV)/.installed

# Production pins plus what local mode, tests and tooling add (the image installs only
# requirements.txt). pip says only what fails (-qq): the pins leave nothing to choose.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --quiet --upgrade pip
	$(PY) -m pip install --quiet --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

## Serve the app on http://$(HOST):$(PORT) (local mode unless DATABASE_URL etc. are set).
run: install
	@$(PY) -m config.local --host $(HOST) --port $(PORT) --demo-awards $(DEMO_AWARDS)

## New random passwords for the demo accounts `make run` prints.
reset-demo-accounts: install
	@$(PY) -m config.local --reset-demo-accounts

## The whole suite: the local half on a throwaway embedded PostgreSQL (in-memory broker and
## channel layer), then the tests of real processes against PostgreSQL, RabbitMQ and Redis.
test: test-local test-services

test-local: install
	$(LOCAL_ENV) $(PY) -m pytest -m "not services and not browser" $(PYTEST_ARGS)

test-services: install
	$(SERVICE_ENV) $(PY) -m pytest -m "services or browser" $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

worker: install
	$(PY) -m celery -A config worker --loglevel INFO

beat: install
	$(PY) -m celery -A config beat --loglevel INFO

bench: install
	$(SERVICE_ENV) $(PY) bench/run_all.py

## Re-pin requirements.txt from requirements.in, then requirements-dev.txt (what
## requirements-dev.in adds, with the production pins held fixed).
LOCK_VENV := /tmp/philgeps-lock
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet -r requirements.in
	$(LOCK_VENV)/bin/pip freeze > $(LOCK_VENV)/production.txt
	(echo "# Generated from requirements.in by \`make lock\`: every package pinned."; \
	 cat $(LOCK_VENV)/production.txt) > requirements.txt
	$(LOCK_VENV)/bin/pip install --quiet -r requirements-dev.in -c requirements.txt
	(echo "# Generated from requirements-dev.in by \`make lock\`: every package that tests, tooling and"; \
	 echo "# local mode add to requirements.txt, pinned."; \
	 $(LOCK_VENV)/bin/pip freeze | grep -vxF -f $(LOCK_VENV)/production.txt) > requirements-dev.txt

clean:
	rm -rf $(VENV) var staticfiles

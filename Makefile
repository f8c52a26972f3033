# The two commands a user needs: `make run` and `make test`. CI uses the same targets.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# Real services for the integration half of `make test` (override to point elsewhere).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/philgeps
TEST_BROKER_URL ?= amqp://guest:guest@127.0.0.1:5672//
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
LOCAL_ENV := env -u DATABASE_URL -u CELERY_BROKER_URL -u REDIS_URL
SERVICE_ENV := env DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) REDIS_URL=$(TEST_REDIS_URL)

.PHONY: install run test test-local test-services lint format worker beat bench lock clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

## Serve the app on http://$(HOST):$(PORT) (local mode unless DATABASE_URL etc. are set).
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bootstrap_local
	RUN_LOCAL_WORKER=1 $(PY) -m config.server -b $(HOST) -p $(PORT) config.asgi:application

## The whole suite: once in local mode (SQLite, in-memory), once against the real services.
test: test-local test-services

test-local: install
	$(LOCAL_ENV) $(PY) -m pytest -m "not postgres and not services and not browser" $(PYTEST_ARGS)

test-services: install
	$(SERVICE_ENV) $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

worker: install
	$(PY) -m celery -A config worker --loglevel INFO

beat: install
	$(PY) -m celery -A config beat --loglevel INFO

bench: install
	$(SERVICE_ENV) $(PY) bench/run_all.py

## Re-pin requirements.txt from requirements.in.
lock:
	rm -rf /tmp/philgeps-lock && $(PYTHON) -m venv /tmp/philgeps-lock
	/tmp/philgeps-lock/bin/pip install --quiet -r requirements.in
	(echo "# Generated from requirements.in by \`make lock\`: every package pinned."; \
	 /tmp/philgeps-lock/bin/pip freeze) > requirements.txt

clean:
	rm -rf $(VENV) var staticfiles

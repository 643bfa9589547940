# dualauth: `make run` serves, `make test` checks everything. Both set up from scratch.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
# Where `make run`'s account mails link: the port is runserver's, which no Host header chooses.
FRONTEND_URL ?= http://$(HOST):$(PORT)/

.PHONY: run provider test lint check-env migrate bench compare clean

$(VENV)/.base: requirements/base.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/base.lock
	touch $@

$(VENV)/.dev: requirements/dev.lock $(VENV)/.base
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.lock
	touch $@

# Local secrets, generated once and never committed.
.env:
	@$(PYTHON) -c 'import base64, secrets; print(f"SECRET_KEY={secrets.token_urlsafe(50)}\nJWT_SIGNING_KEY={secrets.token_urlsafe(48)}\nMFA_ENCRYPTION_KEY={base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}\nDEMO_USERNAME=demo\nDEMO_PASSWORD={secrets.token_urlsafe(12)}\nDEBUG=true")' > $@
	@chmod 600 $@
	@echo "wrote .env with fresh local secrets"

migrate: $(VENV)/.base .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

run: migrate
	$(BIN)/python manage.py demo_account --base http://$(HOST):$(PORT)
	FRONTEND_URL=$(FRONTEND_URL) $(BIN)/python manage.py runserver $(HOST):$(PORT)

# The development OpenID provider (clients/dev_provider.py), which signs in whoever you name:
# it prints the variables that start `make run` with it (README, "Sign in with Google, Apple
# or any OpenID provider").
PROVIDER_PORT ?= 9000
provider: $(VENV)/.base
	$(BIN)/python -m clients.dev_provider --port $(PROVIDER_PORT)

lint: $(VENV)/.dev .env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	# The layers (pyproject's [tool.importlinter]): no module imports one above it.
	$(BIN)/lint-imports

# Two pytest-xdist workers: most of the suite waits on its servers, browsers and services.
# Each module runs on one worker; the browsers, the README's shell and the tests that
# saturate the cores run one after the other on one worker (tests/conftest.py, CORES_BOUND).
PYTEST_ARGS ?= -n 2

# The suite's core runs a second time against a custom user model (email login, UUID key).
CUSTOM_USER_SETTINGS := tests.settings_custom_user
CUSTOM_USER_TESTS := tests/test_comparative.py tests/common/test_services.py \
	tests/common/test_logins.py tests/common/test_throttling.py tests/common/test_signals.py \
	tests/jwt_auth/test_views.py tests/session_auth/test_views.py \
	tests/common/mfa tests/schema/test_schema.py

test: lint migrate
	$(BIN)/python manage.py check --fail-level WARNING
	$(BIN)/python manage.py makemigrations --check --dry-run
	# An empty database: the one migrated above has the stock user model's history.
	DATABASE_URL=sqlite://:memory: $(BIN)/python manage.py check --fail-level WARNING \
		--settings $(CUSTOM_USER_SETTINGS)
	DATABASE_URL=sqlite://:memory: $(BIN)/python manage.py makemigrations --check --dry-run \
		--settings $(CUSTOM_USER_SETTINGS)
	$(BIN)/pytest $(PYTEST_ARGS)
	$(BIN)/pytest --ds=$(CUSTOM_USER_SETTINGS) $(PYTEST_ARGS) $(CUSTOM_USER_TESTS)

# Benchmarks (bench/README.md): QUICK=1 for a CI-sized run, BENCH_ARGS for the rest.
bench: $(VENV)/.dev .env
	$(BIN)/python -m bench $(if $(QUICK),--quick) $(BENCH_ARGS)

# The table of bench/results' figures and the comparative tests' outcomes (bench/README.md).
compare: $(VENV)/.dev .env
	$(BIN)/python -m bench.compare $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache staticfiles

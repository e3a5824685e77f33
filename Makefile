# Every target runs through uv with the committed lock; no Python is ever downloaded.
export UV_PYTHON_DOWNLOADS := never
HOST ?= 127.0.0.1
PORT ?= 8000
# uv from PATH, else the one `make uv` installs into a private venv (the system Python is untouched).
BOOTSTRAP := .bootstrap
UV ?= $(shell command -v uv 2>/dev/null || echo $(BOOTSTRAP)/bin/uv)
# Settings from a local .env (copy .env.example) when there is one; the environment wins over it.
RUN := $(UV) run --frozen $(if $(wildcard .env),--env-file .env)
# RELOAD=1 make run: restart the server when a file under app/ changes.
RELOAD_ARGS := $(if $(filter 1 true yes,$(RELOAD)),--reload --reload-dir app)

.DEFAULT_GOAL := help
.PHONY: help uv install run analyse test test-fast lint format typecheck migrate revision token eval train-analyzer bench audit container-smoke generate-types openapi wire-formats clients

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

uv: ## find uv, or install it into .bootstrap/ (a private venv) on first run
	@$(UV) --version >/dev/null 2>&1 || { \
	  echo "uv not found on PATH: installing it into $(BOOTSTRAP)/ (a private venv; the system Python is untouched)"; \
	  python3 -m venv $(BOOTSTRAP) && $(BOOTSTRAP)/bin/python -m pip install --quiet --disable-pip-version-check uv; \
	} || { echo "could not create $(BOOTSTRAP)/: install uv (https://docs.astral.sh/uv/) or python3-venv" >&2; exit 1; }

install: uv ## install the locked dependencies into .venv
	@$(UV) sync --frozen --quiet

run: install migrate ## serve http://$(HOST):$(PORT) (SQLite + offline analyzer; RELOAD=1 reloads on change)
	$(RUN) uvicorn app.main:app --host $(HOST) --port $(PORT) --loop uvloop --http app.edge_http:BoundedHttpToolsProtocol $(RELOAD_ARGS)

test: install ## run the whole suite against SQLite and PostgreSQL (PostgreSQL tests skip if it is down)
	$(RUN) pytest

test-fast: install ## the in-process tests on SQLite only (no PostgreSQL, Redis, subprocesses, Docker replay, fuzzing or slow tests)
	$(RUN) pytest -q -m "not postgres and not redis and not process and not container and not fuzz and not slow" --durations=5

lint: install ## ruff check and ruff format --check
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: install ## apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

typecheck: install ## mypy, strict on app/
	$(RUN) mypy

migrate: install ## apply migrations to DATABASE_URL
	@$(RUN) alembic upgrade head

revision: install ## autogenerate a migration: make revision m="what changed"
	$(RUN) alembic revision --autogenerate -m "$(m)"

token: uv ## print a dev bearer token (SUB, ORG, ROLE, TTL override the claims)
	@$(RUN) --quiet python -m app.cli token --sub "$${SUB:-dev-user}" --org "$${ORG:-dev-org}" --role "$${ROLE:-analyst}" --ttl "$${TTL:-120}"

analyse: install ## stream an analysis of FILE live (make analyse FILE=examples/contract.txt; TYPE, URL, FORMAT)
	@$(if $(FILE),,$(error usage: make analyse FILE=path/to/document.txt))
	@$(RUN) --quiet python -m app.cli analyse "$(FILE)" $(if $(TYPE),--type "$(TYPE)") $(if $(URL),--url "$(URL)") $(if $(FORMAT),--format "$(FORMAT)")

eval: install ## held-out figures on real Terms of Service and contracts (minutes), then the labelled set's table
	$(RUN) python -m tests.eval_claudette
	$(RUN) python -m tests.eval_cuad
	$(RUN) python -m tests.analyzer_eval

train-analyzer: install ## retrain the learned sentence models (rewrites app/analyzer/models/*.json and *.chars)
	$(RUN) python -m scripts.train_analyzer

bench: install ## the product against the article's reference (6-10 min; writes docs/performance.md)
	$(RUN) python -m bench.run
	$(RUN) python -m bench.analyzer_speed
	$(RUN) python -m bench.long_document
	$(RUN) python -m bench.resumable

audit: install ## pip-audit over the locked runtime dependencies (needs PyPI's JSON API)
	$(RUN) python -m scripts.audit

container-smoke: install ## replay the Dockerfile without Docker and smoke-test the image's command
	$(RUN) python -m scripts.container_smoke

generate-types: install ## regenerate clients/typescript/schemas.ts (Zod) from app/schemas.py
	@UV="$(UV)" bash clients/generate.sh types

openapi: install ## write the app's OpenAPI document to clients/openapi.json
	@UV="$(UV)" bash clients/generate.sh openapi

wire-formats: install ## regenerate docs/wire-formats.md (every stream event, JSON Schema) from app/schemas.py
	@UV="$(UV)" bash clients/generate.sh docs

clients: install ## TypeScript side: contract drift, tsc, next build, node tests (contract + e2e)
	bash clients/ci.sh

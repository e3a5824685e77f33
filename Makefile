# Every target runs through uv with the committed lock; no Python is ever downloaded.
export UV_PYTHON_DOWNLOADS := never
HOST ?= 127.0.0.1
PORT ?= 8000
UV ?= $(shell command -v uv 2>/dev/null || echo python3 -m uv)
RUN := $(UV) run --frozen

.DEFAULT_GOAL := help
.PHONY: help uv install run test test-fast lint format typecheck migrate revision token eval bench audit container-smoke generate-types openapi clients

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

uv:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

install: uv ## install the locked dependencies into .venv
	@$(UV) sync --frozen --quiet

run: install migrate ## serve the service on http://$(HOST):$(PORT) (SQLite + offline analyzer by default)
	$(RUN) uvicorn app.main:app --host $(HOST) --port $(PORT) --loop uvloop --http app.edge_http:BoundedHttpToolsProtocol

test: install ## run the whole suite against SQLite and PostgreSQL (PostgreSQL tests skip if it is down)
	$(RUN) pytest

test-fast: install ## the in-process tests on SQLite only (no PostgreSQL, subprocesses, Docker replay or fuzzing)
	$(RUN) pytest -q -m "not postgres and not process and not container and not fuzz and not slow" --durations=5

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

eval: install ## print the offline analyzer's precision/recall table
	$(RUN) python tests/analyzer_eval.py

bench: install ## the product against the article's reference (6-10 min; writes docs/performance.md)
	$(RUN) python bench/run.py
	$(RUN) python bench/analyzer_speed.py
	$(RUN) python -m bench.long_document

audit: install ## pip-audit over the locked runtime dependencies (needs PyPI's JSON API)
	$(RUN) python -m scripts.audit

container-smoke: install ## replay the Dockerfile without Docker and smoke-test the image's command
	$(RUN) python -m scripts.container_smoke

generate-types: install ## regenerate clients/typescript/schemas.ts (Zod) from app/schemas.py
	@UV="$(UV)" bash clients/generate.sh types

openapi: install ## write the app's OpenAPI document to clients/openapi.json
	@UV="$(UV)" bash clients/generate.sh openapi

clients: install ## TypeScript side: contract drift, tsc, next build, node tests (contract + e2e)
	bash clients/ci.sh

# Production image of the compliance-analysis service.
#
#   docker build -t compliance-stream .
#   docker run --rm -p 8000:8000 -e FASTAPI_JWT_SECRET="$(openssl rand -hex 32)" \
#     -e DATABASE_URL=postgresql+asyncpg://user:pass@db:5432/compliance compliance-stream
#
# Migrations are a separate step with the same image, never part of the server's start:
#   docker run --rm -e FASTAPI_JWT_SECRET=... -e DATABASE_URL=... compliance-stream alembic upgrade head
# (on Azure Container Apps: the job in deploy/azure/). tests/test_container.py replays this file.

# ---- build: resolve nothing, install exactly uv.lock into /app/.venv ----
FROM python:3.12-slim AS build

RUN pip install --no-cache-dir uv==0.13.9

# Byte-compile the dependencies now (faster cold start) and use the image's Python, never a
# downloaded one. uv's cache stays in this stage; only the venv reaches the runtime image.
ENV UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never

WORKDIR /app

# Dependencies only: this layer is rebuilt when pyproject.toml or uv.lock change, not on code edits.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

# ---- runtime: the venv and the code; no uv, no pip cache, no build tools ----
FROM python:3.12-slim AS runtime

# The service user, and the one directory it writes: prometheus_client's multiprocess files,
# so that /metrics adds up both workers (app/metrics.py).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app \
    && mkdir -p /tmp/prometheus \
    && chown app:app /tmp/prometheus

WORKDIR /app

COPY --from=build /app/.venv /app/.venv
# pyproject.toml: the version that /health reports (app/version.py).
COPY pyproject.toml ./
COPY app/ ./app/
COPY alembic/ ./alembic/
COPY alembic.ini ./

# The code is owned by root and read-only for the service user; compile it here, because
# PYTHONDONTWRITEBYTECODE (and the read-only tree) means it is never cached at run time.
RUN python -m compileall -q app alembic

# PATH: `uvicorn` and `alembic` are the venv's, with no `uv run` (which would re-sync at start).
# APP_ENV=production: the image refuses to start without a real FASTAPI_JWT_SECRET.
# FORWARDED_ALLOW_IPS: the proxies whose X-Forwarded-* headers uvicorn trusts (read by uvicorn
# itself); deployments set it to their ingress's addresses (deploy/azure/).
ENV PATH="/app/.venv/bin:$PATH" \
    VIRTUAL_ENV=/app/.venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_ENV=production \
    FORWARDED_ALLOW_IPS=127.0.0.1 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus

# The offline analyzer's learned models, compiled from their JSON to NumPy arrays: each worker
# then loads them in milliseconds instead of parsing 8 MB of JSON at start (app/analyzer/learned.py).
RUN python -m app.analyzer

USER 10001:10001

EXPOSE 8000

# Docker's own check (Azure Container Apps ignores it and uses the probes in deploy/azure/).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=3)"]

# Exec form: the launcher is PID 1 and gets SIGTERM itself. `python -m app.serve` checks the
# settings before any worker exists, so a refused configuration exits 3 (uvicorn's supervisor
# alone would exit 0); it then imports the modules both workers need once and forks them (they
# share those imports; uvicorn's supervisor would spawn two fresh interpreters that each import
# everything), and forwards SIGTERM to them. Every option is uvicorn's. Two workers per replica
# (scale out with replicas); graceful shutdown bounded at 17 s: the 15 s drain, 1 s for the last
# event and the final write, so a client that stopped reading cannot hold the process, inside
# the platform's 30 s termination grace. The log config makes uvicorn's own first lines JSON,
# like the app's.
CMD ["python", "-m", "app.serve", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--loop", "uvloop", "--http", "app.edge_http:BoundedHttpToolsProtocol", "--proxy-headers", "--timeout-graceful-shutdown", "17", "--log-config", "app/uvicorn_logging.json"]

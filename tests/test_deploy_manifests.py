"""The Azure Container Apps manifests (deploy/azure/) match what the app serves and reads.

Probe paths are routes of the real app, the port is the Dockerfile's, every environment variable
is a setting the app (or uvicorn) reads, secrets come from Key Vault, and the shutdown timeouts
nest: drain < uvicorn's graceful shutdown < the platform's termination grace.
"""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.routing import Match

from app.application import create_app
from app.config import Settings
from scripts.container_smoke import MIGRATE_COMMAND
from scripts.dockerfile import load_recipe

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "azure"
ENVIRONMENTS = ("production", "staging")
APP_FILE = "containerapp.yaml"
JOB_FILE = "migrate-job.yaml"

# Read by uvicorn and azure-identity themselves, not by app.config.Settings.
UVICORN_VARIABLES = {"FORWARDED_ALLOW_IPS", "AZURE_TOKEN_CREDENTIALS"}
# Container Apps' HTTP ingress times requests out after 240 s (learn.microsoft.com, "Ingress in
# Azure Container Apps"): a stream must end, with [DONE], before that.
INGRESS_REQUEST_TIMEOUT_SECONDS = 240
# Consumption-plan CPU/memory pairs: memory (GiB) is twice the vCPUs.
CONSUMPTION_GIB_PER_CPU = 2.0
# Ranges Container Apps accepts for probe fields (ContainerAppProbe in the REST API).
PROBE_LIMITS = {
    "initialDelaySeconds": (0, 60),
    "periodSeconds": (1, 240),
    "timeoutSeconds": (1, 240),
    "failureThreshold": (1, 10),
    "successThreshold": (1, 10),
}
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# Settings typed SecretStr, and the database URL (it carries the password): never a literal.
SENSITIVE = {
    name.upper()
    for name, field in Settings.model_fields.items()
    if SecretStr in getattr(field.annotation, "__args__", (field.annotation,))
} | {"DATABASE_URL"}

Manifest = dict[str, Any]


def load(environment: str, name: str) -> Manifest:
    data = yaml.safe_load((DEPLOY / environment / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def container(manifest: Manifest) -> dict[str, Any]:
    containers = manifest["properties"]["template"]["containers"]
    assert len(containers) == 1, "one container per replica"
    result: dict[str, Any] = containers[0]
    return result


def env_of(manifest: Manifest) -> dict[str, dict[str, Any]]:
    entries = container(manifest).get("env", [])
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)), f"duplicate variables: {names}"
    return {e["name"]: e for e in entries}


def probes_of(manifest: Manifest) -> dict[str, dict[str, Any]]:
    probes = container(manifest)["probes"]
    types = [p["type"] for p in probes]
    assert sorted(types) == ["Liveness", "Readiness", "Startup"], types
    return {p["type"]: p for p in probes}


def effective(manifest: Manifest, name: str) -> float:
    """A numeric setting: the manifest's value, else the app's default."""
    entry = env_of(manifest).get(name)
    if entry is not None:
        return float(entry["value"])
    field = Settings.model_fields[name.lower()]
    assert isinstance(field.default, int | float)
    return float(field.default)


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings(app_env="test", fastapi_jwt_secret="x" * 40))


def serves_get(app: FastAPI, path: str) -> bool:
    """True when one of the app's routes fully matches `GET path` (as the router decides)."""
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
    return any(route.matches(scope)[0] is Match.FULL for route in app.routes)


def test_route_matching_tells_routes_apart(app: FastAPI) -> None:
    assert serves_get(app, "/health")
    assert not serves_get(app, "/healthz")
    assert not serves_get(app, "/v1/analyse/stream")  # POST only


@pytest.fixture(scope="module")
def settings_variables() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def all_manifests() -> list[tuple[str, str]]:
    return [(env, name) for env in ENVIRONMENTS for name in (APP_FILE, JOB_FILE)]


def test_the_manifests_are_the_expected_files() -> None:
    found = sorted(p.relative_to(DEPLOY).as_posix() for p in DEPLOY.rglob("*.y*ml"))
    assert found == sorted(f"{env}/{name}" for env, name in all_manifests())
    for env in ENVIRONMENTS:
        assert load(env, APP_FILE)["type"] == "Microsoft.App/containerApps"
        assert load(env, JOB_FILE)["type"] == "Microsoft.App/jobs"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_probes_hit_real_routes_on_the_image_port(environment: str, app: FastAPI) -> None:
    manifest = load(environment, APP_FILE)
    recipe = load_recipe()
    port = int(recipe.option("--port"))
    assert recipe.exposed_ports == [port]

    ingress = manifest["properties"]["configuration"]["ingress"]
    assert ingress["targetPort"] == port

    probes = probes_of(manifest)
    assert probes["Startup"]["httpGet"]["path"] == "/health"
    assert probes["Liveness"]["httpGet"]["path"] == "/health"
    assert probes["Readiness"]["httpGet"]["path"] == "/ready"
    for kind, probe in probes.items():
        assert serves_get(app, probe["httpGet"]["path"]), f"{kind} probe: no such GET route"
        assert probe["httpGet"]["port"] == port
        for key, (low, high) in PROBE_LIMITS.items():
            if key in probe:
                assert low <= probe[key] <= high, f"{kind}.{key}={probe[key]} not in {low}..{high}"
        if kind in {"Liveness", "Startup"}:
            assert probe.get("successThreshold", 1) == 1
    # /ready waits up to DB_READY_TIMEOUT_SECONDS for the database: the probe must wait longer.
    assert probes["Readiness"]["timeoutSeconds"] > effective(manifest, "DB_READY_TIMEOUT_SECONDS")
    # Tolerant startup: at least 30 s before the platform gives up on a cold start.
    startup = probes["Startup"]
    budget = (
        startup.get("initialDelaySeconds", 0)
        + startup["periodSeconds"] * startup["failureThreshold"]
    )
    assert budget >= 30


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_ingress_is_internal_http(environment: str) -> None:
    ingress = load(environment, APP_FILE)["properties"]["configuration"]["ingress"]
    assert ingress["external"] is False
    assert ingress["transport"] == "http"  # HTTP/1.1 to the container: chunked SSE
    assert ingress.get("allowInsecure", False) is False


@pytest.mark.parametrize(("environment", "name"), all_manifests())
def test_every_variable_is_read_by_the_app(
    environment: str, name: str, settings_variables: set[str]
) -> None:
    for variable in env_of(load(environment, name)):
        assert variable in settings_variables | UVICORN_VARIABLES, (
            f"{variable} is neither a field of app.config.Settings nor read by uvicorn"
        )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_resumable_streams_share_one_event_log(environment: str) -> None:
    # The image runs two workers and the app scales out: a reconnect lands anywhere.
    entry = env_of(load(environment, APP_FILE))["REDIS_URL"]
    assert entry == {"name": "REDIS_URL", "secretRef": "redis-url"}


@pytest.mark.parametrize(("environment", "name"), all_manifests())
def test_secrets_come_from_key_vault(environment: str, name: str) -> None:
    manifest = load(environment, name)
    configuration = manifest["properties"]["configuration"]
    identities = set(manifest["identity"]["userAssignedIdentities"])
    secrets = {s["name"]: s for s in configuration["secrets"]}
    assert len(secrets) == len(configuration["secrets"])
    for secret_name, secret in secrets.items():
        assert "value" not in secret, f"{secret_name}: a literal secret in the manifest"
        assert re.fullmatch(
            r"\$\{KEY_VAULT_URI\}/secrets/" + re.escape(secret_name), secret["keyVaultUrl"]
        ), secret["keyVaultUrl"]
        assert secret["identity"] in identities, f"{secret_name}: identity not assigned"
    for registry in configuration["registries"]:
        assert registry["identity"] in identities
        assert "passwordSecretRef" not in registry

    referenced = set()
    for variable, entry in env_of(manifest).items():
        assert ("value" in entry) != ("secretRef" in entry), f"{variable}: value or secretRef"
        if "secretRef" in entry:
            assert entry["secretRef"] in secrets, f"{variable}: undeclared secret"
            referenced.add(entry["secretRef"])
        else:
            assert variable not in SENSITIVE, f"{variable} must come from a secretRef"
            assert isinstance(entry["value"], str), f"{variable}: quote the value"
    assert referenced == set(secrets), "declared secrets nobody uses"


# What `openssl rand -hex 24` prints: production refuses a predictable secret like 's' * 48.
SECRET_PLACEHOLDER = "9f1c2e7a4b8d3f60a5c1e9b27d4f8a3c0b5e6d7f8a9b0c1d"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_app_accepts_the_configuration(environment: str) -> None:
    """What the manifest sets (placeholders and secrets filled) is a valid production config."""
    values: dict[str, str] = {}
    for variable, entry in env_of(load(environment, APP_FILE)).items():
        if variable in UVICORN_VARIABLES:
            continue
        value = SECRET_PLACEHOLDER if "secretRef" in entry else entry["value"]
        if entry.get("secretRef") == "database-url":
            value = "postgresql+asyncpg://user:pass@db:5432/compliance"
        values[variable.lower()] = PLACEHOLDER.sub("https://example.openai.azure.com", value)
    settings = Settings.model_validate(values)
    assert settings.app_env == "production"
    assert settings.llm_provider == "azure"
    assert settings.azure_auth == "entra"
    assert settings.azure_openai_api_key is None


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_model_key_anywhere(environment: str) -> None:
    """Keyless Azure OpenAI: the identity gets tokens; no key is stored, referenced or set."""
    for name in (APP_FILE, JOB_FILE):
        text = (DEPLOY / environment / name).read_text(encoding="utf-8").lower()
        assert "api_key" not in text
        assert "api-key" not in text
    variables = env_of(load(environment, APP_FILE))
    assert variables["AZURE_TOKEN_CREDENTIALS"]["value"] == "ManagedIdentityCredential"
    assert variables["AZURE_CLIENT_ID"]["value"] == "${IDENTITY_CLIENT_ID}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_timeouts_nest(environment: str) -> None:
    manifest = load(environment, APP_FILE)
    grace = manifest["properties"]["template"]["terminationGracePeriodSeconds"]
    graceful = int(load_recipe().option("--timeout-graceful-shutdown"))
    drain = effective(manifest, "SHUTDOWN_DRAIN_SECONDS")
    # A client that stopped reading holds its connection open: uvicorn closes it at `graceful`,
    # once the drain (and the 1 s bound on the last event and the final write) is over.
    assert drain < graceful <= drain + 2 < grace
    assert effective(manifest, "STREAM_MAX_SECONDS") < INGRESS_REQUEST_TIMEOUT_SECONDS
    assert effective(manifest, "SSE_HEARTBEAT_SECONDS") < INGRESS_REQUEST_TIMEOUT_SECONDS
    forwarded = env_of(manifest)["FORWARDED_ALLOW_IPS"]["value"]
    assert "*" not in forwarded


@pytest.mark.parametrize(("environment", "minimum"), [("production", 1), ("staging", 0)])
def test_scaling(environment: str, minimum: int) -> None:
    manifest = load(environment, APP_FILE)
    scale = manifest["properties"]["template"]["scale"]
    assert scale["minReplicas"] == minimum
    assert scale["maxReplicas"] >= max(1, minimum)
    rules = [r for r in scale["rules"] if "http" in r]
    assert len(rules) == 1
    assert int(rules[0]["http"]["metadata"]["concurrentRequests"]) > 0

    resources = container(manifest)["resources"]
    workers = int(load_recipe().option("--workers"))
    assert float(resources["cpu"]) >= 0.5 * workers
    assert resources["memory"] == f"{float(resources['cpu']) * CONSUMPTION_GIB_PER_CPU:g}Gi"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_migration_job_runs_alembic_with_the_app_image(environment: str) -> None:
    job = load(environment, JOB_FILE)
    app = load(environment, APP_FILE)
    configuration = job["properties"]["configuration"]
    assert configuration["triggerType"] in {"Manual", "Schedule"}
    trigger = configuration.get("manualTriggerConfig") or configuration["scheduleTriggerConfig"]
    assert trigger["parallelism"] == 1
    assert trigger["replicaCompletionCount"] == 1

    migrate = container(job)
    assert migrate["image"] == container(app)["image"]
    assert tuple(migrate["command"]) == MIGRATE_COMMAND
    assert "args" not in migrate
    # `command` replaces the image's ENTRYPOINT; with none, the CMD (the server) is not run.
    assert not load_recipe().final.all("ENTRYPOINT")
    assert "DATABASE_URL" in env_of(job)
    assert "alembic" not in " ".join(str(a) for a in container(app).get("command", []))


def test_production_and_staging_differ_only_in_scale() -> None:
    for name in (APP_FILE, JOB_FILE):
        production, staging = (load(env, name) for env in ENVIRONMENTS)
        assert env_of(production) == env_of(staging)
        assert production["properties"].get("configuration") == staging["properties"].get(
            "configuration"
        )
        assert container(production) == container(staging)


def test_every_placeholder_is_documented() -> None:
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for env, name in all_manifests():
        text = (DEPLOY / env / name).read_text(encoding="utf-8")
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        assert "$" not in PLACEHOLDER.sub("", body), f"{env}/{name}: a $ envsubst would eat"
        for placeholder in PLACEHOLDER.findall(body):
            assert f"`${{{placeholder}}}`" in readme, f"${{{placeholder}}} not in the README"

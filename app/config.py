"""Settings, read once from the environment by `Settings()`; refuses insecure values in production."""

import ipaddress
import logging
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.schemas import MAX_CONTENT_CHARS

logger = logging.getLogger("app.config")

# Used only when APP_ENV is development or test and no secret is configured, so that
# `make run` and `make token` work with no setup. Production refuses to start without one.
DEV_JWT_SECRET = "dev-only-insecure-secret-change-me-0123456789"
MIN_SECRET_BYTES = 32
# `openssl rand -hex 32` has 16 distinct characters, base64 of 32 random bytes about 28; a
# secret like 'a'*32 or 'abab…' has a handful.
MIN_SECRET_DISTINCT_CHARS = 10
MAX_PRODUCTION_TOKEN_LIFETIME_SECONDS = 15 * 60
# Loopback, private, shared (carrier-grade NAT, used by container platforms) and link-local.
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


DEFAULT_SECTION_CHARS = 60_000
BODY_ENVELOPE_BYTES = 64 * 1024


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class ConfigError(Exception):
    """A setting that makes the service unsafe or unable to start."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    app_env: AppEnv = AppEnv.DEVELOPMENT
    fastapi_jwt_secret: SecretStr | None = None
    database_url: str = "sqlite+aiosqlite:///./compliance.db"
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_format: Literal["json", "text"] | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    metrics_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"]
    )
    metrics_allow_public: bool = False
    # None: served outside production only.
    api_docs: bool | None = None

    jwt_leeway_seconds: int = Field(default=10, ge=0, le=300)
    jwt_max_lifetime_seconds: int = Field(default=300, gt=0)
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_require_jti: bool = False

    store_document_content: bool = False
    max_content_chars: int = Field(default=MAX_CONTENT_CHARS, ge=1, le=MAX_CONTENT_CHARS)
    max_body_bytes: int | None = Field(default=None, ge=1024)
    body_read_timeout_seconds: float = Field(default=15.0, gt=0)
    max_header_bytes: int = Field(default=32 * 1024, ge=4096)
    header_read_timeout_seconds: float = Field(default=10.0, gt=0)
    org_max_concurrent_streams: int = Field(default=10, ge=1)
    user_requests_per_minute: int = Field(default=30, ge=1)
    db_ready_timeout_seconds: float = Field(default=2.0, gt=0)

    llm_provider: Literal["local", "openai", "azure"] = "local"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o"
    azure_openai_endpoint: str | None = None
    azure_openai_api_key: SecretStr | None = None
    # None: `key` when AZURE_OPENAI_API_KEY is set, else `entra` (the service's identity).
    azure_openai_auth: Literal["key", "entra"] | None = None
    azure_client_id: str | None = None
    azure_openai_deployment: str = "gpt-4o"
    openai_api_version: str = "2024-10-01-preview"
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    llm_fast_path: bool = True
    llm_structured_output: bool = True
    llm_section_chars: int | None = Field(default=None, ge=0)
    llm_section_concurrency: int = Field(default=4, ge=1, le=16)
    llm_max_event_bytes: int = Field(default=1 << 20, ge=1024)

    # The SDK reads it (and every other OTEL_* variable) itself; set, traces and metrics are on.
    otel_exporter_otlp_endpoint: str | None = None

    sse_heartbeat_seconds: float = Field(default=15.0, gt=0)
    sse_send_timeout_seconds: float = Field(default=20.0, gt=0)
    first_token_timeout_seconds: float = Field(default=60.0, gt=0)
    stream_max_seconds: float = Field(default=280.0, gt=0)
    shutdown_drain_seconds: float = Field(default=15.0, ge=0)

    # Resumable analyses (`?resumable=true`): the event log is in this process unless REDIS_URL
    # is set; with more than one worker or replica it must be.
    redis_url: str | None = None
    redis_key_prefix: str = "compliance:analysis:"
    resume_grace_seconds: float = Field(default=30.0, ge=0)
    resume_log_ttl_seconds: float = Field(default=300.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _csv_lists(cls, data: object) -> object:
        if isinstance(data, dict):
            for name in ("cors_origins", "metrics_allow"):
                if name in data:
                    data = {**data, name: _split_csv(data[name])}
        return data

    @model_validator(mode="after")
    def _refuse_insecure(self) -> Self:
        if self.app_env is not AppEnv.PRODUCTION:
            return self
        secret = self.fastapi_jwt_secret.get_secret_value() if self.fastapi_jwt_secret else ""
        reason = _weak_secret(secret)
        if reason:
            raise ValueError(f"FASTAPI_JWT_SECRET {reason} in production")
        if "*" in self.cors_origins:
            raise ValueError("CORS_ORIGINS must not contain '*' in production")
        if "null" in (origin.lower() for origin in self.cors_origins):
            # Sandboxed iframes and file:// pages send `Origin: null`: anyone can.
            raise ValueError("CORS_ORIGINS must not contain 'null' in production")
        public = [n for n in self.metrics_allow if not _is_private(n)]
        if public and not self.metrics_allow_public:
            raise ValueError(
                f"METRICS_ALLOW includes non-private networks ({', '.join(public)}) in "
                "production; set METRICS_ALLOW_PUBLIC=true if that is intended"
            )
        if self.jwt_max_lifetime_seconds > MAX_PRODUCTION_TOKEN_LIFETIME_SECONDS:
            raise ValueError(
                f"JWT_MAX_LIFETIME_SECONDS must be at most "
                f"{MAX_PRODUCTION_TOKEN_LIFETIME_SECONDS} in production"
            )
        return self

    @model_validator(mode="after")
    def _provider_complete(self) -> Self:
        if self.llm_provider == "openai" and self.openai_api_key is None:
            raise ValueError(
                "LLM_PROVIDER=openai needs OPENAI_API_KEY (any value for a keyless server)"
            )
        if self.llm_provider == "azure" and not self.azure_openai_endpoint:
            raise ValueError("LLM_PROVIDER=azure needs AZURE_OPENAI_ENDPOINT")
        if self.azure_openai_auth == "key" and self.azure_openai_api_key is None:
            raise ValueError("AZURE_OPENAI_AUTH=key needs AZURE_OPENAI_API_KEY")
        return self

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value

    @property
    def body_limit_bytes(self) -> int:
        """MAX_BODY_BYTES, or by default the largest body whose content is within the limit.

        JSON may escape a character as `\\uXXXX` (6 bytes), and one outside the Basic
        Multilingual Plane as a surrogate pair (12): every body the schema accepts must pass.
        """
        if self.max_body_bytes is not None:
            return self.max_body_bytes
        return 12 * self.max_content_chars + BODY_ENVELOPE_BYTES

    @property
    def section_chars(self) -> int:
        """Documents longer than this are analysed in sections (0: never), on the model path.

        The default fits gpt-4o's context with room for the answer; the offline analyzer takes
        any length in one pass.
        """
        if self.llm_section_chars is not None:
            return self.llm_section_chars
        return 0 if self.llm_provider == "local" else DEFAULT_SECTION_CHARS

    @property
    def azure_auth(self) -> Literal["key", "entra"]:
        """How the service authenticates to Azure OpenAI: an API key or Entra ID tokens."""
        if self.azure_openai_auth is not None:
            return self.azure_openai_auth
        return "key" if self.azure_openai_api_key is not None else "entra"

    @property
    def docs_enabled(self) -> bool:
        if self.api_docs is not None:
            return self.api_docs
        return self.app_env is not AppEnv.PRODUCTION

    @property
    def log_style(self) -> Literal["json", "text"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.app_env is AppEnv.PRODUCTION else "text"

    @property
    def jwt_secret(self) -> str:
        if self.fastapi_jwt_secret is not None and self.fastapi_jwt_secret.get_secret_value():
            return self.fastapi_jwt_secret.get_secret_value()
        return DEV_JWT_SECRET

    @property
    def uses_dev_secret(self) -> bool:
        return self.jwt_secret == DEV_JWT_SECRET


def _weak_secret(secret: str) -> str | None:
    """Why a production secret is too weak, or None."""
    if not secret.strip():
        return "is required"
    if secret != secret.strip():
        return "must not start or end with whitespace"
    if secret == DEV_JWT_SECRET:
        return "must not be the development secret"
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"must be at least {MIN_SECRET_BYTES} bytes"
    if len(set(secret)) < MIN_SECRET_DISTINCT_CHARS:
        return (
            f"is too predictable (fewer than {MIN_SECRET_DISTINCT_CHARS} distinct characters; "
            "use e.g. `openssl rand -hex 32`)"
        )
    return None


def _is_private(network: str) -> bool:
    parsed = ipaddress.ip_network(network, strict=False)
    return any(
        parsed.version == private.version and parsed.subnet_of(private)  # type: ignore[arg-type]
        for private in PRIVATE_NETWORKS
    )


def load_settings() -> Settings:
    """Settings from the environment, or ConfigError with a one-line reason."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) + ': ' if err['loc'] else ''}"
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {reasons}") from None

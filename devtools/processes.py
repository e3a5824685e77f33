"""Ports and environments for the service's child processes."""

import os
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIXES = (
    "APP_",
    "FASTAPI_",
    "DATABASE_",
    "CORS_",
    "JWT_",
    "LLM_",
    "OPENAI_",
    "AZURE_",
    "REDIS_",
    "RESUME_",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any of the service's settings, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIXES)}
    env.update(overrides)
    return env

"""Start-up: each provider imports only what it needs; `/ready` says 200 only when an analysis
can be served; the offline analyzer's compiled models are the JSON's, and never stale."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from app.analyzer import learned
from app.cli import mint_token
from app.version import service_version
from devtools.processes import ROOT, clean_env
from tests.conftest import TEST_SECRET, migrate
from tests.service_process import ServiceProcess

# Builds the application and its chat model as a worker does (and, offline, streams one answer),
# then names the heavy packages that were imported.
PROBE = """
import asyncio, sys
from app.application import create_app
from app.config import load_settings
from app.llm import build_chat_model
from app.prompt import build_messages
settings = load_settings()
create_app(settings)
chat = build_chat_model(settings)
async def answer():
    prompt = build_messages("The supplier's liability is unlimited.", "contract", "org")
    return [chunk async for chunk in chat.model.astream(prompt)]
if chat.provider == "local":
    assert asyncio.run(answer())[-1].usage_metadata
watched = (
    "openai", "langchain_openai", "langchain_core", "langsmith", "httpx2", "requests",
    "app.analyzer", "numpy", "jose",
)
print(" ".join(sorted(name for name in watched if name in sys.modules)))
"""


def run_probe(code: str, provider: str, tmp_path: Path) -> str:
    """What `code` prints in a fresh interpreter configured for `provider`."""
    env = clean_env(
        LLM_PROVIDER=provider,
        OPENAI_API_KEY="unused",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/unused.db",
        PYTHONPATH=str(ROOT),
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def imported_by(provider: str, tmp_path: Path) -> set[str]:
    return set(run_probe(PROBE, provider, tmp_path).split())


@pytest.mark.process
def test_the_offline_analyzer_imports_no_model_client(tmp_path: Path) -> None:
    loaded = imported_by("local", tmp_path)
    assert "app.analyzer" in loaded
    # Nor LangChain, not even its message classes (they import `requests`): the service streams
    # the analyzer's chunks itself.
    assert not loaded & {"openai", "langchain_openai", "langchain_core", "langsmith", "httpx2"}
    assert "requests" not in loaded


@pytest.mark.process
def test_the_openai_provider_imports_no_analyzer(tmp_path: Path) -> None:
    loaded = imported_by("openai", tmp_path)
    assert {"openai", "langchain_openai", "httpx2"} <= loaded
    assert not loaded & {"app.analyzer", "numpy"}


@pytest.mark.process
def test_tokens_are_verified_without_python_jose(tmp_path: Path) -> None:
    """PyJWT verifies HS256 with the standard library; python-jose imported RSA and ECDSA
    backends (rsa, ecdsa, pyasn1) at import that HS256 never uses."""
    assert "jose" not in imported_by("local", tmp_path)


@pytest.mark.process
async def test_ready_only_when_an_analysis_is_served(tmp_path: Path) -> None:
    """Every `/ready` 200 is followed by a served analysis; before it, `/ready` says why not."""
    database_url = f"sqlite+aiosqlite:///{tmp_path}/ready.db"
    await migrate(database_url)
    env = clean_env(
        APP_ENV="test",
        FASTAPI_JWT_SECRET=TEST_SECRET,
        DATABASE_URL=database_url,
        LLM_PROVIDER="local",
    )
    document = (ROOT / "examples" / "contract.txt").read_text(encoding="utf-8")
    token = mint_token(TEST_SECRET, sub="ready-probe", org="ready-probe", role="analyst")
    with ServiceProcess(env, tmp_path / "service.log", ("--workers", "2")) as service:
        not_ready = set()
        async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as client:
            while (ready := await client.get("/ready")).status_code != 200:
                assert ready.status_code == 503
                # Liveness says the same while loading as after: ok, and which release.
                health = await client.get("/health")
                assert health.json() == {"status": "ok", "version": service_version()}
                assert ready.json()["status"] == "unavailable"
                not_ready.add(ready.json()["model"])
            assert ready.json() == {"status": "ready", "database": "ok", "model": "ok"}
            # The worker that said ready serves at once (a new connection may reach the other
            # worker, which then answers when it is ready itself: both are 200s).
            for _ in range(4):
                response = await client.post(
                    "/v1/analyse",
                    json={"content": document, "document_type": "contract"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert response.status_code == 200, response.text
                assert response.json()["findings"]
        assert not_ready <= {"loading"}
        service.stop()


@pytest.mark.slow
def test_compiled_models_are_the_json_models(tmp_path: Path) -> None:
    for corpus in ("cuad", "claudette"):
        source = learned.model_path(corpus)
        shutil.copy(source, tmp_path / source.name)
        compiled = learned.compile_model(corpus, tmp_path)
        assert compiled.parent == tmp_path
        from_json = learned.SentenceModel.from_json(source.read_text(encoding="utf-8"))
        loaded = learned.read_model(corpus, tmp_path)
        assert loaded.vocabulary == from_json.vocabulary
        assert loaded.categories == from_json.categories
        assert loaded.corpus == from_json.corpus
        for name in ("idf", "weights", "bias", "thresholds"):
            ours, theirs = getattr(loaded, name), getattr(from_json, name)
            assert ours.dtype == theirs.dtype
            assert ours.flags.c_contiguous
            np.testing.assert_array_equal(ours, theirs)


def test_a_stale_or_broken_compilation_is_not_used(tmp_path: Path) -> None:
    source = learned.model_path("claudette")
    shutil.copy(source, tmp_path / source.name)
    learned.compile_model("claudette", tmp_path)
    # Retrained: the JSON changed after the compilation, which must then be ignored.
    document = json.loads(source.read_text(encoding="utf-8"))
    document["bias"] = [b + 1.0 for b in document["bias"]]
    (tmp_path / source.name).write_text(json.dumps(document), encoding="utf-8")
    model = learned.read_model("claudette", tmp_path)
    np.testing.assert_array_equal(model.bias, np.asarray(document["bias"]))
    (tmp_path / "claudette.npz").write_bytes(b"PK\x03\x04 not a zip")
    model = learned.read_model("claudette", tmp_path)
    np.testing.assert_array_equal(model.bias, np.asarray(document["bias"]))


async def test_the_service_streams_what_the_langchain_analyzer_streams() -> None:
    """`OfflineStream` (served) and `OfflineAnalyzer` (LangChain) give the same chunks."""
    from app.analyzer.chat_model import OfflineAnalyzer
    from app.analyzer.stream import OfflineStream
    from app.prompt import build_messages

    document = (ROOT / "examples" / "contract.txt").read_text(encoding="utf-8")
    messages = build_messages(document, "contract", "org-a")
    served = [chunk async for chunk in OfflineStream().astream(messages)]
    langchain = [chunk async for chunk in OfflineAnalyzer().astream(messages)]
    assert [c.content for c in served] == [c.content for c in langchain]
    assert served[-1].usage_metadata == langchain[-1].usage_metadata
    assert served[-1].last
    assert langchain[-1].chunk_position == "last"
    assert served[-1].response_metadata.items() <= langchain[-1].response_metadata.items()
    assert json.loads("".join(str(c.content) for c in served))["findings"]

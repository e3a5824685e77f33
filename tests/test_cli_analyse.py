"""`python -m app.cli analyse` as a user runs it: a real process against a real running service.

The service is a uvicorn server on a scratch SQLite database talking to the OpenAI-compatible
test server; the CLI is a subprocess whose stdout and stderr are read as the user would see them.
"""

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.schemas import AnalysisResult
from devtools.openai_server import OpenAIServer, Script
from tests.conftest import (
    TEST_SECRET,
    claims_for,
    live_server,
    migrate,
    openai_settings,
    scratch_database,
    sign,
)
from tests.service_process import ROOT, clean_env, free_port
from tests.test_stream import ANSWER, ANSWER_TOKENS

pytestmark = [pytest.mark.process, pytest.mark.slow]

MAX_BODY = 4096
PER_MINUTE = 2


@pytest.fixture(scope="module")
async def service(
    openai_server: OpenAIServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    async with scratch_database("sqlite", tmp_path_factory.mktemp("cli")) as url:
        await migrate(url)
        settings = openai_settings(
            url, openai_server, max_body_bytes=MAX_BODY, user_requests_per_minute=PER_MINUTE
        )
        async with live_server(settings) as base_url:
            await wait_ready(base_url)
            yield base_url


async def wait_ready(base_url: str, timeout: float = 120.0) -> None:
    """The model is built in the background after start-up: wait for it, bounded."""
    async with httpx.AsyncClient(base_url=base_url) as client, asyncio.timeout(timeout):
        while (await client.get("/ready")).status_code != 200:
            await asyncio.sleep(0.1)


@pytest.fixture
def upstream(openai_server: OpenAIServer) -> OpenAIServer:
    openai_server.reset()
    return openai_server


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "contract.txt"
    path.write_text("The Supplier's liability shall be unlimited.\n")
    return path


def cli_env(token: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in clean_env().items() if k not in ("TOKEN", "FORCE_COLOR", "NO_COLOR")}
    env.update(extra)
    env["COLUMNS"] = "200"
    if token is not None:
        env["TOKEN"] = token
    return env


async def start_cli(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await start_cli(*args, env=env)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


async def test_findings_show_while_the_stream_is_still_open(
    service: str, upstream: OpenAIServer, document: Path
) -> None:
    # The model stops (and holds the connection) after the first finding has been closed.
    first_closed = next(
        i for i in range(len(ANSWER_TOKENS)) if "medium" in "".join(ANSWER_TOKENS[: i + 1])
    )
    upstream.script(Script(tokens=ANSWER_TOKENS, hang_after=first_closed))
    env = cli_env(sign(claims_for()), FORCE_COLOR="1")
    process = await start_cli("analyse", str(document), "--url", service, env=env)
    try:
        assert process.stdout is not None
        seen = b""
        clause = ANSWER["findings"][0]["clause"].encode()  # type: ignore[index]
        async with asyncio.timeout(60):
            while clause not in seen:
                line = await process.stdout.readline()
                assert line, f"the CLI ended before the first finding: {seen!r}"
                seen += line
        assert process.returncode is None, "the finding came only at the end"
        assert b"\x1b[1;31m" in seen  # coloured by risk: bold red
        assert b"HIGH" in seen
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 130
        assert one_line(err.decode()) == "cancelled"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_a_completed_analysis_shows_the_summary_and_id(
    service: str, upstream: OpenAIServer, document: Path
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS))
    code, out, err = await run_cli(
        "analyse", str(document), "--url", service, env=cli_env(sign(claims_for()))
    )
    assert code == 0, err
    for finding in ANSWER["findings"]:  # type: ignore[attr-defined]
        assert finding["clause"] in out
    assert ANSWER["summary"] in out
    assert "2 findings: 1 high, 1 medium, 0 low" in out
    assert "analysis id: " in out
    assert upstream.requests[0].body["messages"][-1]["content"]  # the document reached the model


async def test_json_prints_the_final_result_and_ai_sdk_works(
    service: str, upstream: OpenAIServer, document: Path
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS))
    code, out, err = await run_cli(
        "analyse",
        str(document),
        "--url",
        service,
        "--format",
        "ai-sdk",
        "--json",
        env=cli_env(sign(claims_for())),
    )
    assert code == 0, err
    result = AnalysisResult.model_validate_json(out)
    assert [f.model_dump(mode="json") for f in result.findings] == ANSWER["findings"]
    assert f"analysis id: {result.analysis_id}" in err  # the live view went to stderr


async def test_a_failed_analysis_exits_1_with_one_line(
    service: str, upstream: OpenAIServer, document: Path
) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS, cut_after=3))
    code, _, err = await run_cli(
        "analyse", str(document), "--url", service, env=cli_env(sign(claims_for()))
    )
    assert code == 1
    assert one_line(err).startswith("error: the analysis failed: upstream_")


async def test_a_missing_file_is_a_usage_error(service: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    code, out, err = await run_cli(
        "analyse", str(missing), "--url", service, env=cli_env(sign(claims_for()))
    )
    assert code == 2
    assert out == ""
    assert one_line(err) == f"error: {missing}: no such file"


async def test_bad_arguments_are_usage_errors(document: Path) -> None:
    code, _, err = await run_cli("analyse", str(document), "--format", "xml", env=cli_env("t"))
    assert code == 2
    assert "invalid choice: 'xml'" in err


async def test_a_server_that_is_down(document: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = await run_cli("analyse", str(document), "--url", url, env=cli_env("t"))
    assert code == 1
    assert one_line(err) == f"error: cannot connect to {url} (is the service running?)"


async def test_401(service: str, document: Path) -> None:
    token = sign(claims_for(), secret="not-the-service-secret-0123456789abcdef")
    code, _, err = await run_cli(
        "analyse", str(document), "--url", service, "--token", token, env=cli_env()
    )
    assert code == 1
    line = one_line(err)
    assert line.startswith("error: 401 unauthorized: invalid token")
    assert line.endswith("(pass a valid token with --token or $TOKEN, or set FASTAPI_JWT_SECRET)")


async def test_413(service: str, tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("The Supplier's liability shall be unlimited. " * (MAX_BODY // 20))
    code, _, err = await run_cli(
        "analyse", str(big), "--url", service, env=cli_env(sign(claims_for()))
    )
    assert code == 1
    line = one_line(err)
    assert line.startswith("error: 413 ")
    assert line.endswith("(the document is larger than the service's MAX_BODY_BYTES)")


async def test_429_says_when_to_retry(service: str, upstream: OpenAIServer, document: Path) -> None:
    upstream.script(Script(tokens=ANSWER_TOKENS), times=PER_MINUTE)
    env = cli_env(sign(claims_for(sub="cli-rate-limited")))
    for _ in range(PER_MINUTE):
        env["TOKEN"] = sign(claims_for(sub="cli-rate-limited", org="cli-org"))
        code, _, err = await run_cli("analyse", str(document), "--url", service, env=env)
        assert code == 0, err
    env["TOKEN"] = sign(claims_for(sub="cli-rate-limited", org="cli-org"))
    code, _, err = await run_cli("analyse", str(document), "--url", service, env=env)
    assert code == 1
    line = one_line(err)
    assert line.startswith("error: 429 ")
    retry = line.rsplit("(retry after ", 1)[1].removesuffix(" s)")
    assert 1 <= int(retry) <= 60


async def test_a_minted_token_needs_no_setup(
    service: str, upstream: OpenAIServer, document: Path
) -> None:
    """No --token and no $TOKEN: the CLI signs one with the configured secret."""
    upstream.script(Script(tokens=ANSWER_TOKENS))
    env = cli_env(APP_ENV="test", FASTAPI_JWT_SECRET=TEST_SECRET)
    code, out, err = await run_cli("analyse", str(document), "--url", service, env=env)
    assert code == 0, err
    assert "analysis id: " in out

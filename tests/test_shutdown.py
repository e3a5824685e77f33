"""Graceful shutdown of a real uvicorn process with two workers."""

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.schemas import AnalysisStatus
from devtools.openai_server import OpenAIServer, Script
from devtools.waiting import eventually
from tests.conftest import TEST_SECRET, bearer, claims_for, sign
from tests.service_process import ServiceProcess, openai_env
from tests.test_stream import ANSWER_TOKENS, DOCUMENT, sse_events, wait_row


@pytest.mark.process
async def test_sigterm_drains_open_streams_and_exits_in_time(
    database_url: str, upstream: OpenAIServer, tmp_path: Path
) -> None:
    env = openai_env(database_url, upstream.base_url, TEST_SECRET, SHUTDOWN_DRAIN_SECONDS="2")
    # The first stream finishes within the drain budget; the others would take a minute.
    upstream.script(Script(tokens=ANSWER_TOKENS, delay=1.5 / len(ANSWER_TOKENS)))
    upstream.default_script = Script(tokens=ANSWER_TOKENS, delay=0.5)
    args = ("--workers", "2", "--timeout-graceful-shutdown", "10")
    org = claims_for()["org"]
    with ServiceProcess(env, tmp_path / "server.log", args) as service:
        await asyncio.to_thread(service.wait_ready)
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:

            async def stream(results: dict[str, str]) -> None:
                headers = bearer(sign(claims_for(org=org)))
                params = {"format": "tokens"}
                async with client.stream(
                    "POST", "/v1/analyse/stream", params=params, json=DOCUMENT, headers=headers
                ) as response:
                    assert response.status_code == 200
                    results["id"] = response.headers["x-analysis-id"]
                    body = ""
                    async for text in response.aiter_text():
                        body += text
                        results["started"] = "yes"
                results["body"] = body

            short: dict[str, str] = {}
            long = [{} for _ in range(3)]
            tasks = [asyncio.create_task(stream(short))]
            await eventually(lambda: "started" in short, within=30, what="the first stream")
            tasks += [asyncio.create_task(stream(r)) for r in long]
            await eventually(
                lambda: all("started" in r for r in long), within=30, what="the long streams"
            )

            assert service.process is not None
            signalled = time.monotonic()
            service.process.send_signal(signal.SIGTERM)
            await asyncio.gather(*tasks)
            drained = time.monotonic() - signalled
            try:
                late = await client.post(
                    "/v1/analyse/stream", json=DOCUMENT, headers=bearer(sign(claims_for()))
                )
                assert late.status_code == 503
                assert late.json()["error"]["code"] == "shutting_down"
            except httpx.TransportError:
                pass  # the listening socket is already closed: refused outright
        code = await asyncio.to_thread(service.stop, signal.SIGTERM, 15)
        exited = time.monotonic() - signalled
        log = service.output()

    assert code in (0, -signal.SIGTERM), log
    assert drained < 5, drained
    assert exited < 10, (exited, log)
    assert log.count("Finished server process") >= 2, log

    short_events = sse_events(short["body"])
    assert short_events[-1] == {"data": "[DONE]"}
    assert "error" not in short_events[-2]["data"]
    assert (await wait_row(database_url, short["id"])).status == AnalysisStatus.COMPLETED
    for result in long:
        events = sse_events(result["body"])
        assert events[-1] == {"data": "[DONE]"}
        error = json.loads(events[-2]["data"])["error"]
        assert error["code"] == "shutting_down"
        assert error["retryable"] is True
        row = await wait_row(database_url, result["id"])
        assert (row.status, row.error_code) == (AnalysisStatus.FAILED, "shutting_down")


@pytest.mark.process
async def test_sigterm_ends_every_reader_of_a_resumable_analysis_with_an_error_event(
    database_url: str, upstream: OpenAIServer, tmp_path: Path
) -> None:
    # The readers' guards and the producer share the drain budget: whichever stops first, each
    # reader's stream ends with the retryable error event and `[DONE]`, never just cut.
    env = openai_env(
        database_url,
        upstream.base_url,
        TEST_SECRET,
        SHUTDOWN_DRAIN_SECONDS="1",
        RESUME_GRACE_SECONDS="30",
    )
    upstream.default_script = Script(tokens=ANSWER_TOKENS, delay=0.5)
    headers = bearer(sign(claims_for()))
    with ServiceProcess(
        env, tmp_path / "server.log", ("--timeout-graceful-shutdown", "10")
    ) as service:
        await asyncio.to_thread(service.wait_ready)
        async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as client:
            bodies: dict[str, str] = {}
            started: dict[str, str] = {}

            async def read(name: str, method: str, url: str, **kwargs: Any) -> None:
                body = ""
                async with client.stream(method, url, headers=headers, **kwargs) as response:
                    assert response.status_code == 200, await response.aread()
                    started[name] = response.headers["x-analysis-id"]
                    async for text in response.aiter_text():
                        body += text
                bodies[name] = body

            params = {"format": "events", "resumable": "true"}
            tasks = [
                asyncio.create_task(
                    read("first", "POST", "/v1/analyse/stream", params=params, json=DOCUMENT)
                )
            ]
            await eventually(lambda: "first" in started, within=30, what="the first reader")
            analysis_id = started["first"]
            for name, fmt in (("events", "events"), ("tokens", "tokens")):
                url = f"/v1/analyses/{analysis_id}/stream"
                tasks.append(asyncio.create_task(read(name, "GET", url, params={"format": fmt})))
            await eventually(lambda: len(started) == 3, within=30, what="the readers")
            assert service.process is not None
            service.process.send_signal(signal.SIGTERM)
            await asyncio.gather(*tasks)
        await asyncio.to_thread(service.stop, signal.SIGTERM, 15)

    for name, body in bodies.items():
        events = sse_events(body)
        assert events[-1] == {"data": "[DONE]"}, (name, body)
        data = json.loads(events[-2]["data"])
        error = data["error"] if name == "tokens" else data
        assert (error["code"], error["retryable"]) == ("shutting_down", True), (name, body)
        # A reader's own stop sends its error without an id: the ids stay the log's.
        ids = [int(e["id"]) for e in events if "id" in e]
        assert ids == list(range(len(ids))), (name, body)
    row = await wait_row(database_url, analysis_id)
    assert (row.status, row.error_code) == (AnalysisStatus.FAILED, "shutting_down")

"""The model request is built while the row is written, and sent only once the row is committed."""

import asyncio
import uuid

import httpx2
import pytest

from app.errors import AppError
from app.llm import RowNotWritten, hold_requests_until
from app.llm.transport import model_http_client
from devtools.openai_server import OpenAIServer, Script

BODY = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


def held_post(
    client: httpx2.AsyncClient, upstream: OpenAIServer, write: "asyncio.Future[uuid.UUID]"
) -> "asyncio.Future[httpx2.Response]":
    """A model request made under the hold (the task copies the context when it is created)."""
    with hold_requests_until(write):
        return asyncio.ensure_future(
            client.post(f"{upstream.base_url}/chat/completions", json=BODY)
        )


@pytest.mark.parametrize("fast", [False, True], ids=["stock", "network"])
async def test_a_held_request_waits_for_the_row(upstream: OpenAIServer, fast: bool) -> None:
    upstream.script(Script(tokens=["ok"]))
    write: asyncio.Future[uuid.UUID] = asyncio.get_running_loop().create_future()
    async with model_http_client(5.0, fast=fast, url=upstream.base_url) as client:
        pending = held_post(client, upstream, write)
        await asyncio.sleep(0.2)
        assert not pending.done()
        assert upstream.requests == []
        write.set_result(uuid.uuid4())
        response = await pending
        # Outside the context nothing is held.
        again = await client.post(f"{upstream.base_url}/chat/completions", json=BODY)
    assert response.status_code == again.status_code == 200
    assert '"content":"ok"' in response.text
    assert len(upstream.requests) == 2


@pytest.mark.parametrize("fast", [False, True], ids=["stock", "network"])
@pytest.mark.parametrize(
    "error",
    [
        AppError(429, "rate_limited", "at most 3 analyses per minute per user"),
        AppError(503, "database_unavailable", "the database is unavailable"),
    ],
    ids=["refused", "database-down"],
)
async def test_a_row_that_was_not_written_sends_nothing(
    upstream: OpenAIServer, error: AppError, fast: bool
) -> None:
    write: asyncio.Future[uuid.UUID] = asyncio.get_running_loop().create_future()
    async with model_http_client(5.0, fast=fast, url=upstream.base_url) as client:
        pending = held_post(client, upstream, write)
        await asyncio.sleep(0.05)
        write.set_exception(error)
        with pytest.raises(RowNotWritten):
            await pending
    assert write.exception() is error
    assert upstream.requests == []

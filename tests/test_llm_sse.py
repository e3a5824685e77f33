"""The fast path's event-stream parser against the openai SDK's own decoder, on any split."""

import json
import random
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from openai._streaming import SSEDecoder  # the stock SDK's parser, as the reference

from app.llm.sse import EventTooLarge, sse_data
from devtools.openai_server import OpenAIServer, Script
from tests.conftest import Factory, bearer, live_server, openai_settings
from tests.test_stream import DOCUMENT


def recorded_stream(newline: bytes) -> bytes:
    """A chat-completion stream as a server sends it, with comments and multi-line data."""
    events = [b": keep-alive"]
    for index in range(40):
        chunk = {"choices": [{"index": 0, "delta": {"content": f"tok\u00e9n {index} \u2028"}}]}
        events.append(b"data: " + json.dumps(chunk).encode())
    events.append(b'event: message\ndata: {"first": 1,\ndata: "second": 2}')
    events.append(b"data: [DONE]")
    return b"".join(event.replace(b"\n", newline) + newline * 2 for event in events)


def reference(raw: bytes) -> list[bytes]:
    return [event.data.encode() for event in SSEDecoder().iter_bytes(iter([raw])) if event.data]


async def parse(blocks: list[bytes], max_event_bytes: int = 1 << 20) -> list[bytes]:
    async def feed() -> AsyncIterator[bytes]:
        for block in blocks:
            yield block

    return [data async for data in sse_data(feed(), max_event_bytes)]


def random_splits(raw: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(raw)), rng.randint(1, 60)))
    return [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
async def test_any_split_of_any_framing_parses_as_the_sdk_does(newline: bytes) -> None:
    raw = recorded_stream(newline)
    expected = reference(raw)
    assert len(expected) == 42
    rng = random.Random(newline)
    for _ in range(300):
        assert await parse(random_splits(raw, rng)) == expected
    # Every boundary, one byte at a time, including a \r\n split in two.
    assert await parse([raw[i : i + 1] for i in range(len(raw))]) == expected


async def test_an_event_that_never_ends_fails_in_linear_time() -> None:
    block = b"data: " + b"x" * 65_536
    started = time.process_time()
    with pytest.raises(EventTooLarge):
        await parse([block] * 512, max_event_bytes=1 << 20)  # 32 MiB offered
    assert time.process_time() - started < 0.5


@pytest.mark.any_database
async def test_an_oversized_model_event_is_invalid_model_output(
    database_url: str, upstream: OpenAIServer, token: Factory
) -> None:
    upstream.script(Script(tokens=["x" * (2 << 20)]))
    settings = openai_settings(database_url, upstream)
    async with live_server(settings) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/v1/analyse/stream", json=DOCUMENT, headers=bearer(token()))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "invalid_model_output"

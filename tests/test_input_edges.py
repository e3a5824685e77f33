"""Bodies the service cannot use get a JSON error that says what to send, never 400 or 500."""

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.db import create_engine
from app.models import Analysis
from tests.conftest import Factory, bearer

JSON = {"content-type": "application/json"}
ROUTES = ("/v1/analyse/stream", "/v1/analyse")

# name: (request arguments, status, error type, words the message must contain)
REFUSED: dict[str, tuple[dict[str, Any], int, str | None, str]] = {
    "not JSON": ({"content": b"hello there", "headers": JSON}, 422, "json_invalid", "JSON object"),
    "truncated JSON": (
        {"content": b'{"content": "x', "headers": JSON},
        422,
        "json_invalid",
        "line 1",
    ),
    "empty body": ({"content": b"", "headers": JSON}, 422, "json_invalid", "JSON object"),
    "invalid UTF-8": (
        {"content": b'{"content": "caf\xe9"}', "headers": JSON},
        422,
        "utf8_invalid",
        "UTF-8",
    ),
    "deep nesting": ({"content": b"[" * 100_000, "headers": JSON}, 422, "json_too_deep", "nested"),
    "deep objects": (
        {"content": b'{"a":' * 20_000 + b"1" + b"}" * 20_000, "headers": JSON},
        422,
        "json_too_deep",
        "nested",
    ),
    "5000-digit integer": (
        {"content": b'{"content": "x", "n": ' + b"7" * 5000 + b"}", "headers": JSON},
        422,
        "json_invalid",
        "number is too long",
    ),
    "NaN": ({"content": b'{"content": NaN}', "headers": JSON}, 422, "json_invalid", "NaN"),
    "an array": ({"json": [{"content": "x"}]}, 422, "json_not_object", "JSON object"),
    "a string": ({"json": "The Supplier may..."}, 422, "json_not_object", "JSON object"),
    "no Content-Type": (
        {"content": b'{"content": "x"}', "headers": {}},
        415,
        None,
        "Content-Type: application/json",
    ),
    "text/plain": (
        {"content": b'{"content": "x"}', "headers": {"content-type": "text/plain"}},
        415,
        None,
        "Content-Type: application/json",
    ),
    "form encoded": (
        {"data": {"content": "x"}},
        415,
        None,
        "Content-Type: application/json",
    ),
    "NUL in content": ({"json": {"content": "a\u0000b"}}, 422, "text_nul", "content: "),
    "NUL-only content": ({"json": {"content": "\u0000\u0000"}}, 422, "text_nul", "content: "),
    "whitespace-only content": ({"json": {"content": " \n\t "}}, 422, "text_blank", "content: "),
    "lone surrogate in content": (
        {"content": b'{"content": "clause \\ud800 one"}', "headers": JSON},
        422,
        "string_unicode",
        "content: ",
    ),
    "NUL in document_type": (
        {"json": {"content": "x", "document_type": "contract\u0000"}},
        422,
        "string_pattern_mismatch",
        "document_type: ",
    ),
}


async def _rows(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            count: int = (await connection.execute(select(func.count(Analysis.id)))).scalar_one()
    finally:
        await engine.dispose()
    return count


@pytest.mark.parametrize("route", ROUTES)
async def test_unusable_bodies_are_refused_with_a_readable_error(
    client: httpx.AsyncClient, token: Factory, database_url: str, route: str
) -> None:
    before = await _rows(database_url)
    for name, (request, status, kind, words) in REFUSED.items():
        arguments = dict(request)
        arguments["headers"] = {**arguments.get("headers", {}), **bearer(token())}
        response = await client.post(route, **arguments)
        assert response.status_code == status, (name, response.text)
        assert response.headers["content-type"] == "application/json", name
        error = response.json()["error"]
        assert words in error["message"], (name, error)
        assert error["request_id"] == response.headers["x-request-id"]
        if kind is not None:
            assert error["code"] == "validation_error"
            assert kind in {detail["type"] for detail in error["details"]}, (name, error)
        else:
            assert error["code"] == "unsupported_media_type"
    # Nothing was written: no row left `streaming`, nothing counted against the limits.
    assert await _rows(database_url) == before


@pytest.mark.any_database
async def test_json_with_a_suffix_media_type_and_charset_is_accepted(
    client: httpx.AsyncClient, token: Factory
) -> None:
    body = b'{"content": "The Supplier may terminate at any time."}'
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        headers = {"content-type": content_type, **bearer(token())}
        response = await client.post("/v1/analyse", content=body, headers=headers)
        assert response.status_code == 200, (content_type, response.text)


@pytest.mark.any_database
async def test_one_validation_problem_is_named_in_the_message(
    client: httpx.AsyncClient, token: Factory
) -> None:
    response = await client.post(
        "/v1/analyse", json={"content": "x", "extra": 1}, headers=bearer(token())
    )
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("extra: ")

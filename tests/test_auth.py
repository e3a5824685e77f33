import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.auth import consume_jti, purge_expired_jtis
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.models import UsedJti
from tests.conftest import (
    TEST_SECRET,
    Factory,
    bearer,
    claims_for,
    make_settings,
    running_client,
    sign,
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)]
    )


def hs256_raw(header: bytes, payload: bytes) -> str:
    signing_input = f"{b64(header)}.{b64(payload)}"
    mac = hmac.new(TEST_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def tampered() -> str:
    header, _payload, signature = sign(claims_for(org="org-a")).split(".")
    forged = b64(json.dumps(claims_for(org="org-b")).encode())
    return f"{header}.{forged}.{signature}"


def without(claim: str) -> str:
    claims = claims_for()
    del claims[claim]
    return sign(claims)


def now() -> int:
    return int(time.time())


def raw_claims(text: str) -> str:
    """A correctly signed token whose payload is exactly `text` (JSON the encoder would not write)."""
    return hs256_raw(b'{"alg":"HS256","typ":"JWT"}', text.encode())


def claims_json(**raw: str) -> str:
    """Valid claims with some values replaced by raw JSON text (e.g. Infinity, a lone surrogate)."""
    fields = {k: json.dumps(v) for k, v in claims_for().items()}
    fields.update(raw)
    return raw_claims("{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}")


def with_header(**header: Any) -> str:
    return sign(claims_for(), headers=header)


# Built when each test runs: time-relative tokens must not age during a long session.

ATTACKS: dict[str, Callable[[], dict[str, str]]] = {
    "missing header": lambda: {},
    "other scheme": lambda: {"Authorization": "Basic dXNlcjpwYXNz"},
    "empty bearer": lambda: {"Authorization": "Bearer "},
    "garbage": lambda: bearer("not-a-jwt"),
    "garbage three parts": lambda: bearer("aaa.bbb.ccc"),
    "non-json header": lambda: bearer(f"{b64(b'nope')}.{b64(b'{}')}.{b64(b'x')}"),
    "alg none unsigned": lambda: bearer(raw_token({"alg": "none", "typ": "JWT"}, claims_for())),
    "alg None unsigned": lambda: bearer(raw_token({"alg": "None"}, claims_for())),
    "alg NONE unsigned": lambda: bearer(raw_token({"alg": "NONE"}, claims_for())),
    "alg none signed": lambda: bearer(raw_token({"alg": "none"}, claims_for(), b"signature")),
    "alg missing": lambda: bearer(raw_token({"typ": "JWT"}, claims_for(), b"signature")),
    "HS384": lambda: bearer(sign(claims_for(), algorithm="HS384")),
    "HS512": lambda: bearer(sign(claims_for(), algorithm="HS512")),
    "RS256 header": lambda: bearer(raw_token({"alg": "RS256"}, claims_for(), b"\x01" * 256)),
    "ES256 header": lambda: bearer(raw_token({"alg": "ES256"}, claims_for(), b"\x01" * 64)),
    "wrong secret": lambda: bearer(
        sign(claims_for(), secret="another-secret-of-sufficient-length-123")
    ),
    "tampered payload": lambda: bearer(tampered()),
    "expired": lambda: bearer(sign(claims_for(iat=now() - 200, exp=now() - 60))),
    "future nbf": lambda: bearer(sign(claims_for(nbf=now() + 60))),
    "future iat": lambda: bearer(sign(claims_for(iat=now() + 60, exp=now() + 120))),
    "over-long lifetime": lambda: bearer(sign(claims_for(exp=now() + 3600))),
    "missing sub": lambda: bearer(without("sub")),
    "missing org": lambda: bearer(without("org")),
    "missing role": lambda: bearer(without("role")),
    "missing exp": lambda: bearer(without("exp")),
    "missing iat": lambda: bearer(without("iat")),
    "sub not a string": lambda: bearer(sign(claims_for(sub=123))),
    "org a list": lambda: bearer(sign(claims_for(org=["org-a"]))),
    "role null": lambda: bearer(sign(claims_for(role=None))),
    "role an object": lambda: bearer(sign(claims_for(role={"admin": True}))),
    "exp a string": lambda: bearer(sign(claims_for(exp=str(now() + 120)))),
    "iat a string": lambda: bearer(sign(claims_for(iat=str(now())))),
    "exp a boolean": lambda: bearer(sign(claims_for(exp=True))),
    "empty sub": lambda: bearer(sign(claims_for(sub=""))),
    "blank org": lambda: bearer(sign(claims_for(org="   "))),
    "empty role": lambda: bearer(sign(claims_for(role=""))),
    "jti not a string": lambda: bearer(sign(claims_for(jti=42))),
    "64 KB token": lambda: bearer(sign(claims_for(padding="x" * 64 * 1024))),
    "payload not an object": lambda: bearer(hs256_raw(b'{"alg":"HS256"}', b"[1, 2]")),
    "exp 10**400": lambda: bearer(sign(claims_for(exp=10**400))),
    "iat 10**400": lambda: bearer(sign(claims_for(iat=10**400))),
    "iat -10**400": lambda: bearer(sign(claims_for(iat=-(10**400)))),
    "nbf 10**400": lambda: bearer(sign(claims_for(nbf=10**400))),
    "exp Infinity": lambda: bearer(claims_json(exp="Infinity")),
    "exp NaN": lambda: bearer(claims_json(exp="NaN")),
    "iat -Infinity": lambda: bearer(claims_json(iat="-Infinity")),
    "exp 1e400": lambda: bearer(claims_json(exp="1e400")),
    "exp a float past 9999": lambda: bearer(sign(claims_for(exp=1e300))),
    "NUL in sub": lambda: bearer(sign(claims_for(sub="user\u0000x"))),
    "NUL in org": lambda: bearer(sign(claims_for(org="org\u0000x"))),
    "NUL in role": lambda: bearer(sign(claims_for(role="\u0000"))),
    "NUL in jti": lambda: bearer(sign(claims_for(jti=f"{uuid.uuid4().hex}\u0000"))),
    "newline in org": lambda: bearer(sign(claims_for(org="org-a\nINFO forged: line"))),
    "ANSI in sub": lambda: bearer(sign(claims_for(sub="\u001b[31mred\u001b[0m"))),
    "lone surrogate in org": lambda: bearer(claims_json(org='"org-\\ud800"')),
    "lone surrogate in jti": lambda: bearer(claims_json(jti='"jti-\\udfff"')),
    "empty jti": lambda: bearer(sign(claims_for(jti=""))),
    "crit unknown extension": lambda: bearer(with_header(crit=["b64"], b64=False)),
    "crit naming a made-up extension": lambda: bearer(with_header(crit=["x-ext"], **{"x-ext": 1})),
    "crit empty list": lambda: bearer(with_header(crit=[])),
    "crit not a list": lambda: bearer(with_header(crit="exp")),
    "header not an object": lambda: bearer(hs256_raw(b'["HS256"]', b"{}")),
}


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["error"]["code"] == "unauthorized"
    assert body["error"]["message"]
    assert body["error"]["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_attack_is_refused(client: httpx.AsyncClient, attack: str) -> None:
    assert_unauthorized(await client.get("/v1/me", headers=ATTACKS[attack]()))


BODY_ROUTES = ("/v1/analyse/stream", "/v1/analyse")
# Bodies every later stage would refuse with 413, 415 or 422: without a token, still 401.
BAD_BODIES: dict[str, dict[str, Any]] = {
    "malformed JSON": {"content": b'{"content": ', "headers": {"content-type": "application/json"}},
    "no content type": {"content": b'{"content": "x"}', "headers": {}},
    "text/plain": {"content": b"hello", "headers": {"content-type": "text/plain"}},
    "invalid UTF-8": {
        "content": b'{"content": "\xff"}',
        "headers": {"content-type": "application/json"},
    },
    "an array": {"json": [1, 2]},
    "not the contract": {"json": {"nope": 1}},
    "too large": {"json": {"content": "x" * 300_000}},
}


@pytest.mark.any_database
@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize("body", list(BAD_BODIES))
async def test_auth_runs_before_the_body_is_read(
    client: httpx.AsyncClient, route: str, body: str
) -> None:
    for headers in ({}, ATTACKS["expired"](), ATTACKS["NUL in jti"]()):
        request = dict(BAD_BODIES[body])
        request["headers"] = {**request.get("headers", {}), **headers}
        assert_unauthorized(await client.post(route, **request))


@pytest.mark.any_database
async def test_unknown_protected_paths_are_401_without_a_token(client: httpx.AsyncClient) -> None:
    assert_unauthorized(await client.get("/v1/no-such-thing"))
    assert_unauthorized(await client.post("/v1/analyses", content=b"{"))


async def test_article_token_is_accepted(client: httpx.AsyncClient) -> None:
    # Exactly what the Next.js side mints: sub, org, role, iat and a 2-minute exp, HS256.
    now = int(time.time())
    claims = {"sub": "user-1", "org": "org-1", "role": "admin", "iat": now, "exp": now + 120}
    response = await client.get("/v1/me", headers=bearer(sign(claims)))
    assert response.status_code == 200, response.text
    assert response.json() == {"sub": "user-1", "org": "org-1", "role": "admin"}


async def test_clock_skew_within_leeway_is_accepted(client: httpx.AsyncClient) -> None:
    now = int(time.time())
    token = sign(claims_for(iat=now - 125, exp=now - 5))
    assert (await client.get("/v1/me", headers=bearer(token))).status_code == 200
    token = sign(claims_for(iat=now + 5, exp=now + 125))
    assert (await client.get("/v1/me", headers=bearer(token))).status_code == 200


async def test_jti_is_single_use_across_workers(settings: Settings) -> None:
    token = sign(claims_for(jti=uuid.uuid4().hex))
    # Two app instances on one database stand for two workers (or two replicas).
    async with running_client(settings) as first, running_client(settings) as second:
        assert (await first.get("/v1/me", headers=bearer(token))).status_code == 200
        assert_unauthorized(await second.get("/v1/me", headers=bearer(token)))
        assert_unauthorized(await first.get("/v1/me", headers=bearer(token)))


async def test_a_token_id_is_recorded_once_with_its_expiry(database_url: str) -> None:
    engine = create_engine(database_url)
    jti, exp = f"once-{uuid.uuid4().hex}", time.time() + 120
    try:
        assert await consume_jti(engine, jti, exp)
        assert not await consume_jti(engine, jti, exp)
        async with create_sessionmaker(engine)() as session:
            stored = (await session.scalars(select(UsedJti).where(UsedJti.jti == jti))).all()
    finally:
        await engine.dispose()
    assert len(stored) == 1
    assert stored[0].expires_at == datetime.fromtimestamp(exp, UTC)


async def test_required_jti(database_url: str, token: Factory) -> None:
    settings = make_settings(database_url, jwt_require_jti=True)
    async with running_client(settings) as client:
        assert_unauthorized(await client.get("/v1/me", headers=bearer(token())))
        response = await client.get("/v1/me", headers=bearer(token(jti=uuid.uuid4().hex)))
        assert response.status_code == 200


async def test_audience_and_issuer_are_required_when_configured(
    database_url: str, token: Factory
) -> None:
    settings = make_settings(database_url, jwt_audience="compliance-api", jwt_issuer="web")
    async with running_client(settings) as client:
        for bad in (
            token(),
            token(aud="compliance-api"),
            token(iss="web"),
            token(aud="other", iss="web"),
            token(aud="compliance-api", iss="other"),
        ):
            assert_unauthorized(await client.get("/v1/me", headers=bearer(bad)))
        good = token(aud="compliance-api", iss="web")
        assert (await client.get("/v1/me", headers=bearer(good))).status_code == 200


async def test_expired_jtis_are_purged(database_url: str) -> None:
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    old, fresh = f"old-{uuid.uuid4().hex}", f"fresh-{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    async with sessionmaker() as session:
        session.add(UsedJti(jti=old, expires_at=now - timedelta(minutes=5)))
        session.add(UsedJti(jti=fresh, expires_at=now + timedelta(minutes=5)))
        await session.commit()
    assert await purge_expired_jtis(sessionmaker, leeway_seconds=10) >= 1
    async with sessionmaker() as session:
        left = set((await session.scalars(select(UsedJti.jti))).all())
    await engine.dispose()
    assert old not in left
    assert fresh in left


def test_secret_used_by_the_suite_is_not_the_dev_secret() -> None:
    assert make_settings("sqlite+aiosqlite://").jwt_secret == TEST_SECRET

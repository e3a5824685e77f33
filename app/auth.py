"""The auth boundary: a short-lived HS256 JWT minted by the Next.js server, validated on every call."""

import logging
import math
import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any, cast

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Table, bindparam, delete, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import telemetry
from app.config import Settings
from app.db import SessionMaker, driver_write
from app.deps import EngineDep, SettingsDep
from app.errors import unauthorized
from app.models import UsedJti, utcnow
from app.schemas import TokenPayload
from app.scope import TOKEN_CLAIMS, USER

logger = logging.getLogger("app.auth")

MAX_TOKEN_BYTES = 4096
MAX_CLAIM_CHARS = 255
REQUIRED_STRINGS = ("sub", "org", "role")
# Seconds since the epoch that a datetime can hold; anything beyond is not a real time.
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z
# Control characters and lone surrogates: a database text column refuses some of them and a
# log line must not carry any, so a claim holding one is not a valid identifier.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# JWS header parameters this service understands; a `crit` naming any other must be refused.
UNDERSTOOD_CRIT: frozenset[str] = frozenset()

_bearer = HTTPBearer(auto_error=False, description="HS256 JWT with sub, org and role claims.")


class InvalidToken(Exception):
    pass


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"claim '{name}' must be a number")
    # Compare before converting: float() of a 400-digit integer raises OverflowError.
    if not (isinstance(value, int) or math.isfinite(value)) or not 0 <= value <= MAX_TIMESTAMP:
        raise InvalidToken(f"claim '{name}' is not a valid time")
    return float(value)


def _identifier(claims: dict[str, Any], name: str) -> None:
    value = claims.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidToken(f"claim '{name}' must be a non-empty string")
    if len(value) > MAX_CLAIM_CHARS:
        raise InvalidToken(f"claim '{name}' is too long")
    if _UNPRINTABLE.search(value):
        raise InvalidToken(f"claim '{name}' contains control characters")


def _check_header(token: str) -> None:
    header = jwt.get_unverified_header(token)
    if header.get("alg") != "HS256":
        raise InvalidToken("only HS256 tokens are accepted")
    if "crit" in header:
        crit = header["crit"]
        # RFC 7515 4.1.11: a non-empty list of extensions the recipient must understand.
        if not isinstance(crit, list) or not crit or not set(crit) <= UNDERSTOOD_CRIT:
            raise InvalidToken("unsupported critical header parameter")


def validate_token(token: str, settings: Settings, now: float | None = None) -> dict[str, Any]:
    """Verify signature and claims; return the claims or raise InvalidToken."""
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken("token too large")
    now = time.time() if now is None else now
    leeway = settings.jwt_leeway_seconds
    required = ["exp", "iat", "sub"]
    required += ["aud"] if settings.jwt_audience is not None else []
    required += ["iss"] if settings.jwt_issuer is not None else []
    required += ["jti"] if settings.jwt_require_jti else []
    try:
        _check_header(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            options={"require": required},
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=leeway,
        )
    except InvalidToken:
        raise
    except Exception as exc:  # malformed input can raise more than PyJWT's own errors
        raise InvalidToken(_reason(exc)) from None

    for name in REQUIRED_STRINGS:
        _identifier(claims, name)
    exp, iat = _number(claims, "exp"), _number(claims, "iat")
    if exp <= now - leeway:
        raise InvalidToken("token has expired")
    if iat > now + leeway:
        raise InvalidToken("token issued in the future")
    if exp - iat > settings.jwt_max_lifetime_seconds:
        raise InvalidToken("token lifetime exceeds the allowed maximum")
    if "jti" in claims:
        _identifier(claims, "jti")
    return claims


# Claim checks whose message says which claim was wrong (never the token or a claim's value).
_CLAIM_ERRORS = (
    jwt.ImmatureSignatureError,
    jwt.InvalidAudienceError,
    jwt.InvalidIssuedAtError,
    jwt.InvalidIssuerError,
    jwt.MissingRequiredClaimError,
)


def _reason(exc: Exception) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "token has expired"
    if isinstance(exc, _CLAIM_ERRORS):
        return str(exc)[:200]
    if isinstance(exc, jwt.InvalidSignatureError):
        return "signature verification failed"
    return "malformed token"


# A replay writes nothing instead of raising: no error path, and the connection stays pooled.
_USED_JTIS = cast(Table, UsedJti.__table__)
_INSERT_JTI = text(
    f"INSERT INTO {_USED_JTIS.name} (jti, expires_at) VALUES (:jti, :expires_at) "  # noqa: S608
    "ON CONFLICT DO NOTHING"
).bindparams(
    bindparam("jti", type_=_USED_JTIS.c.jti.type),
    bindparam("expires_at", type_=_USED_JTIS.c.expires_at.type),
)


async def consume_jti(engine: AsyncEngine, jti: str, exp: float) -> bool:
    """Record a token id as used; False when it was used before (a replay)."""
    expires_at = datetime.fromtimestamp(exp, UTC)
    return await driver_write(engine, _INSERT_JTI, {"jti": jti, "expires_at": expires_at}) == 1


async def purge_expired_jtis(sessionmaker: SessionMaker, leeway_seconds: int) -> int:
    cutoff = datetime.fromtimestamp(utcnow().timestamp() - leeway_seconds, UTC)
    async with sessionmaker() as session:
        result = await session.execute(delete(UsedJti).where(UsedJti.expires_at < cutoff))
        await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


async def get_current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    settings: SettingsDep,
    engine: EngineDep,
) -> TokenPayload:
    # AuthGate has validated the token before the body was read; this is the fallback for an
    # app mounted without it.
    claims: dict[str, Any] | None = request.scope["state"].get(TOKEN_CLAIMS)
    if claims is None:
        if credentials is None:
            raise unauthorized("missing bearer token")
        try:
            claims = validate_token(credentials.credentials, settings)
        except InvalidToken as exc:
            logger.info("token rejected: %s", exc)
            raise unauthorized(f"invalid token: {exc}") from None
    jti = claims.get("jti")
    if jti is not None and not await telemetry.traced(
        "auth.jti", consume_jti(engine, jti, claims["exp"])
    ):
        logger.warning("token replay rejected")
        raise unauthorized("invalid token: token has already been used")
    user = TokenPayload(sub=claims["sub"], org=claims["org"], role=claims["role"])
    # Read by the access log, which runs outside the route.
    request.scope["state"][USER] = user
    return user


CurrentUser = Annotated[TokenPayload, Depends(get_current_user)]

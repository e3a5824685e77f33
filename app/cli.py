"""Command line: `python -m app.cli token ...` mints a token signed with the configured secret."""

import argparse
import json
import secrets
import sys
import time
from pathlib import Path

from jose import jwt

from app.config import ConfigError, load_settings


def mint_token(
    secret: str, sub: str, org: str, role: str, ttl: int = 120, jti: str | None = None
) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"sub": sub, "org": org, "role": role, "iat": now, "exp": now + ttl}
    if jti is not None:
        claims["jti"] = jti
    token: str = jwt.encode(claims, secret, algorithm="HS256")
    return token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.cli")
    commands = parser.add_subparsers(dest="command", required=True)

    token = commands.add_parser("token", help="print a bearer token signed with the secret")
    token.add_argument("--sub", required=True)
    token.add_argument("--org", required=True)
    token.add_argument("--role", required=True)
    token.add_argument("--ttl", type=int, default=120, help="seconds until expiry (default 120)")
    token.add_argument(
        "--jti", nargs="?", const="", default=None, help="single-use id (random when no value)"
    )

    body = commands.add_parser("body", help="print an analysis request body for a text file")
    body.add_argument("path", type=Path)
    body.add_argument("--type", dest="document_type", default=None)

    args = parser.parse_args(argv)
    if args.command == "token":
        try:
            settings = load_settings()
        except ConfigError as exc:
            sys.stderr.write(f"{exc}\n")
            return 2
        jti = args.jti if args.jti else (secrets.token_urlsafe(16) if args.jti == "" else None)
        sys.stdout.write(
            mint_token(settings.jwt_secret, args.sub, args.org, args.role, args.ttl, jti) + "\n"
        )
        return 0
    document_type = args.document_type or args.path.stem
    payload = {"content": args.path.read_text(encoding="utf-8"), "document_type": document_type}
    sys.stdout.write(json.dumps(payload) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line: `token` mints a token signed with the configured secret, `body` prints a request
body for a file, `analyse` streams an analysis of a file to the terminal (app/terminal.py)."""

import argparse
import json
import os
import re
import secrets
import sys
import time
from pathlib import Path

import jwt

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


# The file name is the document type when it looks like one (examples/contract.txt → contract).
_TYPE_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\- ]{0,63}$")
DEFAULT_URL = "http://127.0.0.1:8000"


def type_from_name(path: Path) -> str | None:
    return path.stem if _TYPE_LIKE.match(path.stem) else None


def _analyse(args: argparse.Namespace) -> int:
    # Imported here: `token` and `body` stay quick and need neither rich nor an HTTP client.
    from app.terminal import USAGE, Request, analyse

    token = args.token or os.environ.get("TOKEN")
    if not token:
        try:
            settings = load_settings()
        except ConfigError as exc:
            sys.stderr.write(f"error: {exc} (or pass --token)\n")
            return USAGE
        token = mint_token(settings.jwt_secret, args.sub, args.org, args.role)
    request = Request(
        path=args.path,
        document_type=args.document_type or type_from_name(args.path),
        url=args.url,
        stream_format=args.format,
        token=token,
        as_json=args.json,
    )
    return analyse(request)


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

    run = commands.add_parser(
        "analyse",
        help="stream an analysis of a text file and show it live",
        description="Exit codes: 0 completed, 1 failed, 2 usage.",
    )
    run.add_argument("path", type=Path, metavar="FILE")
    run.add_argument("--type", dest="document_type", default=None, help="default: the file name")
    run.add_argument("--url", default=os.environ.get("ANALYSE_URL", DEFAULT_URL))
    run.add_argument("--format", choices=["events", "ai-sdk"], default="events")
    run.add_argument("--token", default=None, help="bearer token (default $TOKEN, else minted)")
    run.add_argument("--json", action="store_true", help="print the final AnalysisResult")
    run.add_argument("--sub", default="dev-user", help="claims of a minted token")
    run.add_argument("--org", default="dev-org")
    run.add_argument("--role", default="analyst")

    args = parser.parse_args(argv)
    if args.command == "analyse":
        return _analyse(args)
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
    try:
        content = args.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror
        sys.stderr.write(f"error: {args.path}: {reason}\n")
        return 2
    payload = {"content": content, "document_type": document_type}
    sys.stdout.write(json.dumps(payload) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

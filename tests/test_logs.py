"""Log formatting: one line per record in text logs, no data-bearing exception messages."""

import logging
import sys

import pytest
from sqlalchemy.exc import IntegrityError

from app.logs import JsonFormatter, TextFormatter

FORGED = "org-a\nINFO    app.access: GET /v1/me 200 \x1b[31mred\x1b[0m\u2028"


def record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    entry = logging.LogRecord("app.test", logging.INFO, __file__, 1, message, None, exc_info)
    entry.fields = {"org": FORGED, "sub": "user\r\x00", "status": 200}
    return entry


def test_text_lines_escape_control_characters_in_every_field() -> None:
    line = TextFormatter().format(record(f"rejected {FORGED}"))
    assert "\n" not in line
    assert "\r" not in line
    assert "\x1b" not in line
    assert "\x00" not in line
    assert "\u2028" not in line
    assert line.count("\\x0a") == 2
    assert "\\x1b[31m" in line
    assert "sub=user\\x0d\\x00" in line
    assert "status=200" in line


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_tracebacks_keep_the_type_but_not_a_database_error_message(
    formatter: logging.Formatter,
) -> None:
    try:
        try:
            raise ValueError("an ordinary message")
        except ValueError as cause:
            raise IntegrityError(
                "INSERT ...", {"content": "SECRET-1"}, Exception("SECRET-2")
            ) from cause
    except IntegrityError:
        exc_info = sys.exc_info()
    entry = record("could not record", None)
    entry.exc_info = exc_info
    text = formatter.format(entry)
    assert "SECRET" not in text
    assert "sqlalchemy.exc.IntegrityError" in text
    assert "an ordinary message" in text
    assert "test_logs.py" in text

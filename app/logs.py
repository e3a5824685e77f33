"""Logging helpers: probes stay out of the access log at info level."""

import logging

PROBE_PATHS = ("/health", "/ready")


class _ProbeFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and record.levelno <= logging.INFO:
            path = str(args[2]).split("?", 1)[0]
            return path not in PROBE_PATHS
        return True


def quiet_probe_access_logs() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _ProbeFilter) for f in access.filters):
        access.addFilter(_ProbeFilter())

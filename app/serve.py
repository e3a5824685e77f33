"""`python -m app.serve APP [uvicorn options]`: refuse a bad configuration, then serve.

The settings are checked first, before any worker exists: one line on stderr and exit code 3
under any worker count (uvicorn's own supervisor exits 0 when a worker fails to start, so
`app.main`'s refusal would be lost). The arguments are uvicorn's own command line, parsed by
uvicorn's own command.

With `--workers N` (N > 1) this is a pre-fork supervisor, like gunicorn's `--preload`: it binds
the socket, imports the modules every worker needs once (FastAPI, SQLAlchemy, the routes, the
configured provider's model code), and then forks the workers, which share those imports
copy-on-write instead of each importing them again (uvicorn's supervisor spawns fresh
interpreters). Only modules, and read-only data such as the offline analyzer's models, are
loaded before the fork: no thread, event loop, connection, open file or client exists in the
supervisor; each worker builds its application and its chat model itself, as with one worker. The supervisor forwards SIGTERM and SIGINT to the workers (each drains its
streams and exits), restarts a worker that dies, and exits 3 when a worker cannot start.
"""

import contextlib
import gc
import importlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from app.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from uvicorn import Config

logger = logging.getLogger("uvicorn.error")

STARTUP_FAILURE = 3
SIGNALS = (signal.SIGTERM, signal.SIGINT)
PRELOAD_COMMON = ("app.main", "app.application")
# What `app.llm.build_chat_model` and a model's first request import for each provider (the
# SDK loads its chat resources and httpx2 its transport lazily); importing is fork-safe, building
# a client (threads, connections, TLS contexts) is not, so that stays in the worker.
OPENAI_CLIENT = (
    "langchain_openai",
    "openai",
    "openai.resources.chat.completions.completions",
    "httpx2",
    "httpcore2",
    "app.llm.pool",
    "app.llm.fast_openai",
    "app.llm.sse",
)
PRELOAD_PROVIDER: dict[str, tuple[str, ...]] = {
    "local": ("app.analyzer.learned_sets", "app.analyzer.stream"),
    "openai": OPENAI_CLIENT,
    "azure": (*OPENAI_CLIENT, "app.llm.entra"),
}


def _read_analyzer_models() -> None:
    from app.analyzer.learned_sets import load_models

    load_models()


# Read-only data every worker of a provider needs: read once here, shared copy-on-write, instead
# of each worker reading it at the same time on its start path (the offline analyzer's models:
# about 50 ms of CPU and 20 MiB per reading). Nothing stays open.
PRELOAD_DATA: dict[str, Callable[[], None]] = {"local": _read_analyzer_models}


def preload(settings: Settings) -> None:
    # The cyclic collector has nothing to free among freshly imported modules but walks their
    # objects again and again as they are made: off while importing (about a tenth of the
    # imports' CPU). Frozen afterwards, the imported objects are never scanned again, so no
    # worker's collection writes to (and copies) the pages it shares with the others.
    gc.disable()
    try:
        for name in (*PRELOAD_COMMON, *PRELOAD_PROVIDER[settings.llm_provider]):
            importlib.import_module(name)
        if read := PRELOAD_DATA.get(settings.llm_provider):
            read()
    finally:
        gc.freeze()
        gc.enable()
    if threading.active_count() != 1:
        raise RuntimeError("a preloaded module started a thread; it cannot be forked")


def _config(params: dict[str, Any]) -> "tuple[Config, int]":
    """uvicorn's `Config` from its command's parsed options, as `uvicorn.main.main` builds it."""
    from uvicorn import Config
    from uvicorn.config import LOGGING_CONFIG

    options = dict(params)
    application = options.pop("app")
    workers = options.pop("workers") or 1
    app_dir = options.pop("app_dir", None)
    if app_dir is not None:
        sys.path.insert(0, app_dir)
    if options.get("log_config") is None:
        options["log_config"] = LOGGING_CONFIG
    for name in ("reload_dirs", "reload_includes", "reload_excludes"):
        options[name] = options.get(name) or None
    options["headers"] = [tuple(h.split(":", 1)) for h in options.get("headers") or ()]
    return Config(application, **options), workers


def _worker(config: "Config", sock: socket.socket) -> None:
    """The forked worker: one uvicorn server on the inherited socket; never returns.

    It starts with SIGTERM and SIGINT blocked (see `supervise`) and uvicorn's defaults restored;
    uvicorn installs its own handlers when it starts serving."""
    from uvicorn import Server

    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
    server = Server(config)
    code = 1
    try:
        server.run(sockets=[sock])
        code = 0
    except SystemExit:
        pass
    except BaseException:
        logger.exception("the worker failed")
    if not server.started:
        # It failed before serving (the app or the protocol cannot be loaded, the lifespan
        # failed): uvicorn's code for it, which stops the supervisor.
        code = STARTUP_FAILURE
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def supervise(config: "Config", workers: int, settings: Settings) -> int:
    """Bind, preload, fork `workers` workers; serve until SIGTERM/SIGINT or a failed start."""
    sock = config.bind_socket()
    logger.info("Started parent process [%d]", os.getpid())
    preload(settings)
    children: set[int] = set()
    stopping: list[int] = []

    def fork() -> None:
        # Blocked across the fork: a signal must not run the child's copy of `forward`, nor be
        # forwarded to the children before this one is among them.
        signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        try:
            if stopping:
                return
            pid = os.fork()
            if pid == 0:
                _worker(config, sock)
            children.add(pid)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)

    def forward(signum: int, _frame: FrameType | None) -> None:
        # Only signal-safe work here; the main loop logs.
        stopping.append(signum)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    for sig in SIGNALS:
        signal.signal(sig, forward)
    for _ in range(workers):
        fork()
    code = 0
    announced = False
    while children:
        pid, status = os.wait()
        children.discard(pid)
        if stopping:
            if not announced:
                announced = True
                name = signal.Signals(stopping[0]).name
                logger.info("Received %s, exiting.", name)
            continue
        if os.waitstatus_to_exitcode(status) == STARTUP_FAILURE:
            # It failed before serving: every restart would fail the same way.
            logger.error("Child process [%d] failed to start, stopping the parent process.", pid)
            code = STARTUP_FAILURE
            announced = True
            forward(signal.SIGTERM, None)
            continue
        logger.info("Child process [%d] died", pid)
        fork()
    logger.info("Stopping parent process [%d]", os.getpid())
    sock.close()
    return code


def main(argv: list[str]) -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.stderr.write(f"refusing to start: {exc}\n")
        return 3
    from uvicorn.main import main as uvicorn_cli

    params = uvicorn_cli.make_context("uvicorn", list(argv)).params
    workers = params.get("workers") or 1
    if workers <= 1 or params.get("reload") or params.get("uds") or params.get("fd") is not None:
        uvicorn_cli.main(args=argv, prog_name="uvicorn")  # exits with uvicorn's own code
        return 0
    config, workers = _config(params)
    return supervise(config, workers, settings)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

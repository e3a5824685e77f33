"""The event log in Redis Streams, shared by every worker and replica (REDIS_URL).

One stream per analysis, `<prefix><id>`: each entry holds a batch of events (the producer writes
at most one batch per `BATCH_SECONDS`, the first event at once), and a last entry marks the end.
XADD trims to `MAX_BATCHES` (an analysis never comes near it); the stream expires `run_ttl`
seconds after its first write if its producer dies, and `ttl` seconds after the end otherwise.
Readers on the producer's own process follow its in-memory copy; others XREAD, blocking.

A reader elsewhere marks its presence in a sorted set, `<prefix><id>:readers` (member: the
reader, score: until when), refreshed every `PRESENCE_SECONDS`; the producer looks at it only
while no local reader is attached.

Imported only when REDIS_URL is set.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.analyses.replay import (
    Attachment,
    Entry,
    LiveLog,
    LogUnavailable,
    LogWriter,
    MemoryEventLog,
    dumps,
    loads,
)

logger = logging.getLogger("app.analyses")

BATCH_SECONDS = 0.05
MAX_BATCHES = 100_000
BLOCK_MS = 1000
READ_COUNT = 512
PRESENCE_SECONDS = 1.0
PRESENCE_TTL_MS = 3000


def connect(url: str) -> "Redis":
    # Bounded sockets: a Redis that goes away mid-stream is an error, never a hang. The read
    # timeout leaves room for the blocking XREAD.
    return Redis.from_url(
        url, socket_timeout=BLOCK_MS / 1000 + 4, socket_connect_timeout=3, health_check_interval=30
    )


class _RedisWriter:
    def __init__(self, log: "RedisEventLog", key: str, live: LiveLog, analysis_id: str) -> None:
        self._log = log
        self._key = key
        self._live = live
        self._analysis_id = analysis_id
        self._buffer: list[Entry] = []
        self._wake = asyncio.Event()
        self._ending = False
        self._first = True
        self._broken = False
        self._task = asyncio.create_task(self._run())

    def add(self, entry: Entry) -> None:
        self._live.add(entry)
        if not self._broken:
            self._buffer.append(entry)
            self._wake.set()

    async def end(self) -> None:
        self._live.finish()
        self._log.local.ended(self._analysis_id)
        self._ending = True
        self._wake.set()
        await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            # Read once: `end()` can come while a batch is being written, and the end marker
            # must still follow it.
            final = self._ending
            await self._flush(final=final)
            if final:
                return
            await asyncio.sleep(BATCH_SECONDS)

    async def _flush(self, *, final: bool) -> None:
        if self._broken:
            return
        batch, self._buffer = self._buffer, []
        log = self._log
        try:
            async with log.client.pipeline(transaction=False) as pipe:
                if batch:
                    pipe.xadd(self._key, {"e": dumps(batch)}, maxlen=MAX_BATCHES)
                if self._first:
                    pipe.expire(self._key, log.run_ttl)
                    self._first = False
                if final:
                    pipe.xadd(self._key, {"end": "1"}, maxlen=MAX_BATCHES)
                    pipe.expire(self._key, log.ttl)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # The analysis goes on for the readers on this process; readers elsewhere get an
            # error event from their own read.
            self._broken = True
            self._buffer = []
            logger.warning(
                "event log write failed; analysis %s is no longer resumable elsewhere: %s",
                self._analysis_id,
                type(exc).__name__,
            )


class _RedisAttachment:
    def __init__(self, log: "RedisEventLog", analysis_id: str) -> None:
        self._log = log
        self._key = log.key(analysis_id) + ":readers"
        self._member = uuid.uuid4().hex
        self._refresh: asyncio.Task[None] | None = None

    async def _mark(self) -> None:
        until = int(time.time() * 1000) + PRESENCE_TTL_MS
        async with self._log.client.pipeline(transaction=False) as pipe:
            pipe.zadd(self._key, {self._member: until})
            pipe.pexpire(self._key, PRESENCE_TTL_MS * 10)
            await pipe.execute()

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_SECONDS)
            with contextlib.suppress(RedisError, OSError):
                await self._mark()

    async def __aenter__(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._mark()
        self._refresh = asyncio.create_task(self._keep())

    async def __aexit__(self, *exc: object) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh
        with contextlib.suppress(RedisError, OSError):
            await cast(Awaitable[Any], self._log.client.zrem(self._key, self._member))


class RedisEventLog:
    def __init__(self, client: "Redis", *, prefix: str, ttl: float, run_ttl: float) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = max(1, round(ttl))
        self.run_ttl = max(1, round(run_ttl))
        self.local = MemoryEventLog(ttl)

    def key(self, analysis_id: str) -> str:
        return f"{self.prefix}{analysis_id}"

    def writer(self, analysis_id: str) -> LogWriter:
        live = self.local.open_local(analysis_id)
        return _RedisWriter(self, self.key(analysis_id), live, analysis_id)

    async def follow(self, analysis_id: str) -> AsyncIterator[Entry] | None:
        local = self.local.follow_local(analysis_id)
        if local is not None:
            return local
        key = self.key(analysis_id)
        try:
            found = await self.client.exists(key)
        except (RedisError, OSError) as exc:
            raise LogUnavailable(type(exc).__name__) from exc
        return self._read(key) if found else None

    def follow_local(self, analysis_id: str) -> AsyncIterator[Entry] | None:
        return self.local.follow_local(analysis_id)

    async def _read(self, key: str) -> AsyncIterator[Entry]:
        last: bytes | str = "0-0"
        while True:
            try:
                reply = await cast(
                    Awaitable[Any],
                    self.client.xread({key: last}, count=READ_COUNT, block=BLOCK_MS),
                )
                if not reply and not await self.client.exists(key):
                    raise LogUnavailable("the event log expired before its end")
            except (RedisError, OSError) as exc:
                raise LogUnavailable(type(exc).__name__) from exc
            for _stream, messages in reply or ():
                for message_id, fields in messages:
                    last = message_id
                    batch = fields.get(b"e")
                    if batch is None:
                        return
                    try:
                        entries = loads(batch)
                    except (ValueError, TypeError, KeyError, AssertionError) as exc:
                        # A corrupt or foreign entry under the key: the reader's client is told,
                        # never cut off. The class name only: the entry holds document text.
                        raise LogUnavailable(f"unreadable entry: {type(exc).__name__}") from None
                    for entry in entries:
                        yield entry

    def attach(self, analysis_id: str) -> Attachment:
        if analysis_id in self.local.live:
            return self.local.attach(analysis_id)
        return _RedisAttachment(self, analysis_id)

    async def has_readers(self, analysis_id: str) -> bool:
        if await self.local.has_readers(analysis_id):
            return True
        now = int(time.time() * 1000)
        key = self.key(analysis_id) + ":readers"
        try:
            count = await self.client.zcount(key, now, "+inf")
        except (RedisError, OSError):
            return False
        return count > 0

    async def aclose(self) -> None:
        await self.local.aclose()

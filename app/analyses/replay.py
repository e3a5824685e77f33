"""The event log of a resumable analysis: every event it streamed, for readers that come later.

An entry is one event of the `events` format, numbered as that format numbers it (0 is `start`),
and holds what every wire format needs, so a reader may ask for any format. The one analysis's
producer appends; any number of readers follow from the start (the encoders are stateful, so a
reader encodes every entry and sends those after the id it already has), then live to the end.

`MemoryEventLog` is the embedded default: one process, nothing to run. With several workers or
replicas a reconnect may land on another process, and the log must live in a shared engine:
`app.analyses.replay_redis.RedisEventLog` (REDIS_URL).
"""

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast, get_args

from app.schemas import AnalysisResult, ErrorInfo, Finding, StartEvent, StreamMetadata

logger = logging.getLogger("app.analyses")

Kind = Literal["start", "token", "finding", "section", "result", "error"]
KINDS = frozenset(get_args(Kind))


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    kind: Kind
    value: Any
    """StartEvent, str (token), (index, Finding), (index, total, state),
    (AnalysisResult, StreamMetadata) or ErrorInfo, by kind."""


def dump_entry(entry: Entry) -> list[object]:
    """A JSON-ready form of an entry, for a log that stores bytes."""
    kind, value = entry.kind, entry.value
    data: object
    if kind == "token" or kind == "section":
        data = value
    elif kind == "finding":
        index, finding = value
        data = [index, finding.model_dump(mode="json")]
    elif kind == "result":
        result, metadata = value
        data = [result.model_dump(mode="json"), metadata.model_dump(mode="json")]
    else:
        data = value.model_dump(mode="json")
    return [entry.id, kind, data]


def load_entry(raw: list[Any]) -> Entry:
    event_id, kind, data = raw
    assert isinstance(event_id, int)
    assert kind in KINDS
    value: Any
    if kind == "token":
        value = data
    elif kind == "section":
        index, total, state = data
        value = (index, total, state)
    elif kind == "finding":
        index, finding = data
        value = (index, Finding.model_validate(finding))
    elif kind == "result":
        result, metadata = data
        value = (AnalysisResult.model_validate(result), StreamMetadata.model_validate(metadata))
    elif kind == "start":
        value = StartEvent.model_validate(data)
    else:
        value = ErrorInfo.model_validate(data)
    return Entry(event_id, cast(Kind, kind), value)


def dumps(entries: list[Entry]) -> str:
    return json.dumps([dump_entry(entry) for entry in entries], separators=(",", ":"))


def loads(text: str | bytes) -> list[Entry]:
    return [load_entry(raw) for raw in json.loads(text)]


class LogUnavailable(Exception):
    """The shared log cannot be reached; a reader ends with a retryable error event."""


class LogWriter(Protocol):
    def add(self, entry: Entry) -> None:
        """Append one entry; never blocks the analysis (a shared log batches its writes)."""

    async def end(self) -> None:
        """The last entry is in: flush, mark the end, and let the log expire."""


class EventLog(Protocol):
    def writer(self, analysis_id: str) -> LogWriter: ...

    async def follow(self, analysis_id: str) -> AsyncIterator[Entry] | None:
        """Every entry from the first, then live ones until the end; None: no such log.

        A shared log's reader raises `LogUnavailable` when the log cannot be read."""

    def follow_local(self, analysis_id: str) -> AsyncIterator[Entry] | None:
        """The same, from this process's copy of an analysis produced here."""

    def attach(self, analysis_id: str) -> "Attachment":
        """Mark a reader as present while the returned context is open."""

    async def has_readers(self, analysis_id: str) -> bool: ...

    async def aclose(self) -> None: ...


class Attachment(Protocol):
    async def __aenter__(self) -> None: ...
    async def __aexit__(self, *exc: object) -> None: ...


@dataclass(slots=True)
class LiveLog:
    """One analysis's entries in this process, shared by its local readers."""

    entries: list[Entry] = field(default_factory=list)
    ended: bool = False
    readers: int = 0
    _more: asyncio.Future[None] | None = None

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)
        self._wake()

    def finish(self) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        more = self._more
        if more is not None:
            self._more = None
            if not more.done():
                more.set_result(None)

    async def follow(self) -> AsyncIterator[Entry]:
        position = 0
        while True:
            entries = self.entries
            while position < len(entries):
                yield entries[position]
                position += 1
            if self.ended:
                return
            if self._more is None:
                self._more = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._more)


class _LocalAttachment:
    def __init__(self, log: LiveLog | None) -> None:
        self._log = log

    async def __aenter__(self) -> None:
        if self._log is not None:
            self._log.readers += 1

    async def __aexit__(self, *exc: object) -> None:
        if self._log is not None:
            self._log.readers -= 1


class _MemoryWriter:
    def __init__(self, log: LiveLog, on_end: Callable[[], None]) -> None:
        self._log = log
        self._on_end = on_end

    def add(self, entry: Entry) -> None:
        self._log.add(entry)

    async def end(self) -> None:
        self._log.finish()
        self._on_end()


class MemoryEventLog:
    """The embedded log: this process's analyses, each kept `ttl` seconds after its end."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.live: dict[str, LiveLog] = {}
        self._expiry: dict[str, float] = {}

    def writer(self, analysis_id: str) -> LogWriter:
        log = self.open_local(analysis_id)
        return _MemoryWriter(log, lambda: self.ended(analysis_id))

    def open_local(self, analysis_id: str) -> LiveLog:
        self._expire()
        log = self.live[analysis_id] = LiveLog()
        return log

    def ended(self, analysis_id: str) -> None:
        self._expiry[analysis_id] = time.monotonic() + self.ttl
        # Not only on the next analysis: an idle process lets its last logs go too.
        asyncio.get_running_loop().call_later(self.ttl, self._expire)

    async def follow(self, analysis_id: str) -> AsyncIterator[Entry] | None:
        return self.follow_local(analysis_id)

    def follow_local(self, analysis_id: str) -> AsyncIterator[Entry] | None:
        self._expire()
        log = self.live.get(analysis_id)
        return log.follow() if log is not None else None

    def attach(self, analysis_id: str) -> Attachment:
        return _LocalAttachment(self.live.get(analysis_id))

    async def has_readers(self, analysis_id: str) -> bool:
        log = self.live.get(analysis_id)
        return log is not None and log.readers > 0

    def _expire(self) -> None:
        now = time.monotonic()
        for analysis_id in [a for a, at in self._expiry.items() if at <= now]:
            del self._expiry[analysis_id]
            self.live.pop(analysis_id, None)

    async def aclose(self) -> None:
        self.live.clear()
        self._expiry.clear()
